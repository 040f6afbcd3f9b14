//! The vocabulary every scheduler shares: resources, nodes, pods, decisions.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::devices::{
    accepts_model, default_choice, DeviceMisfit, DeviceSet, GpuDemand, Overcommit, MILLI_PER_GPU,
};
use crate::labels::{LabelSelector, Labels, NodeAffinity, PodAffinity, Taint, Toleration};

/// One dimension of [`Resources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Cpu,
    Memory,
    Gpu,
    EphemeralStorage,
    Pods,
}

impl Resource {
    pub const ALL: [Resource; 5] = [
        Resource::Cpu,
        Resource::Memory,
        Resource::Gpu,
        Resource::EphemeralStorage,
        Resource::Pods,
    ];

    /// The name Kubernetes uses in "Insufficient <name>" messages.
    pub fn k8s_name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
            Resource::Gpu => "nvidia.com/gpu",
            Resource::EphemeralStorage => "ephemeral-storage",
            Resource::Pods => "pods",
        }
    }
}

/// A resource vector. Every field is an integer in the unit its name gives; arithmetic
/// saturates instead of wrapping, so a bookkeeping bug shows up as a failed `fits`, never as a
/// huge free amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    /// GPU capacity or request in milli-GPUs: one device is 1000.
    pub gpu_milli: u64,
    pub ephemeral_storage_bytes: u64,
    /// Pod slots (Kubernetes `pods` allocatable; a pod requests one).
    pub pods: u64,
}

impl Resources {
    pub const ZERO: Resources = Resources {
        cpu_milli: 0,
        memory_bytes: 0,
        gpu_milli: 0,
        ephemeral_storage_bytes: 0,
        pods: 0,
    };

    pub fn get(&self, r: Resource) -> u64 {
        match r {
            Resource::Cpu => self.cpu_milli,
            Resource::Memory => self.memory_bytes,
            Resource::Gpu => self.gpu_milli,
            Resource::EphemeralStorage => self.ephemeral_storage_bytes,
            Resource::Pods => self.pods,
        }
    }

    pub fn saturating_add(&self, o: &Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.saturating_add(o.cpu_milli),
            memory_bytes: self.memory_bytes.saturating_add(o.memory_bytes),
            gpu_milli: self.gpu_milli.saturating_add(o.gpu_milli),
            ephemeral_storage_bytes: self
                .ephemeral_storage_bytes
                .saturating_add(o.ephemeral_storage_bytes),
            pods: self.pods.saturating_add(o.pods),
        }
    }

    pub fn saturating_sub(&self, o: &Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.saturating_sub(o.cpu_milli),
            memory_bytes: self.memory_bytes.saturating_sub(o.memory_bytes),
            gpu_milli: self.gpu_milli.saturating_sub(o.gpu_milli),
            ephemeral_storage_bytes: self
                .ephemeral_storage_bytes
                .saturating_sub(o.ephemeral_storage_bytes),
            pods: self.pods.saturating_sub(o.pods),
        }
    }

    /// True if `self` (a request) fits in `free` on every dimension.
    #[inline]
    pub fn fits(&self, free: &Resources) -> bool {
        self.cpu_milli <= free.cpu_milli
            && self.memory_bytes <= free.memory_bytes
            && self.gpu_milli <= free.gpu_milli
            && self.ephemeral_storage_bytes <= free.ephemeral_storage_bytes
            && self.pods <= free.pods
    }

    /// The dimensions on which `self` does not fit in `free`, in [`Resource::ALL`] order.
    pub fn shortfalls(&self, free: &Resources) -> impl Iterator<Item = Resource> + '_ {
        let free = *free;
        Resource::ALL
            .into_iter()
            .filter(move |r| self.get(*r) > free.get(*r))
    }
}

/// Index of a node in the view's node list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// kube-scheduler's default request for a container that sets no cpu request, used only for
/// scoring (pkg/scheduler/util/pod_resources.go, DefaultMilliCPURequest, v1.33).
pub const DEFAULT_MILLI_CPU_REQUEST: u64 = 100;
/// The same for memory: 200 MiB (DefaultMemoryRequest).
pub const DEFAULT_MEMORY_REQUEST: u64 = 200 * 1024 * 1024;

/// CPU and memory requests with kube-scheduler's non-zero defaults applied per container where
/// a container sets no request; what NodeResourcesFit scores with (never what it filters on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NonZeroRequests {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
}

/// Swarm node role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeRole {
    #[default]
    Worker,
    Manager,
}

impl NodeRole {
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Worker => "worker",
            NodeRole::Manager => "manager",
        }
    }
}

/// A host port a container asks for (Kubernetes `hostPort`, Swarm published port in host mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Empty means every address (`0.0.0.0`).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub port: u16,
}

impl HostPort {
    /// kube-scheduler NodePorts conflict rule: same protocol and port, and either side binds
    /// every address or both bind the same one.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let any = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (any(&self.ip) || any(&other.ip) || self.ip == other.ip)
    }
}

/// What a scheduler may know about one node.
///
/// `repr(C)` keeps the fields in this order: what every filter and score reads for every node
/// examined (resources, pod count, cordon, taints, labels) comes first, in adjacent cache
/// lines, so a walk over thousands of nodes fetches two or three lines per node instead of
/// lines scattered over the whole struct.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct NodeInfo {
    /// What pods may be given (capacity minus system reservations).
    pub allocatable: Resources,
    /// Sum of the requests of the pods bound to the node.
    pub requested: Resources,
    /// Sum of the bound pods' [`NonZeroRequests`].
    pub non_zero_requested: NonZeroRequests,
    /// Cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    /// Pods bound to the node, in bind order. Change only through [`NodeInfo::add_pod`],
    /// [`NodeInfo::add_pod_on`] and [`NodeInfo::remove_pod`], which keep the devices each
    /// holds and the indexes in step.
    pub pods: Vec<Arc<PodSpec>>,
    pub labels: Labels,
    pub name: String,
    /// Extended resources (e.g. `example.com/fpga`) by name: allocatable and requested.
    pub extended_allocatable: BTreeMap<String, u64>,
    pub extended_requested: BTreeMap<String, u64>,
    pub role: NodeRole,
    pub os: String,
    pub arch: String,
    /// Docker engine labels (Swarm `engine.labels.*`).
    pub engine_labels: Labels,
    /// Datacenter or cloud region the node is in.
    pub site: String,
    /// The node's GPUs: model and per-device use (see [`crate::devices`]).
    pub gpus: DeviceSet,
    /// The devices each of `pods` holds, in the same order.
    pod_devices: Vec<Vec<u8>>,
    /// Renewed on every bind, unbind and [`crate::Cluster::update_node`] (upstream NodeInfo's
    /// `Generation`), from a process-wide counter, so two nodes never share one and callers
    /// can cache per-node values across clusters. Code that writes the public fields directly
    /// must renew it with [`NodeInfo::touch`].
    pub generation: u64,
    /// The subset of `pods` with any pod (anti-)affinity (upstream `PodsWithAffinity`).
    pub affinity_pods: Vec<Arc<PodSpec>>,
    /// The subset with required anti-affinity (upstream `PodsWithRequiredAntiAffinity`).
    pub required_anti_affinity_pods: Vec<Arc<PodSpec>>,
    /// Bound pods per (namespace, label key, value): answers selectors without scanning pods
    /// (the spread and inter-pod affinity counts run over every node for every pod). Only
    /// looked up, never iterated, so the hash map cannot affect results.
    pub label_counts: LabelCounts,
    /// Bound pods per owner (service or job): Swarm's per-service task count. Looked up only.
    pub owner_counts: FxHashMap<String, u32>,
}

/// A generation no node has had: caches keyed by it can never confuse two nodes or two
/// states of one. Its value never reaches a result, only cache validity, so runs on
/// parallel threads stay deterministic.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// [`label_key`] → number of pods carrying that label in that namespace.
pub type LabelCounts = FxHashMap<String, u32>;

/// The [`LabelCounts`] key of one label in one namespace.
pub fn label_key(namespace: &str, key: &str, value: &str) -> String {
    let mut s = String::with_capacity(namespace.len() + key.len() + value.len() + 2);
    s.push_str(namespace);
    s.push('\0');
    s.push_str(key);
    s.push('\0');
    s.push_str(value);
    s
}

/// A label selector and namespace prepared once per scheduling cycle for counting on many
/// nodes with [`NodeInfo::count_prepared`].
#[derive(Clone, Debug)]
pub struct PreparedSelector<'a> {
    selector: Option<&'a LabelSelector>,
    namespace: &'a str,
    /// Pod (anti-)affinity terms read `{}` as "every pod"; spread constraints as "none".
    empty_matches_all: bool,
    /// Index keys of `matchLabels` when the selector has no expressions.
    keys: Vec<String>,
}

impl<'a> PreparedSelector<'a> {
    pub fn new(selector: Option<&'a LabelSelector>, namespace: &'a str) -> Self {
        let keys = match selector {
            Some(s) if s.match_expressions.is_empty() => s
                .match_labels
                .iter()
                .map(|(k, v)| label_key(namespace, k, v))
                .collect(),
            _ => Vec::new(),
        };
        PreparedSelector {
            selector,
            namespace,
            empty_matches_all: false,
            keys,
        }
    }

    /// The selector of a pod (anti-)affinity term: `{}` selects every pod in the namespace
    /// (metav1.LabelSelectorAsSelector), unlike topology spread's countPodsMatchSelector.
    pub fn for_affinity(selector: Option<&'a LabelSelector>, namespace: &'a str) -> Self {
        PreparedSelector {
            empty_matches_all: true,
            ..Self::new(selector, namespace)
        }
    }
}

impl NodeInfo {
    /// A ready, schedulable linux/amd64 worker with nothing on it.
    pub fn new(name: impl Into<String>, allocatable: Resources) -> Self {
        NodeInfo {
            name: name.into(),
            allocatable,
            requested: Resources::ZERO,
            non_zero_requested: NonZeroRequests::default(),
            extended_allocatable: BTreeMap::new(),
            extended_requested: BTreeMap::new(),
            labels: Labels::new(),
            taints: Vec::new(),
            unschedulable: false,
            role: NodeRole::Worker,
            os: "linux".into(),
            arch: "amd64".into(),
            engine_labels: Labels::new(),
            site: String::new(),
            gpus: DeviceSet::default(),
            pods: Vec::new(),
            pod_devices: Vec::new(),
            generation: next_generation(),
            affinity_pods: Vec::new(),
            required_anti_affinity_pods: Vec::new(),
            label_counts: LabelCounts::default(),
            owner_counts: FxHashMap::default(),
        }
    }

    /// Bound pods in `namespace` matched by a spread constraint's `selector` (`None` matches
    /// nothing, and so does an empty selector, as in upstream's countPodsMatchSelector).
    pub fn count_matching(&self, selector: Option<&LabelSelector>, namespace: &str) -> u32 {
        self.count_prepared(&PreparedSelector::new(selector, namespace))
    }

    /// [`NodeInfo::count_matching`] with the selector's index keys computed once.
    pub fn count_prepared(&self, p: &PreparedSelector) -> u32 {
        let Some(sel) = p.selector else { return 0 };
        if sel.is_empty() && !p.empty_matches_all {
            return 0;
        }
        let count = |k: &String| self.label_counts.get(k).copied().unwrap_or(0);
        if sel.match_expressions.is_empty() {
            if p.keys.len() == 1 {
                return count(&p.keys[0]);
            }
            // No pod can match if one of the labels is on none.
            if p.keys.iter().any(|k| count(k) == 0) {
                return 0;
            }
        }
        self.pods
            .iter()
            .filter(|x| x.namespace == p.namespace && sel.matches(&x.labels))
            .count() as u32
    }

    /// Bound pods owned by `owner`.
    pub fn owned_by(&self, owner: &str) -> u64 {
        u64::from(self.owner_counts.get(owner).copied().unwrap_or(0))
    }

    /// Unrequested allocatable resources.
    #[inline]
    pub fn free(&self) -> Resources {
        self.allocatable.saturating_sub(&self.requested)
    }

    /// Marks the node changed (after writing its public fields directly).
    pub fn touch(&mut self) {
        self.generation = next_generation();
    }

    /// GPU devices on the node: `allocatable.gpu_milli / 1000`.
    #[inline]
    pub fn gpu_count(&self) -> usize {
        // Device indices are `u8`.
        (self.allocatable.gpu_milli / u64::from(MILLI_PER_GPU)).min(256) as usize
    }

    /// Free milli-units of each device, in device order.
    pub fn gpu_free(&self) -> Vec<u32> {
        let mut out = Vec::new();
        self.gpu_free_into(&mut out);
        out
    }

    /// [`NodeInfo::gpu_free`] into a buffer the caller reuses (schedulers call it for every
    /// node of every decision).
    pub fn gpu_free_into(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend((0..self.gpu_count()).map(|d| MILLI_PER_GPU.saturating_sub(self.gpus.used(d))));
    }

    /// The devices this very pod (the same `Arc`) holds here; empty if it is not bound here.
    pub fn devices_of_pod(&self, pod: &Arc<PodSpec>) -> &[u8] {
        self.pods
            .iter()
            .position(|p| Arc::ptr_eq(p, pod))
            .and_then(|i| self.pod_devices.get(i))
            .map_or(&[][..], |d| d.as_slice())
    }

    /// Whether the node can meet `pod`'s GPU demand, and with which devices by default (the
    /// tightest device for a share, the first free ones for whole devices). A pod asking for
    /// no GPU fits with no devices.
    pub fn fit_devices(&self, pod: &PodSpec) -> Result<Vec<u8>, DeviceMisfit> {
        if let Some(m) = self.device_misfit(pod) {
            return Err(m);
        }
        let demand = pod.gpu_demand().map_err(DeviceMisfit::Invalid)?;
        default_choice(demand, &self.gpu_free())
    }

    /// Why the node cannot meet `pod`'s GPU demand, if it cannot. Allocates nothing: every
    /// scheduler runs it on every node for every pod.
    pub fn device_misfit(&self, pod: &PodSpec) -> Option<DeviceMisfit> {
        match pod.gpu_demand() {
            Ok(demand) => self.demand_misfit(demand, &pod.gpu_models),
            Err(e) => Some(DeviceMisfit::Invalid(e)),
        }
    }

    /// [`NodeInfo::device_misfit`] for a demand the caller has already read off the pod
    /// (once per decision instead of once per node).
    pub fn demand_misfit(&self, demand: GpuDemand, models: &[String]) -> Option<DeviceMisfit> {
        if demand == GpuDemand::None {
            return None;
        }
        let count = self.gpu_count();
        if count == 0 {
            return Some(DeviceMisfit::NoGpus);
        }
        if !accepts_model(models, self.gpus.model.as_deref()) {
            return Some(DeviceMisfit::Model);
        }
        let (whole, largest) = self.gpus.whole_and_largest(count);
        match demand {
            GpuDemand::Whole(k) => {
                (whole < k as usize).then_some(DeviceMisfit::WholeDevices { free: whole })
            }
            GpuDemand::Shared(m) => (largest < m).then_some(DeviceMisfit::SharedDevice { largest }),
            GpuDemand::None => None,
        }
    }

    /// Whether `pod` fits here: every requested resource in what is free, and its GPU demand
    /// on the devices. Cordons, taints and constraints are the schedulers' business.
    #[inline]
    pub fn fits(&self, pod: &PodSpec) -> bool {
        pod.requests.fits(&self.free())
            && (pod.requests.gpu_milli == 0 || self.device_misfit(pod).is_none())
    }

    /// Checks that `pod` may take `devices` here: its requests fit, the devices are distinct,
    /// exist, have the pod's per-device share free (whole devices: entirely free) and are of a
    /// model the pod accepts.
    pub fn check_bind(&self, pod: &PodSpec, devices: &[u8]) -> Result<(), Overcommit> {
        let short: Vec<&str> = pod
            .requests
            .shortfalls(&self.free())
            .map(|r| r.k8s_name())
            .collect();
        if !short.is_empty() {
            return Err(Overcommit(format!(
                "{} does not fit on {} ({} short)",
                pod.key(),
                self.name,
                short.join(", ")
            )));
        }
        let demand = pod
            .gpu_demand()
            .map_err(|e| Overcommit(format!("{}: {e}", pod.key())))?;
        let mut distinct = devices.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != devices.len() || devices.len() != demand.count() as usize {
            return Err(Overcommit(format!(
                "{} needs {} distinct device(s) on {}, got {devices:?}",
                pod.key(),
                demand.count(),
                self.name
            )));
        }
        if !devices.is_empty() && !accepts_model(&pod.gpu_models, self.gpus.model.as_deref()) {
            return Err(Overcommit(format!(
                "{} does not accept the GPU model of {}",
                pod.key(),
                self.name
            )));
        }
        let milli = demand.milli_per_gpu();
        let count = self.gpu_count();
        for &d in devices {
            if d as usize >= count {
                return Err(Overcommit(format!("{} has no device {d}", self.name)));
            }
            let free = MILLI_PER_GPU - self.gpus.used(d as usize).min(MILLI_PER_GPU);
            if free < milli {
                return Err(Overcommit(format!(
                    "device {d} of {} has {free} milli free, {} asks {milli}",
                    self.name,
                    pod.key()
                )));
            }
        }
        Ok(())
    }

    /// Records `pod` as running here on the devices the default choice gives it (none if its
    /// demand does not fit: a recorded cluster state may be overcommitted, and is kept as it
    /// is). For committing a scheduler's decision use [`crate::Cluster::bind`], which checks.
    pub fn add_pod(&mut self, pod: Arc<PodSpec>) {
        let devices = self.fit_devices(&pod).unwrap_or_default();
        self.add_pod_on(pod, devices);
    }

    /// Binds `pod` here on `devices`: its requests are added and it joins [`NodeInfo::pods`].
    /// Unchecked; see [`NodeInfo::check_bind`].
    pub fn add_pod_on(&mut self, pod: Arc<PodSpec>, devices: Vec<u8>) {
        if !devices.is_empty() {
            let milli = pod.gpu_demand().map_or(0, GpuDemand::milli_per_gpu);
            self.gpus.take(&devices, milli);
        }
        self.generation = next_generation();
        self.requested = self.requested.saturating_add(&pod.requests);
        self.non_zero_requested.cpu_milli += pod.non_zero.cpu_milli;
        self.non_zero_requested.memory_bytes += pod.non_zero.memory_bytes;
        for (k, v) in &pod.extended_requests {
            *self.extended_requested.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &pod.labels {
            *self
                .label_counts
                .entry(label_key(&pod.namespace, k, v))
                .or_insert(0) += 1;
        }
        *self.owner_counts.entry(pod.owner.clone()).or_insert(0) += 1;
        if !pod.pod_affinity.is_empty() || !pod.pod_anti_affinity.is_empty() {
            self.affinity_pods.push(pod.clone());
        }
        if !pod.pod_anti_affinity.required.is_empty() {
            self.required_anti_affinity_pods.push(pod.clone());
        }
        self.pods.push(pod);
        self.pod_devices.push(devices);
    }

    /// Unbinds the pod `namespace/name` (the first bound with that key), returning it if it
    /// was here.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> Option<Arc<PodSpec>> {
        let i = self
            .pods
            .iter()
            .position(|p| p.name == name && p.namespace == namespace)?;
        self.remove_at(i)
    }

    /// Unbinds this very pod (the same `Arc`): exact even when two pods share a name.
    pub fn remove_pod_arc(&mut self, pod: &Arc<PodSpec>) -> Option<Arc<PodSpec>> {
        let i = self.pods.iter().position(|p| Arc::ptr_eq(p, pod))?;
        self.remove_at(i)
    }

    fn remove_at(&mut self, i: usize) -> Option<Arc<PodSpec>> {
        let pod = self.pods.remove(i);
        // `pods` is public for reading; a pod pushed there directly holds no devices.
        let devices = if i < self.pod_devices.len() {
            self.pod_devices.remove(i)
        } else {
            Vec::new()
        };
        if !devices.is_empty() {
            let milli = pod.gpu_demand().map_or(0, GpuDemand::milli_per_gpu);
            self.gpus.give_back(&devices, milli);
        }
        self.generation = next_generation();
        self.requested = self.requested.saturating_sub(&pod.requests);
        let nz = &mut self.non_zero_requested;
        nz.cpu_milli = nz.cpu_milli.saturating_sub(pod.non_zero.cpu_milli);
        nz.memory_bytes = nz.memory_bytes.saturating_sub(pod.non_zero.memory_bytes);
        for (k, v) in &pod.extended_requests {
            if let Some(r) = self.extended_requested.get_mut(k) {
                *r = r.saturating_sub(*v);
            }
        }
        for (k, v) in &pod.labels {
            if let Some(c) = self.label_counts.get_mut(&label_key(&pod.namespace, k, v)) {
                *c = c.saturating_sub(1);
            }
        }
        if let Some(c) = self.owner_counts.get_mut(&pod.owner) {
            *c = c.saturating_sub(1);
        }
        let same = |p: &Arc<PodSpec>| Arc::ptr_eq(p, &pod);
        self.affinity_pods.retain(|p| !same(p));
        self.required_anti_affinity_pods.retain(|p| !same(p));
        Some(pod)
    }
}

/// `whenUnsatisfiable` of a topology spread constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy` of a topology spread constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InclusionPolicy {
    Honor,
    Ignore,
}

/// A `topologySpreadConstraints` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologySpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// `None` selects no pod.
    pub selector: Option<LabelSelector>,
    /// Default 1.
    pub min_domains: i32,
    /// Default Honor.
    pub node_affinity_policy: InclusionPolicy,
    /// Default Ignore.
    pub node_taints_policy: InclusionPolicy,
}

/// Swarm placement of a service's task (swarmkit `api.Placement`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmPlacement {
    pub constraints: Vec<crate::swarm::Constraint>,
    /// `spread=<descriptor>` preferences, outermost first (e.g. `node.labels.zone`).
    pub preferences: Vec<String>,
    /// `maxReplicas` per node; 0 means unlimited.
    pub max_replicas: u64,
}

/// What a scheduler may know about the pod it places.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    /// Includes one pod slot (`pods = 1`) for ordinary pods.
    pub requests: Resources,
    /// Requests used for scoring; see [`NonZeroRequests`].
    pub non_zero: NonZeroRequests,
    pub extended_requests: BTreeMap<String, u64>,
    pub labels: Labels,
    /// The service or job that owns the pod.
    pub owner: String,
    pub priority: i32,
    /// `preemptionPolicy: Never`.
    pub never_preempt: bool,
    /// `spec.nodeName` of a pod that asks for one node.
    pub node_name: Option<String>,
    pub node_selector: Labels,
    pub node_affinity: NodeAffinity,
    pub pod_affinity: PodAffinity,
    pub pod_anti_affinity: PodAffinity,
    pub tolerations: Vec<Toleration>,
    pub topology_spread: Vec<TopologySpreadConstraint>,
    pub host_ports: Vec<HostPort>,
    pub swarm: SwarmPlacement,
    /// Marathon constraints of the pod's app (its `owner`).
    pub marathon: crate::mesos::placement::AppPlacement,
    /// GPU models the pod accepts (empty: any); see [`crate::devices::accepts_model`].
    pub gpu_models: Vec<String>,
}

impl PodSpec {
    /// A pod in namespace `default` with `requests` (plus one pod slot), no constraints, and
    /// scoring requests equal to its requests (a single container that sets both).
    pub fn new(name: impl Into<String>, requests: Resources) -> Self {
        let requests = Resources {
            pods: 1,
            ..requests
        };
        PodSpec {
            name: name.into(),
            namespace: "default".into(),
            requests,
            non_zero: NonZeroRequests {
                cpu_milli: requests.cpu_milli,
                memory_bytes: requests.memory_bytes,
            },
            extended_requests: BTreeMap::new(),
            labels: Labels::new(),
            owner: String::new(),
            priority: 0,
            never_preempt: false,
            node_name: None,
            node_selector: Labels::new(),
            node_affinity: NodeAffinity::default(),
            pod_affinity: PodAffinity::default(),
            pod_anti_affinity: PodAffinity::default(),
            tolerations: Vec::new(),
            topology_spread: Vec::new(),
            host_ports: Vec::new(),
            swarm: SwarmPlacement::default(),
            marathon: Default::default(),
            gpu_models: Vec::new(),
        }
    }

    /// The GPU demand `requests.gpu_milli` stands for (see [`GpuDemand::from_milli`]).
    pub fn gpu_demand(&self) -> Result<GpuDemand, crate::devices::DemandError> {
        GpuDemand::from_milli(self.requests.gpu_milli)
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The read-only cluster state a scheduler decides on. The simulator and the live controller
/// both implement it.
pub trait ClusterView {
    fn nodes(&self) -> &[NodeInfo];

    /// Cluster-wide indexes, when the view maintains them ([`crate::Cluster`] does); schedulers
    /// fall back to walking the nodes without one.
    fn index(&self) -> Option<&crate::cluster::ClusterIndex> {
        None
    }
}

impl ClusterView for Vec<NodeInfo> {
    fn nodes(&self) -> &[NodeInfo] {
        self
    }
}

/// Why a pod fits on no node, aggregated over nodes the way kube-scheduler reports it: each
/// node contributes each of its reasons once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unschedulable {
    pub nodes: usize,
    /// Reason → number of nodes that gave it.
    pub reasons: BTreeMap<String, usize>,
    /// The orchestrator's own message when it is not kube-scheduler's shape (Swarm's
    /// "no suitable node (...)"); shown instead of the FitError text.
    pub message: Option<String>,
}

impl Unschedulable {
    pub fn add(&mut self, reason: &str) {
        match self.reasons.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                self.reasons.insert(reason.to_string(), 1);
            }
        }
    }
}

impl fmt::Display for Unschedulable {
    /// framework/types.go `FitError.Error`: `"0/N nodes are available: "` then the
    /// `"<count> <reason>"` strings sorted as strings, joined by `", "`, then `"."`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.message {
            return f.write_str(m);
        }
        let mut parts: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        parts.sort();
        write!(f, "0/{} nodes are available", self.nodes)?;
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        write!(f, ".")
    }
}

/// A scheduler's answer for one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Bind to `node`, on `devices` (GPU indices on that node; empty for a pod without GPUs).
    Bind {
        node: NodeId,
        devices: Vec<u8>,
    },
    /// Evict `victims` (pod keys `namespace/name`, all on `node`), then the pod fits there.
    Preempt {
        node: NodeId,
        victims: Vec<String>,
        why: Unschedulable,
    },
    Unschedulable(Unschedulable),
}

impl Decision {
    /// A bind to `node` with the default device choice there (see
    /// [`NodeInfo::fit_devices`]); for schedulers without a device policy of their own.
    pub fn bind_default(node: NodeId, pod: &PodSpec, view: &dyn ClusterView) -> Decision {
        let devices = view.nodes()[node.0].fit_devices(pod).unwrap_or_default();
        Decision::Bind { node, devices }
    }

    /// The node a bind or preemption targets.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Decision::Bind { node, .. } | Decision::Preempt { node, .. } => Some(*node),
            Decision::Unschedulable(_) => None,
        }
    }
}

/// Deterministic count of the work a decision took; the caller's cost model turns it into time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkCount {
    /// Nodes on which filters ran.
    pub nodes_filtered: u64,
    /// Nodes that were scored.
    pub nodes_scored: u64,
    /// Individual filter or score plugin evaluations.
    pub plugin_evals: u64,
}

/// A decision and the work it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    pub work: WorkCount,
}

/// A placement algorithm.
pub trait Scheduler {
    /// The name it is selected by.
    fn name(&self) -> &'static str;
    /// Chooses a node for `pod` in `view`. Must not bind anything itself: the caller commits.
    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(cpu: u64, mem: u64) -> Resources {
        Resources {
            cpu_milli: cpu,
            memory_bytes: mem,
            pods: 1,
            ..Resources::ZERO
        }
    }

    #[test]
    fn fits_checks_every_dimension() {
        let free = res(1000, 1 << 30);
        assert!(res(1000, 1 << 30).fits(&free));
        assert!(!res(1001, 1).fits(&free));
        assert!(!res(1, (1 << 30) + 1).fits(&free));
        let gpu = Resources {
            gpu_milli: 1,
            ..res(1, 1)
        };
        assert!(!gpu.fits(&free));
        assert_eq!(
            res(2000, 1).shortfalls(&free).collect::<Vec<_>>(),
            vec![Resource::Cpu]
        );
    }

    proptest::proptest! {
        /// The label index answers exactly what a scan over the node's pods answers, after
        /// any sequence of binds and unbinds.
        #[test]
        fn label_index_agrees_with_a_scan(
            pods in proptest::collection::vec((0u8..2, 0u8..3, 0u8..3), 0..30),
            removals in proptest::collection::vec(0usize..30, 0..10),
            sel in proptest::collection::vec((0u8..3, 0u8..3), 0..3),
            ns in 0u8..2,
        ) {
            let mut node = NodeInfo::new("n", res(1, 1));
            for (i, (pns, a, b)) in pods.iter().enumerate() {
                let mut p = PodSpec::new(format!("p{i}"), res(0, 0));
                p.namespace = format!("ns{pns}");
                p.labels.insert("app".into(), format!("a{a}"));
                p.labels.insert(format!("k{b}"), "v".into());
                p.owner = format!("o{a}");
                node.add_pod(Arc::new(p));
            }
            for r in removals {
                if r < pods.len() {
                    node.remove_pod(&format!("ns{}", pods[r].0), &format!("p{r}"));
                }
            }
            let selector = LabelSelector {
                match_labels: sel.iter().map(|(k, v)| {
                    if *k == 0 { ("app".to_string(), format!("a{v}")) } else { (format!("k{v}"), "v".to_string()) }
                }).collect(),
                match_expressions: vec![],
            };
            let ns = format!("ns{ns}");
            let scan = if selector.is_empty() { 0 } else {
                node.pods.iter().filter(|p| p.namespace == ns && selector.matches(&p.labels)).count() as u32
            };
            proptest::prop_assert_eq!(node.count_matching(Some(&selector), &ns), scan);
            for o in ["o0", "o1", "o2"] {
                let owned = node.pods.iter().filter(|p| p.owner == o).count() as u64;
                proptest::prop_assert_eq!(node.owned_by(o), owned);
            }
        }
    }

    #[test]
    fn subtraction_saturates() {
        assert_eq!(res(1, 1).saturating_sub(&res(5, 5)).cpu_milli, 0);
    }

    #[test]
    fn unschedulable_message_matches_kube_scheduler_shape() {
        let mut u = Unschedulable {
            nodes: 3,
            ..Default::default()
        };
        u.reasons.insert("Insufficient cpu".into(), 2);
        u.reasons.insert("node(s) were unschedulable".into(), 1);
        u.reasons.insert("Insufficient memory".into(), 1);
        // Upstream sorts the "<count> <reason>" strings as strings.
        assert_eq!(
            u.to_string(),
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, \
             2 Insufficient cpu."
        );
    }
}
