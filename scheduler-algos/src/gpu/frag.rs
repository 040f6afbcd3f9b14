//! GPU fragmentation with respect to a workload (Weng et al., ATC'23, §4).
//!
//! A node's idle GPU milli is a *fragment* for a task shape if that task could not use it:
//! the node cannot host the task at all (too little CPU, no device with enough free, a model
//! the task refuses, or the task wants no GPU), or, if it can, the devices with less free
//! than the task's per-device share. The fragmentation of a node is the expectation of that
//! amount over the workload's *typical* task shapes, weighted by how often each occurs.
//!
//! The arithmetic follows the authors' simulator (`pkg/utils/frag.go`,
//! `NodeGpuShareFragAmount`): amounts accumulate per fragment class in float64 in the
//! typical-shape order and the classes are summed in their fixed order; a cluster's total adds
//! each class over the nodes first (`ClusterGpuFragReport`). Upstream's own tests are ported
//! with their expected values.

use rustc_hash::FxHashMap;

use super::{accepts, GpuDemand, GpuTask, ModelId, Models, MAX_DEVICES};
use crate::model::NodeInfo;

/// One task shape of the workload and its frequency (0..=1; all frequencies sum to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct TypicalShape {
    pub cpu_milli: u64,
    pub gpu: GpuDemand,
    pub models: Vec<ModelId>,
    pub frequency: f64,
}

/// The workload's typical task shapes, most frequent first.
#[derive(Clone, Debug, PartialEq)]
pub struct TypicalTasks {
    pub shapes: Vec<TypicalShape>,
}

impl TypicalTasks {
    /// The most popular shapes of `tasks` that together make up `popularity` (0..=1) of all
    /// tasks, renormalised to sum to 1. Shapes are (CPU, GPU per device, GPU count, models);
    /// memory is not part of a shape. Equal counts are ordered larger shape first, as
    /// the authors' `SortTargetPodInDecreasingCount` does; their default popularity is 95%.
    pub fn from_tasks(tasks: &[GpuTask], models: &Models, popularity_percent: u32) -> Self {
        Self::from_counts(tasks.iter().map(|t| (t, 1)), models, popularity_percent)
    }

    /// [`TypicalTasks::from_tasks`] over `(task, how many such tasks)` pairs.
    pub fn from_counts<'a>(
        tasks: impl Iterator<Item = (&'a GpuTask, u64)>,
        models: &Models,
        popularity_percent: u32,
    ) -> Self {
        let key = |t: &GpuTask| {
            let names: Vec<&str> = t.models.iter().map(|&m| models.name(m)).collect();
            (
                t.cpu_milli,
                t.gpu.milli_per_gpu(),
                t.gpu.count(),
                names.join("|"),
                t.gpu,
                t.models.clone(),
            )
        };
        let mut counts: std::collections::BTreeMap<_, u64> = std::collections::BTreeMap::new();
        let mut total = 0u64;
        for (t, n) in tasks {
            *counts.entry(key(t)).or_default() += n;
            total += n;
        }
        let mut ranked: Vec<_> = counts.into_iter().collect();
        // Count descending; ties by (cpu, milli, count, model names) descending.
        ranked.sort_by(|(ka, ca), (kb, cb)| {
            cb.cmp(ca)
                .then_with(|| (kb.0, kb.1, kb.2, &kb.3).cmp(&(ka.0, ka.1, ka.2, &ka.3)))
        });
        let total = total as f64;
        let wanted = f64::from(popularity_percent) * total / 100.0;
        let mut cum = 0.0;
        let mut taken = 0;
        while cum < wanted && taken < ranked.len() {
            cum += ranked[taken].1 as f64;
            taken += 1;
        }
        let all = taken >= ranked.len();
        let shapes = ranked
            .into_iter()
            .take(taken)
            .map(|(k, count)| {
                let mut frequency = count as f64 / total;
                if !all {
                    frequency /= cum / total;
                }
                TypicalShape {
                    cpu_milli: k.0,
                    gpu: k.4,
                    models: k.5,
                    frequency,
                }
            })
            .collect();
        TypicalTasks { shapes }
    }
}

/// The study's fragment classes (`FragRatioDataMap`), in summation order.
const Q1_LACK_BOTH: usize = 0;
const Q2_LACK_GPU: usize = 1;
const Q3_SATISFIED: usize = 2;
const Q4_LACK_CPU: usize = 3;
const XL_SATISFIED: usize = 4;
const XR_LACK_CPU: usize = 5;
const NO_ACCESS: usize = 6;

/// Fragment classes, as upstream's `FragAmount.Data`.
pub type Classes = [f64; 7];

/// Expected fragment milli-GPU of a node with `cpu_free`, devices `free` and GPU `model`.
pub fn node_fragment(
    typical: &TypicalTasks,
    cpu_free: i64,
    free: &[u32],
    model: Option<ModelId>,
) -> f64 {
    except_satisfied(&node_classes(typical, cpu_free, free, model))
}

/// The sum of every class but "satisfied" (`FragAmountSumExceptQ3`).
pub fn except_satisfied(classes: &Classes) -> f64 {
    let mut out = 0.0;
    for (i, v) in classes.iter().enumerate() {
        if i != Q3_SATISFIED {
            out += v;
        }
    }
    out
}

/// The node's idle GPU milli split into fragment classes, weighted by shape frequency.
pub fn node_classes(
    typical: &TypicalTasks,
    cpu_free: i64,
    free: &[u32],
    model: Option<ModelId>,
) -> Classes {
    let idle: i64 = free.iter().map(|&f| i64::from(f)).sum();
    let mut classes = [0.0f64; 7];
    for shape in &typical.shapes {
        let f = shape.frequency;
        let cpu_fits = cpu_free >= shape.cpu_milli as i64;
        let milli = shape.gpu.milli_per_gpu();
        let class = if milli == 0 {
            if cpu_fits {
                XL_SATISFIED
            } else {
                XR_LACK_CPU
            }
        } else if !accepts(&shape.models, model) {
            NO_ACCESS
        } else if free.iter().filter(|&&d| d >= milli).count() >= shape.gpu.count() as usize {
            if cpu_fits {
                Q3_SATISFIED
            } else {
                Q4_LACK_CPU
            }
        } else if cpu_fits {
            Q2_LACK_GPU
        } else {
            Q1_LACK_BOTH
        };
        if class == Q3_SATISFIED {
            // Only the devices too small for this shape are fragments.
            let small: i64 = free
                .iter()
                .filter(|&&d| d < milli)
                .map(|&d| i64::from(d))
                .sum();
            classes[Q2_LACK_GPU] += f * small as f64;
            classes[Q3_SATISFIED] += f * (idle - small) as f64;
        } else {
            classes[class] += f * idle as f64;
        }
    }
    classes
}

/// A node's state as the fragmentation sees it: free CPU, model and the multiset of device
/// free amounts (device order does not change the measure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StateKey {
    cpu_free: i64,
    model: u16,
    devices: [u16; MAX_DEVICES],
}

fn state_key(cpu_free: i64, free: &[u32], model: Option<ModelId>) -> StateKey {
    let mut devices = [u16::MAX; MAX_DEVICES];
    for (d, &f) in devices.iter_mut().zip(free) {
        *d = f as u16;
    }
    devices[..free.len()].sort_unstable();
    StateKey {
        cpu_free,
        model: model.map_or(u16::MAX, |m| m.0),
        devices,
    }
}

/// The fragmentation measure with memoisation: node states repeat a great deal (every empty
/// node of a kind is the same state), and each is computed once.
#[derive(Clone, Debug)]
pub struct Fragmentation {
    typical: TypicalTasks,
    memo: FxHashMap<StateKey, (Classes, f64)>,
    /// Per node: the generation its cached value belongs to.
    nodes: Vec<Option<(u64, Classes, f64)>>,
    /// Reused device buffer.
    scratch: Vec<u32>,
}

impl Fragmentation {
    pub fn new(typical: TypicalTasks) -> Self {
        Fragmentation {
            typical,
            memo: FxHashMap::default(),
            nodes: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn typical(&self) -> &TypicalTasks {
        &self.typical
    }

    fn memoised(&mut self, cpu_free: i64, free: &[u32], model: Option<ModelId>) -> (Classes, f64) {
        if free.len() > MAX_DEVICES {
            // Larger than any GPU server the memo's key packs; computed every time.
            let classes = node_classes(&self.typical, cpu_free, free, model);
            return (classes, except_satisfied(&classes));
        }
        let key = state_key(cpu_free, free, model);
        if let Some(&v) = self.memo.get(&key) {
            return v;
        }
        let classes = node_classes(&self.typical, cpu_free, free, model);
        let v = (classes, except_satisfied(&classes));
        self.memo.insert(key, v);
        v
    }

    /// Fragment milli-GPU of a hypothetical node state.
    pub fn of_state(&mut self, cpu_free: i64, free: &[u32], model: Option<ModelId>) -> f64 {
        self.memoised(cpu_free, free, model).1
    }

    /// Node `i`, cached until the node changes; `models` interns its GPU model name as the
    /// typical shapes were interned (only on a cache miss).
    fn node_entry(&mut self, i: usize, node: &NodeInfo, models: &mut Models) -> (Classes, f64) {
        if self.nodes.len() <= i {
            self.nodes.resize(i + 1, None);
        }
        // Every bind, unbind and node update bumps the generation.
        if let Some((generation, c, v)) = self.nodes[i] {
            if generation == node.generation {
                return (c, v);
            }
        }
        let cpu_free = node.free().cpu_milli as i64;
        let model = node.gpus.model.as_deref().map(|m| models.intern(m));
        node.gpu_free_into(&mut self.scratch);
        let free = std::mem::take(&mut self.scratch);
        let (c, v) = self.memoised(cpu_free, &free, model);
        self.scratch = free;
        self.nodes[i] = Some((node.generation, c, v));
        (c, v)
    }

    /// Fragment milli-GPU of node `i` as it is now.
    pub fn of_node(&mut self, i: usize, node: &NodeInfo, models: &mut Models) -> f64 {
        self.node_entry(i, node, models).1
    }

    /// Fragment milli-GPU of the whole cluster: each class summed over the nodes in order,
    /// then the classes (upstream `ClusterGpuFragReport`).
    pub fn of_cluster(&mut self, nodes: &[NodeInfo], models: &mut Models) -> f64 {
        let mut sum = [0.0; 7];
        for (i, n) in nodes.iter().enumerate() {
            let (c, _) = self.node_entry(i, n, models);
            for (s, v) in sum.iter_mut().zip(c) {
                *s += v;
            }
        }
        except_satisfied(&sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuDemand;

    fn shape(cpu: u64, gpu: GpuDemand, frequency: f64) -> TypicalShape {
        TypicalShape {
            cpu_milli: cpu,
            gpu,
            models: vec![],
            frequency,
        }
    }

    /// The paper's Fig. 5 style example, worked by hand from the definition: a node with
    /// devices free [1000, 500, 200], 8 CPUs free.
    #[test]
    fn fragment_follows_the_definition() {
        let typical = TypicalTasks {
            shapes: vec![
                // Fits on the 1000 and the 500 device: only the 200 is a fragment.
                shape(4000, GpuDemand::Shared(400), 0.5),
                // Needs two whole devices: only one is free, so all 1700 idle is a fragment.
                shape(4000, GpuDemand::Whole(2), 0.25),
                // A CPU-only task cannot use any GPU: all 1700 is a fragment.
                shape(2000, GpuDemand::None, 0.25),
            ],
        };
        let f = node_fragment(&typical, 8000, &[1000, 500, 200], None);
        assert_eq!(f, 0.5 * 200.0 + 0.25 * 1700.0 + 0.25 * 1700.0);
        // With too little CPU for the 4-CPU shapes, everything is a fragment.
        let f = node_fragment(&typical, 3000, &[1000, 500, 200], None);
        assert_eq!(f, 1700.0);
        // A node with no idle GPU has no fragment.
        assert_eq!(node_fragment(&typical, 8000, &[0, 0], None), 0.0);
    }

    #[test]
    fn model_constraints_make_a_node_inaccessible() {
        let mut models = Models::default();
        let a = models.intern("A");
        let b = models.intern("B");
        let typical = TypicalTasks {
            shapes: vec![TypicalShape {
                cpu_milli: 1000,
                gpu: GpuDemand::Whole(1),
                models: vec![a],
                frequency: 1.0,
            }],
        };
        assert_eq!(node_fragment(&typical, 8000, &[1000], Some(a)), 0.0);
        assert_eq!(node_fragment(&typical, 8000, &[1000], Some(b)), 1000.0);
    }

    #[test]
    fn typical_shapes_keep_the_popular_ones_and_renormalise() {
        let models = Models::default();
        let t = |cpu, gpu| GpuTask {
            cpu_milli: cpu,
            memory_bytes: 0,
            gpu,
            models: vec![],
        };
        let mut tasks = vec![t(1000, GpuDemand::Whole(1)); 6];
        tasks.extend(vec![t(2000, GpuDemand::Shared(500)); 3]);
        tasks.push(t(500, GpuDemand::None));
        // 60% takes only the first shape (6 of 10).
        let typ = TypicalTasks::from_tasks(&tasks, &models, 60);
        assert_eq!(typ.shapes.len(), 1);
        assert_eq!(typ.shapes[0].frequency, 1.0);
        // 95% needs all three; frequencies are plain shares.
        let typ = TypicalTasks::from_tasks(&tasks, &models, 95);
        let f: Vec<f64> = typ.shapes.iter().map(|s| s.frequency).collect();
        assert_eq!(f, vec![0.6, 0.3, 0.1]);
        // 90% takes two shapes, renormalised to 6/9 and 3/9.
        let typ = TypicalTasks::from_tasks(&tasks, &models, 90);
        assert_eq!(typ.shapes.len(), 2);
        assert!((typ.shapes[0].frequency - 6.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn equal_counts_order_larger_shapes_first() {
        let models = Models::default();
        let t = |cpu| GpuTask {
            cpu_milli: cpu,
            memory_bytes: 0,
            gpu: GpuDemand::None,
            models: vec![],
        };
        let typ = TypicalTasks::from_tasks(&[t(1000), t(3000), t(2000)], &models, 100);
        let cpus: Vec<u64> = typ.shapes.iter().map(|s| s.cpu_milli).collect();
        assert_eq!(cpus, vec![3000, 2000, 1000]);
    }

    /// `TestingGenerateGetTypicalPods` (upstream pkg/utils/frag_test.go): (cpu, milli per GPU,
    /// GPUs, model, percent).
    const UPSTREAM_TYPICAL: &[(u64, u32, u32, &str, f64)] = &[
        (6000, 465, 1, "", 9.33),
        (8000, 440, 1, "2080", 9.15),
        (8000, 475, 1, "T4", 8.76),
        (8000, 440, 1, "P100", 8.72),
        (2000, 465, 1, "", 8.68),
        (12000, 900, 1, "", 8.65),
        (4000, 900, 1, "", 8.43),
        (16000, 678, 1, "T4", 8.36),
        (8000, 500, 1, "", 8.29),
        (6000, 511, 1, "", 8.11),
        (14000, 1000, 2, "2080", 0.54),
        (4000, 1000, 1, "2080", 0.43),
        (32000, 1000, 2, "T4", 0.43),
        (16000, 1000, 1, "V100M16", 0.40),
        (64000, 1000, 2, "", 0.40),
        (10000, 1000, 2, "", 0.40),
        (11400, 1000, 1, "T4", 0.36),
        (16000, 1000, 1, "T4", 0.36),
        (4000, 1000, 2, "", 0.36),
        (14000, 1000, 2, "V100M16", 0.36),
        (8000, 1000, 4, "", 0.36),
        (16000, 1000, 2, "", 0.32),
        (2000, 1000, 1, "T4", 0.32),
        (6000, 1000, 1, "", 0.32),
        (4000, 1000, 1, "", 0.32),
        (5000, 1000, 1, "", 0.32),
        (32000, 1000, 4, "V100M16", 0.32),
        (32000, 1000, 2, "", 0.32),
        (24000, 1000, 8, "2080", 0.32),
        (40000, 1000, 4, "", 0.29),
        (32000, 1000, 8, "", 0.29),
        (32000, 1000, 1, "T4", 0.29),
        (16000, 1000, 1, "", 0.25),
        (7000, 1000, 1, "V100M16", 0.25),
        (24000, 1000, 1, "T4", 0.25),
    ];

    /// `TestingGenerateGetTypicalPodsWithNonGpu` (same file).
    const UPSTREAM_TYPICAL_WITH_NON_GPU: &[(u64, u32, u32, &str, f64)] = &[
        (15700, 1000, 1, "", 28.69),
        (11900, 1000, 1, "", 18.93),
        (11400, 1000, 1, "", 12.27),
        (1000, 0, 0, "", 7.36),
        (18710, 1000, 1, "", 4.85),
        (8200, 1000, 1, "", 3.79),
        (16400, 1000, 1, "", 3.31),
        (9810, 1000, 1, "", 1.97),
        (15200, 1000, 1, "", 1.87),
        (11200, 1000, 1, "", 1.81),
        (14200, 1000, 1, "", 1.76),
        (12000, 0, 0, "", 1.65),
        (14900, 1000, 1, "", 1.39),
        (60200, 1000, 4, "", 1.23),
        (64200, 1000, 8, "", 1.07),
        (32200, 1000, 4, "", 1.01),
        (17400, 1000, 2, "", 0.91),
        (30200, 1000, 2, "", 0.69),
        (16000, 1000, 1, "", 0.64),
        (15000, 1000, 1, "", 0.59),
        (64000, 1000, 8, "", 0.53),
        (15000, 0, 0, "", 0.53),
        (11910, 1000, 1, "", 0.53),
        (120200, 1000, 8, "", 0.48),
        (11300, 1000, 1, "", 0.37),
        (30000, 1000, 2, "", 0.32),
        (9800, 1000, 1, "", 0.32),
        (8000, 1000, 1, "", 0.32),
        (2000, 1000, 1, "", 0.27),
        (2000, 80, 1, "", 0.27),
        (1000, 1000, 1, "", 0.27),
    ];

    fn upstream(list: &[(u64, u32, u32, &str, f64)], models: &mut Models) -> TypicalTasks {
        TypicalTasks {
            shapes: list
                .iter()
                .map(|&(cpu, milli, count, model, pct)| TypicalShape {
                    cpu_milli: cpu,
                    gpu: GpuDemand::new(count, milli).unwrap(),
                    models: if model.is_empty() {
                        vec![]
                    } else {
                        vec![models.intern(model)]
                    },
                    frequency: pct / 100.0,
                })
                .collect(),
        }
    }

    /// Upstream `TestNodeGpuShareFragAmount` and `TestNodeGpuShareFragAmountWithNonGpu`
    /// (pkg/utils/frag_test.go), with their expected values and tolerance (0.01).
    #[test]
    fn upstream_fragment_amounts() {
        let mut models = Models::default();
        let typical = upstream(UPSTREAM_TYPICAL, &mut models);
        let gtx = Some(models.intern("1080"));
        for (cpu, free, expected) in [
            (1000, vec![200, 1000, 1000, 500], 2566.62),
            (1000, vec![1000; 4], 3802.40),
            (1000, vec![1000; 8], 7604.80),
        ] {
            let f = node_fragment(&typical, cpu, &free, gtx);
            assert!((f - expected).abs() < 0.01, "{free:?}: {f} vs {expected}");
        }
        let one = TypicalTasks {
            shapes: vec![typical.shapes[0].clone()],
        };
        let f = node_fragment(&one, 1000, &[200, 1000, 1000, 500], gtx);
        assert!((f - 251.91).abs() < 0.01, "{f}");

        let typical = upstream(UPSTREAM_TYPICAL_WITH_NON_GPU, &mut models);
        let p100 = Some(models.intern("P100"));
        for (cpu, free, expected) in [
            (64_000, vec![1000; 8], 887.20),
            (32_000, vec![1000, 1000, 1000, 1000, 0, 0, 0, 0], 554.4),
            (0, vec![1000, 1000, 1000, 1000, 0, 0, 0, 0], 4000.0),
        ] {
            let f = node_fragment(&typical, cpu, &free, p100);
            assert!((f - expected).abs() < 0.01, "{free:?}: {f} vs {expected}");
        }
    }

    #[test]
    fn memo_equals_direct_computation() {
        let typical = TypicalTasks {
            shapes: vec![shape(1000, GpuDemand::Shared(300), 1.0)],
        };
        let mut frag = Fragmentation::new(typical.clone());
        let a = frag.of_state(4000, &[200, 1000, 100], None);
        let b = frag.of_state(4000, &[1000, 100, 200], None);
        assert_eq!(a, b);
        assert_eq!(a, node_fragment(&typical, 4000, &[200, 1000, 100], None));
    }
}
