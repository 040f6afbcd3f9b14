//! GPUs as devices, and the placement policies of the GPU-sharing fragmentation study.
//!
//! A node has N GPUs of one model, each of [`MILLI_PER_GPU`] milli-GPU. A task asks for no GPU,
//! a fraction of one device (shared with other tasks on that device), or k whole devices, and
//! may accept only some GPU models. Placing a task picks the node *and* the devices.
//!
//! The six policies of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads
//! with Fragmentation Gradient Descent" (USENIX ATC 2023) live in [`policy`]; the
//! fragmentation measure FGD descends lives in [`frag`]. Where the paper and the authors'
//! simulator (hkust-adsl/kubernetes-scheduler-simulator) differ, this follows the simulator; each
//! such place says so.

pub mod frag;
pub mod policy;

use std::fmt;

/// Milli-GPU in one device.
pub const MILLI_PER_GPU: u32 = 1000;

/// Most devices one node may have (the frag memo packs a node's devices into a fixed array).
pub const MAX_DEVICES: usize = 16;

/// An interned GPU model name (see [`Models`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(pub u16);

/// The GPU model names of one cluster, interned in first-seen order.
#[derive(Clone, Debug, Default)]
pub struct Models {
    names: Vec<String>,
}

impl Models {
    /// The id of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> ModelId {
        if let Some(id) = self.get(name) {
            return id;
        }
        self.names.push(name.to_string());
        ModelId((self.names.len() - 1) as u16)
    }

    /// The id of `name` if known.
    pub fn get(&self, name: &str) -> Option<ModelId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| ModelId(i as u16))
    }

    /// The name of `id`.
    pub fn name(&self, id: ModelId) -> &str {
        &self.names[id.0 as usize]
    }

    /// Every known name, in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// What a task asks of GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GpuDemand {
    /// No GPU.
    None,
    /// This many milli-GPU (1..=999) of one device, shared with other tasks.
    Shared(u32),
    /// This many whole devices (≥ 1).
    Whole(u32),
}

/// A GPU request that is neither none, a fraction of one device, nor whole devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemandError(pub String);

impl fmt::Display for DemandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemandError {}

impl GpuDemand {
    /// The demand of `count` devices at `milli_per_gpu` each, as traces write it.
    pub fn new(count: u32, milli_per_gpu: u32) -> Result<Self, DemandError> {
        match (count, milli_per_gpu) {
            (0, _) => Ok(GpuDemand::None),
            (_, 0) => Err(DemandError(format!(
                "{count} GPU(s) at 0 milli-GPU each: a GPU request needs 1..=1000 milli-GPU per device"
            ))),
            (_, m) if m > MILLI_PER_GPU => Err(DemandError(format!(
                "{m} milli-GPU per device is more than one device ({MILLI_PER_GPU})"
            ))),
            (1, m) if m < MILLI_PER_GPU => Ok(GpuDemand::Shared(m)),
            (k, MILLI_PER_GPU) => Ok(GpuDemand::Whole(k)),
            (k, m) => Err(DemandError(format!(
                "{k} GPUs at {m} milli-GPU each: only one device can be shared; \
                 multi-GPU requests take whole devices (1000)"
            ))),
        }
    }

    /// Devices touched.
    pub fn count(self) -> u32 {
        match self {
            GpuDemand::None => 0,
            GpuDemand::Shared(_) => 1,
            GpuDemand::Whole(k) => k,
        }
    }

    /// Milli-GPU taken on each device touched.
    pub fn milli_per_gpu(self) -> u32 {
        match self {
            GpuDemand::None => 0,
            GpuDemand::Shared(m) => m,
            GpuDemand::Whole(_) => MILLI_PER_GPU,
        }
    }

    /// Milli-GPU in all.
    pub fn total_milli(self) -> u64 {
        u64::from(self.count()) * u64::from(self.milli_per_gpu())
    }

    /// The study's task class: `Shared` tasks form one class, whole-GPU tasks one per count.
    fn class(self) -> Option<u32> {
        match self {
            GpuDemand::None => None,
            GpuDemand::Shared(_) => Some(0),
            GpuDemand::Whole(k) => Some(k),
        }
    }
}

/// A task to place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GpuTask {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub gpu: GpuDemand,
    /// Acceptable GPU models; empty means any.
    pub models: Vec<ModelId>,
}

impl GpuTask {
    /// Whether a node with GPUs of `model` (or none) is acceptable to this task.
    pub fn accepts(&self, model: Option<ModelId>) -> bool {
        accepts(&self.models, model)
    }
}

/// The study's GPU-type rule: no constraint accepts anything; a constraint never accepts a
/// node without GPUs.
fn accepts(models: &[ModelId], model: Option<ModelId>) -> bool {
    if models.is_empty() {
        return true;
    }
    model.is_some_and(|m| models.contains(&m))
}

/// A node's fixed description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuNode {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    /// The model of all its GPUs; `None` if it has none.
    pub model: Option<ModelId>,
    pub gpus: u32,
}

/// A node's free resources and what runs on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    pub cpu_free: u64,
    pub memory_free: u64,
    /// Free milli-GPU of each device, in device order.
    pub free: Vec<u32>,
    /// Tasks on the node per task class (see [`GpuDemand`]): `(class, count)`, sorted.
    classes: Vec<(u32, u32)>,
    /// Bumped on every change, so callers can cache per-node values.
    pub version: u64,
}

impl NodeState {
    /// Free milli-GPU over all devices.
    pub fn free_milli(&self) -> u64 {
        self.free.iter().map(|&f| u64::from(f)).sum()
    }

    /// Devices with nothing on them.
    pub fn fully_free(&self) -> usize {
        self.free.iter().filter(|&&f| f == MILLI_PER_GPU).count()
    }

    /// Distinct task classes with a GPU on this node.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// GPU tasks of `class` on this node.
    pub fn tasks_of_class(&self, class: u32) -> u32 {
        self.classes
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(0, |(_, n)| *n)
    }
}

/// Where a task goes: a node and, for GPU tasks, the devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuPlacement {
    pub node: usize,
    pub devices: Vec<u8>,
}

/// Why a task cannot go on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misfit {
    Cpu {
        free: u64,
    },
    Memory {
        free: u64,
    },
    NoGpus,
    Model,
    /// Fewer than the requested whole devices are free.
    WholeDevices {
        free: usize,
    },
    /// No device has the shared amount free.
    SharedDevice {
        largest: u32,
    },
}

impl Misfit {
    /// The reason without node-specific amounts, for counting nodes per reason.
    pub fn kind(&self) -> &'static str {
        match self {
            Misfit::Cpu { .. } => "Insufficient cpu",
            Misfit::Memory { .. } => "Insufficient memory",
            Misfit::NoGpus => "node has no GPUs",
            Misfit::Model => "GPU model not accepted",
            Misfit::WholeDevices { .. } => "not enough whole GPUs free",
            Misfit::SharedDevice { .. } => "no GPU with enough free",
        }
    }
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misfit::Cpu { free } => write!(f, "Insufficient cpu ({free}m free)"),
            Misfit::Memory { free } => write!(f, "Insufficient memory ({free} bytes free)"),
            Misfit::NoGpus => f.write_str("node has no GPUs"),
            Misfit::Model => f.write_str("GPU model not accepted by the task"),
            Misfit::WholeDevices { free } => write!(f, "only {free} whole GPU(s) free"),
            Misfit::SharedDevice { largest } => {
                write!(f, "no GPU has enough free (largest free {largest} milli)")
            }
        }
    }
}

/// A placement the cluster refuses because it would overcommit: a bug in the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overcommit(pub String);

impl fmt::Display for Overcommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "placement would overcommit: {}", self.0)
    }
}

impl std::error::Error for Overcommit {}

/// Nodes with GPU devices and what is placed on them.
#[derive(Clone, Debug)]
pub struct GpuCluster {
    pub models: Models,
    nodes: Vec<GpuNode>,
    state: Vec<NodeState>,
    /// Milli-GPU placed, kept by `place` (the study reads it after every task).
    used_milli: u64,
}

impl GpuCluster {
    /// A cluster of empty nodes. Nodes with more than [`MAX_DEVICES`] GPUs are refused.
    pub fn new(models: Models, nodes: Vec<GpuNode>) -> Result<Self, Overcommit> {
        if let Some(n) = nodes.iter().find(|n| n.gpus as usize > MAX_DEVICES) {
            return Err(Overcommit(format!(
                "node {} has {} GPUs; at most {MAX_DEVICES} per node are supported",
                n.name, n.gpus
            )));
        }
        let state = nodes
            .iter()
            .map(|n| NodeState {
                cpu_free: n.cpu_milli,
                memory_free: n.memory_bytes,
                free: vec![MILLI_PER_GPU; n.gpus as usize],
                classes: Vec::new(),
                version: 0,
            })
            .collect();
        Ok(GpuCluster {
            models,
            nodes,
            state,
            used_milli: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, i: usize) -> &GpuNode {
        &self.nodes[i]
    }

    pub fn state(&self, i: usize) -> &NodeState {
        &self.state[i]
    }

    /// Devices in the whole cluster.
    pub fn total_gpus(&self) -> u64 {
        self.nodes.iter().map(|n| u64::from(n.gpus)).sum()
    }

    /// Milli-GPU placed in the whole cluster.
    pub fn used_gpu_milli(&self) -> u64 {
        self.used_milli
    }

    /// The largest CPU and GPU (milli) of any node: the study's normalising "max spec".
    pub fn max_spec(&self) -> (u64, u64) {
        let cpu = self.nodes.iter().map(|n| n.cpu_milli).max().unwrap_or(0);
        let gpu = self.nodes.iter().map(|n| n.gpus).max().unwrap_or(0);
        (cpu, u64::from(gpu) * u64::from(MILLI_PER_GPU))
    }

    /// Whether `task` fits on node `i` (CPU, memory, GPU model, devices), as the study's
    /// filters decide: NodeResourcesFit for CPU and memory, Open-Gpu-Share for devices.
    pub fn fits(&self, i: usize, task: &GpuTask) -> Result<(), Misfit> {
        let (node, s) = (&self.nodes[i], &self.state[i]);
        if s.cpu_free < task.cpu_milli {
            return Err(Misfit::Cpu { free: s.cpu_free });
        }
        if s.memory_free < task.memory_bytes {
            return Err(Misfit::Memory {
                free: s.memory_free,
            });
        }
        match task.gpu {
            GpuDemand::None => Ok(()),
            _ if node.gpus == 0 => Err(Misfit::NoGpus),
            _ if !task.accepts(node.model) => Err(Misfit::Model),
            GpuDemand::Whole(k) => {
                let free = s.fully_free();
                if free < k as usize {
                    Err(Misfit::WholeDevices { free })
                } else {
                    Ok(())
                }
            }
            GpuDemand::Shared(m) => {
                let largest = s.free.iter().copied().max().unwrap_or(0);
                if largest < m {
                    Err(Misfit::SharedDevice { largest })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Commits `task` to `placement`, checking every device and resource.
    pub fn place(&mut self, task: &GpuTask, placement: &GpuPlacement) -> Result<(), Overcommit> {
        let i = placement.node;
        let node = self
            .nodes
            .get(i)
            .ok_or_else(|| Overcommit(format!("no node {i}")))?;
        if let Err(m) = self.fits(i, task) {
            return Err(Overcommit(format!("{} on {}", m, node.name)));
        }
        let need = task.gpu.count() as usize;
        let mut devices = placement.devices.clone();
        devices.sort_unstable();
        devices.dedup();
        if devices.len() != need || placement.devices.len() != need {
            return Err(Overcommit(format!(
                "{need} distinct device(s) needed on {}, got {:?}",
                node.name, placement.devices
            )));
        }
        let milli = task.gpu.milli_per_gpu();
        let s = &self.state[i];
        for &d in &devices {
            match s.free.get(d as usize) {
                Some(&f) if f >= milli => {}
                Some(&f) => {
                    return Err(Overcommit(format!(
                        "device {d} of {} has {f} milli free, {milli} asked",
                        node.name
                    )))
                }
                None => return Err(Overcommit(format!("{} has no device {d}", node.name))),
            }
        }
        let s = &mut self.state[i];
        s.cpu_free -= task.cpu_milli;
        s.memory_free -= task.memory_bytes;
        for &d in &devices {
            s.free[d as usize] -= milli;
        }
        self.used_milli += task.gpu.total_milli();
        if let Some(class) = task.gpu.class() {
            match s.classes.binary_search_by_key(&class, |(c, _)| *c) {
                Ok(at) => s.classes[at].1 += 1,
                Err(at) => s.classes.insert(at, (class, 1)),
            }
        }
        s.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn cluster(gpus: &[u32]) -> GpuCluster {
        let mut models = Models::default();
        let g = models.intern("G");
        let nodes = gpus
            .iter()
            .enumerate()
            .map(|(i, &n)| GpuNode {
                name: format!("n{i}"),
                cpu_milli: 64_000,
                memory_bytes: 256 << 30,
                model: (n > 0).then_some(g),
                gpus: n,
            })
            .collect();
        GpuCluster::new(models, nodes).unwrap()
    }

    fn task(cpu: u64, gpu: GpuDemand) -> GpuTask {
        GpuTask {
            cpu_milli: cpu,
            memory_bytes: 0,
            gpu,
            models: vec![],
        }
    }

    #[test]
    fn demands_follow_the_trace_columns() {
        assert_eq!(GpuDemand::new(0, 0), Ok(GpuDemand::None));
        assert_eq!(GpuDemand::new(1, 460), Ok(GpuDemand::Shared(460)));
        assert_eq!(GpuDemand::new(1, 1000), Ok(GpuDemand::Whole(1)));
        assert_eq!(GpuDemand::new(8, 1000), Ok(GpuDemand::Whole(8)));
        assert!(GpuDemand::new(2, 500).is_err());
        assert!(GpuDemand::new(1, 0).is_err());
        assert!(GpuDemand::new(1, 1001).is_err());
        assert_eq!(GpuDemand::Whole(4).total_milli(), 4000);
    }

    #[test]
    fn placement_checks_devices_and_refuses_overcommit() {
        let mut c = cluster(&[2]);
        let shared = task(1000, GpuDemand::Shared(600));
        let p = GpuPlacement {
            node: 0,
            devices: vec![1],
        };
        c.place(&shared, &p).unwrap();
        assert_eq!(c.state(0).free, vec![1000, 400]);
        // 600 more on device 1 would exceed 1000 milli.
        assert!(c.place(&shared, &p).is_err());
        // A whole GPU cannot take the half-used device.
        let whole = task(1000, GpuDemand::Whole(1));
        assert!(c.place(&whole, &p).is_err());
        c.place(
            &whole,
            &GpuPlacement {
                node: 0,
                devices: vec![0],
            },
        )
        .unwrap();
        assert_eq!(c.used_gpu_milli(), 1600);
        assert_eq!(c.fits(0, &whole), Err(Misfit::WholeDevices { free: 0 }));
        assert_eq!(c.state(0).tasks_of_class(0), 1);
        assert_eq!(c.state(0).tasks_of_class(1), 1);
        assert_eq!(c.state(0).class_count(), 2);
    }

    #[test]
    fn model_constraints_and_cpu_nodes() {
        let mut c = cluster(&[0, 1]);
        let other = c.models.intern("Other");
        let mut t = task(1000, GpuDemand::Shared(100));
        assert_eq!(c.fits(0, &t), Err(Misfit::NoGpus));
        assert_eq!(c.fits(1, &t), Ok(()));
        t.models = vec![other];
        assert_eq!(c.fits(1, &t), Err(Misfit::Model));
        let cpu_only = task(64_001, GpuDemand::None);
        assert_eq!(c.fits(0, &cpu_only), Err(Misfit::Cpu { free: 64_000 }));
    }
}
