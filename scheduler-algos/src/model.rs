//! The vocabulary every scheduler shares: resources, nodes, pods, decisions.

use std::collections::BTreeMap;
use std::fmt;

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

/// What a scheduler may know about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    /// What pods may be given (capacity minus system reservations).
    pub allocatable: Resources,
    /// Sum of the requests of the pods bound to the node.
    pub requested: Resources,
    pub labels: BTreeMap<String, String>,
    /// Datacenter or cloud region the node is in.
    pub site: String,
    /// False if the node is cordoned or not ready: no new pods.
    pub schedulable: bool,
}

impl NodeInfo {
    /// Unrequested allocatable resources.
    #[inline]
    pub fn free(&self) -> Resources {
        self.allocatable.saturating_sub(&self.requested)
    }
}

/// What a scheduler may know about the pod it places.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSpec {
    pub name: String,
    /// Includes one pod slot (`pods = 1`) for ordinary pods.
    pub requests: Resources,
    pub labels: BTreeMap<String, String>,
    /// The service or job that owns the pod.
    pub owner: String,
    pub priority: i32,
}

/// The read-only cluster state a scheduler decides on. The simulator and the live controller
/// both implement it.
pub trait ClusterView {
    fn nodes(&self) -> &[NodeInfo];
}

impl ClusterView for [NodeInfo] {
    fn nodes(&self) -> &[NodeInfo] {
        self
    }
}

impl ClusterView for Vec<NodeInfo> {
    fn nodes(&self) -> &[NodeInfo] {
        self
    }
}

/// Why a pod fits on no node, aggregated over nodes the way kube-scheduler reports it
/// ("0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unschedulable {
    pub nodes: usize,
    /// Reason → number of nodes that gave it; sorted by reason for stable output.
    pub reasons: BTreeMap<String, usize>,
}

impl fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available", self.nodes)?;
        let mut sep = ": ";
        for (reason, n) in &self.reasons {
            write!(f, "{sep}{n} {reason}")?;
            sep = ", ";
        }
        write!(f, ".")
    }
}

/// A scheduler's answer for one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Bind(NodeId),
    Unschedulable(Unschedulable),
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
        assert_eq!(
            u.to_string(),
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) were unschedulable."
        );
    }
}
