//! Observers a scenario turns on in `[observers]`, each measuring the world at every sample and
//! writing a table of its own beside the core `timeseries.csv`.
//!
//! - `gpu_fragmentation`: the ATC'23 study's fragmentation measure (Weng et al., USENIX ATC
//!   2023, §4; [`orchsim_sched::gpu::frag`]) over the cluster's devices as pods arrive *and
//!   depart*, the curve the study draws for arrivals only. The measure needs the workload's
//!   typical task shapes; a scenario's workloads are distributions, so the shapes are drawn from
//!   them (a fixed number of draws per workload, in proportion to its arrival rate, from a
//!   stream of their own so that turning the observer on changes nothing else), and a trace's
//!   pods count one each.

use orchsim_kernel::RngStreams;
use orchsim_sched::gpu::frag::{Fragmentation, TypicalTasks};
use orchsim_sched::gpu::{GpuTask, Models};
use orchsim_sched::{GpuDemand, NodeInfo};

use crate::scenario::Scenario;

/// Draws of task shapes behind the typical set, over all workloads.
const SHAPE_DRAWS: f64 = 2000.0;
/// Share of the drawn pods the typical shapes cover (the study's default, 95%).
const POPULARITY_PERCENT: u32 = 95;

/// GPU after one scheduling decision: what had arrived, what is allocated, what is
/// fragmented (the ATC'23 study's raw series).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuStep {
    /// GPU milli of every pod submitted so far, placed or not.
    pub arrived_milli: u64,
    pub allocated_milli: u64,
    pub fragment_milli: f64,
}

/// The fragmentation observer's state.
pub(crate) struct GpuFragmentation {
    measure: Fragmentation,
    models: Models,
}

impl GpuFragmentation {
    /// The observer for `scenario`, with the typical shapes it gives or else drawn from its
    /// workloads.
    pub(crate) fn new(scenario: &Scenario) -> Self {
        if let Some((typical, models)) = &scenario.observers.gpu_typical {
            return GpuFragmentation {
                measure: Fragmentation::new(typical.clone()),
                models: models.clone(),
            };
        }
        let streams = RngStreams::new(scenario.seed);
        let mut models = Models::default();
        let total_rate: f64 = scenario
            .workloads
            .iter()
            .map(|w| w.arrival_rate_per_s.mean(scenario.duration))
            .sum();
        let mut tasks = Vec::new();
        for w in &scenario.workloads {
            let mut rng = streams.stream(&format!("observer/gpu-fragmentation/{}", w.name));
            let draws = ((SHAPE_DRAWS * w.arrival_rate_per_s.mean(scenario.duration) / total_rate)
                .round() as usize)
                .max(1);
            let accepted: Vec<_> = w.gpu_models.iter().map(|m| models.intern(m)).collect();
            for _ in 0..draws {
                let cpu_milli = w.cpu_milli.sample_u64(&mut rng);
                // Validated at parse time: every draw is a share or whole devices.
                let gpu = GpuDemand::from_milli(w.gpu_milli.sample_u64(&mut rng))
                    .unwrap_or(GpuDemand::None);
                tasks.push(GpuTask {
                    cpu_milli,
                    memory_bytes: 0,
                    gpu,
                    models: if gpu == GpuDemand::None {
                        Vec::new()
                    } else {
                        accepted.clone()
                    },
                });
            }
        }
        // A trace's pods are shapes as they are, one each (as the study counts its trace).
        for p in scenario.trace.iter().flat_map(|t| t.pods.iter()) {
            let gpu = GpuDemand::from_milli(p.requests.gpu_milli).unwrap_or(GpuDemand::None);
            tasks.push(GpuTask {
                cpu_milli: p.requests.cpu_milli,
                memory_bytes: 0,
                gpu,
                models: p.gpu_models.iter().map(|m| models.intern(m)).collect(),
            });
        }
        let typical = TypicalTasks::from_tasks(&tasks, &models, POPULARITY_PERCENT);
        GpuFragmentation {
            measure: Fragmentation::new(typical),
            models,
        }
    }

    /// Fragment milli-GPU of the cluster now.
    pub(crate) fn measure(&mut self, nodes: &[NodeInfo]) -> f64 {
        self.measure.of_cluster(nodes, &mut self.models)
    }
}
