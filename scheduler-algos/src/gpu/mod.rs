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

use crate::devices::{DeviceMisfit, DeviceSet};
use crate::model::{NodeInfo, PodSpec, Resources};

pub use crate::devices::{DemandError, GpuDemand, Overcommit, MAX_DEVICES, MILLI_PER_GPU};

/// An interned GPU model name (see [`Models`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId(pub u16);

/// The GPU model names of one cluster, interned in first-seen order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// A task to place.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl GpuTask {
    /// The task as a pod named `name`: its CPU, memory and GPU request (the demand's total
    /// milli-GPU), one pod slot, and the names of the models it accepts.
    pub fn to_pod(&self, name: impl Into<String>, models: &Models) -> PodSpec {
        let mut pod = PodSpec::new(
            name,
            Resources {
                cpu_milli: self.cpu_milli,
                memory_bytes: self.memory_bytes,
                gpu_milli: self.gpu.total_milli(),
                ..Resources::ZERO
            },
        );
        pod.gpu_models = self.models.iter().map(|&m| models.name(m).into()).collect();
        pod
    }
}

/// A node as a GPU trace describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuNode {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    /// The model of all its GPUs; `None` if it has none.
    pub model: Option<ModelId>,
    pub gpus: u32,
}

impl GpuNode {
    /// The node as the schedulers see it: its CPU, memory and devices, and no pod-count limit
    /// (the study's nodes have none).
    pub fn to_node_info(&self, models: &Models) -> NodeInfo {
        let mut n = NodeInfo::new(
            self.name.clone(),
            Resources {
                cpu_milli: self.cpu_milli,
                memory_bytes: self.memory_bytes,
                gpu_milli: u64::from(self.gpus) * u64::from(MILLI_PER_GPU),
                pods: u64::MAX,
                ..Resources::ZERO
            },
        );
        if let Some(m) = self.model {
            n.gpus = DeviceSet::of_model(models.name(m));
        }
        n
    }
}

/// Where a task goes: a node and, for GPU tasks, the devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuPlacement {
    pub node: usize,
    pub devices: Vec<u8>,
}

/// Why a pod cannot go on a node under the study's filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misfit {
    Cordoned,
    Cpu {
        free: u64,
    },
    Memory {
        free: u64,
    },
    /// Another resource (pod slots, ephemeral storage) is short.
    Resource(crate::Resource),
    Device(DeviceMisfit),
}

impl Misfit {
    /// The reason without node-specific amounts, for counting nodes per reason.
    pub fn kind(&self) -> &'static str {
        match self {
            Misfit::Cordoned => "node(s) were unschedulable",
            Misfit::Cpu { .. } => "Insufficient cpu",
            Misfit::Memory { .. } => "Insufficient memory",
            Misfit::Resource(crate::Resource::Pods) => "Too many pods",
            Misfit::Resource(_) => "Insufficient ephemeral-storage",
            Misfit::Device(d) => d.kind(),
        }
    }
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misfit::Cpu { free } => write!(f, "Insufficient cpu ({free}m free)"),
            Misfit::Memory { free } => write!(f, "Insufficient memory ({free} bytes free)"),
            Misfit::Device(d) => d.fmt(f),
            other => f.write_str(other.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Cluster, NodeId};

    pub(crate) fn cluster(gpus: &[u32]) -> (Cluster, Models) {
        let mut models = Models::default();
        let g = models.intern("G");
        let nodes = gpus
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                GpuNode {
                    name: format!("n{i}"),
                    cpu_milli: 64_000,
                    memory_bytes: 256 << 30,
                    model: (n > 0).then_some(g),
                    gpus: n,
                }
                .to_node_info(&models)
            })
            .collect();
        (Cluster::new(nodes), models)
    }

    fn task(cpu: u64, gpu: GpuDemand) -> GpuTask {
        GpuTask {
            cpu_milli: cpu,
            memory_bytes: 0,
            gpu,
            models: vec![],
        }
    }

    fn bind(c: &mut Cluster, m: &Models, name: &str, t: &GpuTask, devices: &[u8]) -> bool {
        c.bind(NodeId(0), Arc::new(t.to_pod(name, m)), devices.to_vec())
            .is_ok()
    }

    #[test]
    fn binds_check_devices_refuse_overcommit_and_unbinds_free_them() {
        let (mut c, m) = cluster(&[2]);
        let shared = task(1000, GpuDemand::Shared(600));
        assert!(bind(&mut c, &m, "s1", &shared, &[1]));
        assert_eq!(c.nodes()[0].gpu_free(), vec![1000, 400]);
        // 600 more on device 1 would exceed 1000 milli.
        assert!(!bind(&mut c, &m, "s2", &shared, &[1]));
        // A whole GPU cannot take the half-used device, nor two devices for one share.
        let whole = task(1000, GpuDemand::Whole(1));
        assert!(!bind(&mut c, &m, "w", &whole, &[1]));
        assert!(!bind(&mut c, &m, "s2", &shared, &[0, 0]));
        assert!(bind(&mut c, &m, "w", &whole, &[0]));
        assert_eq!(c.nodes()[0].requested.gpu_milli, 1600);
        assert_eq!(
            c.nodes()[0].device_misfit(&whole.to_pod("x", &m)),
            Some(DeviceMisfit::WholeDevices { free: 0 })
        );
        // Three 600-milli shares never fit on two devices, whatever the sum says.
        let (mut c2, _) = cluster(&[2]);
        let pod = shared.to_pod("a", &m);
        assert_eq!(c2.nodes()[0].fit_devices(&pod), Ok(vec![0]));
        for (name, d) in [("a", 0u8), ("b", 1)] {
            assert!(bind(&mut c2, &m, name, &shared, &[d]));
        }
        assert!(!c2.nodes()[0].fits(&shared.to_pod("c", &m)));
        // A departure frees exactly its device.
        c.unbind(NodeId(0), "default", "s1").unwrap();
        assert_eq!(c.nodes()[0].gpu_free(), vec![0, 1000]);
    }

    #[test]
    fn model_constraints_and_cpu_nodes() {
        let (c, mut m) = cluster(&[0, 1]);
        let other = m.intern("Other");
        let mut t = task(1000, GpuDemand::Shared(100));
        let n = c.nodes();
        assert_eq!(
            n[0].device_misfit(&t.to_pod("t", &m)),
            Some(DeviceMisfit::NoGpus)
        );
        assert_eq!(n[1].device_misfit(&t.to_pod("t", &m)), None);
        t.models = vec![other];
        assert_eq!(
            n[1].device_misfit(&t.to_pod("t", &m)),
            Some(DeviceMisfit::Model)
        );
        assert!(!n[0].fits(&task(64_001, GpuDemand::None).to_pod("big", &m)));
    }
}
