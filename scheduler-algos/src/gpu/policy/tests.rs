//! Tests of the ATC'23 placement policies: upstream score vectors, hand-worked scores, and
//! the property that no policy ever overcommits a node or a device.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::gpu::frag::TypicalShape;
use crate::gpu::{GpuNode, Models};
use crate::Cluster;

fn node(name: &str, cpu: u64, gpus: u32) -> GpuNode {
    GpuNode {
        name: name.into(),
        cpu_milli: cpu,
        memory_bytes: 512 << 30,
        model: None,
        gpus,
    }
}

/// The one GPU model of these tests.
fn models() -> Models {
    let mut models = Models::default();
    models.intern("G");
    models
}

fn cluster_of(nodes: Vec<GpuNode>) -> Cluster {
    let models = models();
    let g = models.get("G");
    Cluster::new(
        nodes
            .into_iter()
            .map(|mut n| {
                n.model = if n.gpus > 0 { g } else { None };
                n.to_node_info(&models)
            })
            .collect(),
    )
}

fn sched(policy: Policy, typical: TypicalTasks, seed: u64) -> GpuScheduler {
    GpuScheduler::new(policy, typical, models(), seed)
}

fn pod(t: &GpuTask) -> PodSpec {
    t.to_pod("t", &models())
}

/// The policy's raw score of node `i`, as a decision would compute it.
fn score_of(s: &mut GpuScheduler, c: &Cluster, t: &GpuTask, i: usize) -> i64 {
    s.prepare(c.nodes(), t);
    let n = c.nodes();
    s.set_max_spec(
        n.iter().map(|n| n.allocatable.cpu_milli).max().unwrap(),
        n.iter().map(device_milli).max().unwrap(),
    );
    s.score(i, &n[i], t).0
}

fn task(cpu: u64, gpu: GpuDemand) -> GpuTask {
    GpuTask {
        cpu_milli: cpu,
        memory_bytes: 1 << 30,
        gpu,
        models: vec![],
    }
}

fn place(c: &mut Cluster, node: usize, t: &GpuTask, devices: &[u8]) {
    let name = format!("p{}", c.nodes()[node].pods.len());
    c.bind(
        crate::NodeId(node),
        Arc::new(t.to_pod(name, &models())),
        devices.to_vec(),
    )
    .unwrap();
}

fn typical(shapes: &[(u64, GpuDemand, f64)]) -> TypicalTasks {
    TypicalTasks {
        shapes: shapes
            .iter()
            .map(|&(cpu_milli, gpu, frequency)| TypicalShape {
                cpu_milli,
                gpu,
                models: vec![],
                frequency,
            })
            .collect(),
    }
}

#[test]
fn names_parse_in_our_spelling_and_the_papers() {
    for p in POLICIES {
        assert_eq!(Policy::parse(p.name()), Ok(p));
        assert_eq!(Policy::parse(p.paper_name()), Ok(p));
    }
    assert_eq!(Policy::parse("DotProduct"), Ok(Policy::DotProduct));
    assert_eq!(Policy::parse("best_fit"), Ok(Policy::BestFit));
    let err = Policy::parse("fdg").unwrap_err().to_string();
    assert!(
        err.contains("`fdg`") && err.contains("gpu-packing"),
        "{err}"
    );
}

/// The cases of upstream's `gpu_packing_score_test.go` that our demand type can express.
#[test]
fn gpu_packing_matches_the_upstream_test() {
    // case 2: two whole GPUs on a partly used node take two fully free devices: 50 - 2.
    assert_eq!(
        gpu_packing(GpuDemand::Whole(2), &[200, 1000, 1000, 500], 4),
        48
    );
    // case 3: a fully free 4-GPU node: max(33 - 4, 4); 8-GPU: 33 - 8.
    assert_eq!(gpu_packing(GpuDemand::Whole(2), &[1000; 4], 4), 29);
    assert_eq!(gpu_packing(GpuDemand::Whole(2), &[1000; 8], 8), 25);
    // case 1 (one shared device, worked from the code): the tightest fitting device is the
    // 200 one; 100 - (200 * 100 / 1000) / 10 = 98.
    assert_eq!(
        gpu_packing(GpuDemand::Shared(200), &[200, 1000, 1000, 500], 4),
        98
    );
    // CPU-only tasks score 0 everywhere.
    assert_eq!(gpu_packing(GpuDemand::None, &[1000], 1), 0);
}

#[test]
fn best_fit_prefers_the_tightest_node_and_normalises() {
    let mut c = cluster_of(vec![node("a", 128_000, 8), node("b", 128_000, 8)]);
    place(&mut c, 1, &task(64_000, GpuDemand::Whole(4)), &[0, 1, 2, 3]);
    let t = task(1000, GpuDemand::Whole(1));
    let mut s = sched(Policy::BestFit, TypicalTasks { shapes: vec![] }, 1);
    let e = s.explain(c.nodes(), &pod(&t));
    let raw: Vec<i64> = e
        .verdicts
        .iter()
        .map(|v| v.outcome.as_ref().unwrap().raw)
        .collect();
    // a: (127000/128000 + 7000/8000) / 2 → (1 - 0.93359375) * 100 = 6; b: (63000/128000 +
    // 3000/8000) / 2 = 0.4335... → 56.
    assert_eq!(raw, vec![6, 56]);
    let scores: Vec<i64> = e
        .verdicts
        .iter()
        .map(|v| v.outcome.as_ref().unwrap().score)
        .collect();
    assert_eq!(scores, vec![0, 100]);
    assert_eq!(e.chosen.unwrap().node, 1);
}

#[test]
fn ties_go_to_the_earliest_node_in_the_seeded_order() {
    let c = cluster_of((0..8).map(|i| node(&format!("n{i}"), 32_000, 2)).collect());
    let t = task(1000, GpuDemand::Shared(500));
    let mut winners = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let mut s = sched(Policy::GpuPacking, TypicalTasks { shapes: vec![] }, seed);
        let GpuDecision::Place(p) = s.decide(c.nodes(), &pod(&t)) else {
            panic!("fits")
        };
        // Every node scores the same; the winner is the one ranked first.
        assert_eq!(s.rank(p.node), 0);
        winners.insert(p.node);
    }
    assert!(winners.len() > 1, "the order must depend on the seed");
}

#[test]
fn gpu_clustering_bands() {
    let mut c = cluster_of(vec![
        node("empty", 64_000, 8),
        node("same", 64_000, 8),
        node("mixed", 64_000, 8),
        node("other", 64_000, 8),
    ]);
    let share = task(1000, GpuDemand::Shared(500));
    let one = task(1000, GpuDemand::Whole(1));
    place(&mut c, 1, &share, &[0]);
    place(&mut c, 2, &share, &[0]);
    place(&mut c, 2, &one, &[1]);
    place(&mut c, 3, &one, &[0]);
    let mut s = sched(Policy::GpuClustering, TypicalTasks { shapes: vec![] }, 0);
    let scores: Vec<i64> = (0..4).map(|i| score_of(&mut s, &c, &share, i)).collect();
    // 25 * (8000 - free) / 8000, plus 25 (no GPU tasks), 75 (only this class), 50 (this
    // class among others) or 0 (other classes only).
    assert_eq!(scores, vec![25, 1 + 75, 4 + 50, 3]);
    assert_eq!(score_of(&mut s, &c, &task(1000, GpuDemand::None), 1), 0);
}

#[test]
fn dot_product_by_hand() {
    let c = cluster_of(vec![node("a", 128_000, 8)]);
    let mut s = sched(Policy::DotProduct, TypicalTasks { shapes: vec![] }, 0);
    // node (1, 1) · pod (0.5, 0.5) = 1 → 1 - 1/2 = 0.5 → 50.
    assert_eq!(
        score_of(&mut s, &c, &task(64_000, GpuDemand::Whole(4)), 0),
        50
    );
    // pod (0.125, 0.0625) → dot 0.1875 → 1 - 0.09375 → 90.
    assert_eq!(
        score_of(&mut s, &c, &task(16_000, GpuDemand::Shared(500)), 0),
        90
    );
}

/// FGD places a shared task where it adds the least fragmentation: next to another shared
/// task on a device whose leftover no typical task could use anyway, rather than breaking
/// open a whole GPU that whole-GPU tasks need.
#[test]
fn fgd_descends_the_fragmentation_gradient() {
    let mut c = cluster_of(vec![node("a", 64_000, 2), node("b", 64_000, 2)]);
    place(&mut c, 0, &task(1000, GpuDemand::Shared(500)), &[1]);
    let typ = typical(&[
        (1000, GpuDemand::Whole(1), 0.5),
        (1000, GpuDemand::Shared(500), 0.5),
    ]);
    let mut s = sched(Policy::Fgd, typ.clone(), 0);
    let t = task(1000, GpuDemand::Shared(500));
    let e = s.explain(c.nodes(), &pod(&t));
    let a = e.verdicts[0].outcome.as_ref().unwrap();
    let b = e.verdicts[1].outcome.as_ref().unwrap();
    // On a, device 1 (500 free) takes it: fragmentation 250 → 0, so sigmoid(0.25) → 56.
    assert_eq!(a.devices, vec![1]);
    assert_eq!(a.raw, (100.0 / (1.0 + (-0.25f64).exp())) as i64);
    // On b, it breaks a whole GPU: 0 → 250, so sigmoid(-0.25) → 43.
    assert_eq!(b.raw, (100.0 / (1.0 + (0.25f64).exp())) as i64);
    assert_eq!(
        e.chosen,
        Some(GpuPlacement {
            node: 0,
            devices: vec![1]
        })
    );
}

#[test]
fn random_is_uniform_over_feasible_nodes() {
    let c = cluster_of(vec![
        node("a", 8000, 1),
        node("b", 8000, 1),
        node("c", 1000, 1),
    ]);
    let t = task(4000, GpuDemand::Shared(100));
    let mut s = sched(Policy::Random, TypicalTasks { shapes: vec![] }, 9);
    let mut hits = [0u32; 3];
    for _ in 0..2000 {
        let GpuDecision::Place(p) = s.decide(c.nodes(), &pod(&t)) else {
            panic!("fits")
        };
        hits[p.node] += 1;
    }
    assert_eq!(hits[2], 0, "c has too little CPU");
    assert!(hits[0] > 900 && hits[1] > 900, "{hits:?}");
}

#[test]
fn unschedulable_counts_reasons() {
    let c = cluster_of(vec![node("cpu", 8000, 0), node("small", 2000, 1)]);
    let mut s = sched(Policy::Fgd, TypicalTasks { shapes: vec![] }, 0);
    let d = s.decide(c.nodes(), &pod(&task(4000, GpuDemand::Whole(1))));
    assert_eq!(
        d,
        GpuDecision::Unschedulable(vec![
            ("Insufficient cpu".into(), 1),
            ("node has no GPUs".into(), 1)
        ])
    );
}

fn demand() -> impl Strategy<Value = GpuDemand> {
    prop_oneof![
        Just(GpuDemand::None),
        (1u32..1000).prop_map(GpuDemand::Shared),
        prop::sample::select(vec![1u32, 2, 4, 8]).prop_map(GpuDemand::Whole),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over random clusters and task streams, for every policy: a task is placed iff some
    /// node fits it; placements never overcommit a device, CPU or memory (`place` re-checks
    /// and the test fails on refusal); multi-GPU tasks take whole free devices; model
    /// constraints hold; and the same seed gives the same decisions.
    #[test]
    fn placements_are_valid_and_deterministic(
        gpus in prop::collection::vec(prop::sample::select(vec![0u32, 1, 2, 4, 8]), 1..12),
        tasks in prop::collection::vec((1u64..40_000, demand(), any::<bool>()), 1..80),
        policy in prop::sample::select(POLICIES.to_vec()),
        seed in any::<u64>(),
    ) {
        let mut models = Models::default();
        let a = models.intern("A");
        let b = models.intern("B");
        let nodes: Vec<GpuNode> = gpus.iter().enumerate().map(|(i, &g)| GpuNode {
            name: format!("n{i}"),
            cpu_milli: 64_000,
            memory_bytes: 64 << 30,
            model: (g > 0).then_some(if i % 2 == 0 { a } else { b }),
            gpus: g,
        }).collect();
        let tasks: Vec<GpuTask> = tasks.into_iter().map(|(cpu, gpu, only_a)| GpuTask {
            cpu_milli: cpu,
            memory_bytes: 1 << 30,
            gpu,
            models: if only_a && gpu != GpuDemand::None { vec![a] } else { vec![] },
        }).collect();
        let typ = TypicalTasks::from_tasks(&tasks, &models, 95);
        let run = || {
            let nodes: Vec<NodeInfo> = nodes.iter().map(|n| n.to_node_info(&models)).collect();
            let mut c = Cluster::new(nodes);
            let mut s = GpuScheduler::new(policy, typ.clone(), models.clone(), seed);
            let mut log = Vec::new();
            for (k, t) in tasks.iter().enumerate() {
                let p = t.to_pod(format!("t{k}"), &models);
                let any_fits = c.nodes().iter().any(|n| misfit(n, &p).is_none());
                match s.decide(c.nodes(), &p) {
                    GpuDecision::Place(at) => {
                        assert!(any_fits);
                        let before = c.nodes()[at.node].gpu_free();
                        if let GpuDemand::Whole(_) = t.gpu {
                            for &d in &at.devices {
                                assert_eq!(before[d as usize], MILLI_PER_GPU, "whole device");
                            }
                        }
                        if !t.models.is_empty() {
                            assert_eq!(c.nodes()[at.node].gpus.model.as_deref(), Some("A"));
                        }
                        c.bind(crate::NodeId(at.node), Arc::new(p), at.devices.clone())
                            .expect("a decision must never overcommit");
                        log.push(Some(at));
                    }
                    GpuDecision::Unschedulable(_) => {
                        assert!(!any_fits);
                        log.push(None);
                    }
                }
            }
            for n in c.nodes() {
                let free = n.gpu_free();
                assert!(free.iter().all(|&f| f <= MILLI_PER_GPU));
                let used = n.gpu_count() as u64 * u64::from(MILLI_PER_GPU)
                    - free.iter().map(|&f| u64::from(f)).sum::<u64>();
                assert_eq!(n.requested.gpu_milli, used, "the scalar equals the devices' sum");
            }
            log
        };
        prop_assert_eq!(run(), run());
    }
}

/// By name, FGD has no trace to take typical shapes from: it learns them from the pods it is
/// asked to place, and then decides as it would with those shapes given (the case above).
#[test]
fn fgd_by_name_learns_the_workload_from_the_pods_it_places() {
    let mut c = cluster_of(vec![node("a", 64_000, 2), node("b", 64_000, 2)]);
    place(&mut c, 0, &task(1000, GpuDemand::Shared(500)), &[1]);
    let mut s = crate::by_name("fgd", 0).unwrap();
    assert_eq!(s.name(), "fgd");
    // One whole-GPU pod seen; then the shared one: the shapes are half and half, as above.
    s.schedule(&pod(&task(1000, GpuDemand::Whole(1))), &c);
    let d = s.schedule(&pod(&task(1000, GpuDemand::Shared(500))), &c);
    assert_eq!(
        d.decision,
        crate::Decision::Bind {
            node: crate::NodeId(0),
            devices: vec![1]
        }
    );
}

/// The fragmentation caches are keyed by node generations no two nodes share, so one
/// scheduler used on two clusters scores the second exactly as a fresh one does.
#[test]
fn caches_never_confuse_the_nodes_of_two_clusters() {
    // b has too little CPU for the first shape, a has plenty: their fragmentation differs.
    let typ = typical(&[
        (16_000, GpuDemand::Whole(1), 0.5),
        (1000, GpuDemand::Shared(500), 0.5),
    ]);
    let first = cluster_of(vec![node("a", 64_000, 8)]);
    // Both clusters fresh: a counter per node would give both nodes the same generation.
    let second = cluster_of(vec![node("b", 8_000, 2)]);
    let t = task(1000, GpuDemand::Shared(500));
    let mut reused = sched(Policy::Fgd, typ.clone(), 0);
    reused.explain(first.nodes(), &pod(&t));
    let raw = |s: &mut GpuScheduler| {
        let e = s.explain(second.nodes(), &pod(&t));
        e.verdicts[0].outcome.as_ref().unwrap().raw
    };
    assert_eq!(raw(&mut reused), raw(&mut sched(Policy::Fgd, typ, 0)));
}
