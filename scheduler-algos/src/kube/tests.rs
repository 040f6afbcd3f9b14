//! Table-driven tests of the Kubernetes pipeline. Expected values come from upstream, not
//! from this code: each test names the upstream test file (Kubernetes v1.33.3,
//! pkg/scheduler/framework/plugins/...) whose case it reproduces, or the formula in the
//! upstream source it applies by hand.

use std::sync::Arc;

use super::*;
use crate::labels::*;
use crate::model::*;

const MI: u64 = 1024 * 1024;

fn node(name: &str, cpu: u64, mem: u64) -> NodeInfo {
    NodeInfo::new(
        name,
        Resources {
            cpu_milli: cpu,
            memory_bytes: mem,
            pods: 110,
            ..Resources::ZERO
        },
    )
}

fn pod(name: &str, cpu: u64, mem: u64) -> PodSpec {
    PodSpec::new(
        name,
        Resources {
            cpu_milli: cpu,
            memory_bytes: mem,
            ..Resources::ZERO
        },
    )
}

fn labels(kv: &[(&str, &str)]) -> Labels {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs the default pipeline with only `plugin` scoring and returns the normalized scores.
fn scores_of(plugin: Plugin, profile: Profile, p: &PodSpec, nodes: &[NodeInfo]) -> Vec<i64> {
    let mut s = KubeScheduler::new(profile, 1);
    let e = s.explain(p, &nodes.to_vec());
    e.nodes
        .iter()
        .map(|r| {
            r.scores
                .iter()
                .find(|x| x.plugin == plugin)
                .map_or(-1, |x| x.normalized)
        })
        .collect()
}

fn fit_profile(kind: ScoringType) -> Profile {
    let mut p = Profile::default();
    p.fit.kind = kind;
    p
}

/// least_allocated_test.go "nothing scheduled, resources requested, differently sized nodes":
/// pod 3000m / 5000 bytes on nodes 4000m/10000 and 6000m/10000 → 37 and 50.
#[test]
fn least_allocated_matches_upstream() {
    let nodes = [node("node1", 4000, 10000), node("node2", 6000, 10000)];
    let p = pod("p", 3000, 5000);
    assert_eq!(
        scores_of(
            Plugin::NodeResourcesFit,
            fit_profile(ScoringType::LeastAllocated),
            &p,
            &nodes
        ),
        vec![37, 50]
    );
}

/// most_allocated_test.go, same case → 62 and 50.
#[test]
fn most_allocated_matches_upstream() {
    let nodes = [node("node1", 4000, 10000), node("node2", 6000, 10000)];
    let p = pod("p", 3000, 5000);
    assert_eq!(
        scores_of(
            Plugin::NodeResourcesFit,
            fit_profile(ScoringType::MostAllocated),
            &p,
            &nodes
        ),
        vec![62, 50]
    );
}

/// requested_to_capacity_ratio_test.go, shape {0→10, 100→0} (scaled ×10): the same pod gives
/// node1 round((25 + 50) / 2) = 38 and node2 50; an empty pod scores 100 everywhere.
#[test]
fn requested_to_capacity_ratio_matches_upstream() {
    let shape = vec![(0, 100), (100, 0)];
    let nodes = [node("node1", 4000, 10000), node("node2", 6000, 10000)];
    let prof = || {
        fit_profile(ScoringType::RequestedToCapacityRatio {
            shape: shape.clone(),
        })
    };
    assert_eq!(
        scores_of(
            Plugin::NodeResourcesFit,
            prof(),
            &pod("p", 3000, 5000),
            &nodes
        ),
        vec![38, 50]
    );
    assert_eq!(
        scores_of(Plugin::NodeResourcesFit, prof(), &pod("p", 0, 0), &nodes),
        vec![100, 100]
    );
}

/// Pods without requests are scored with 100m / 200Mi (pkg/scheduler/util/pod_resources.go)
/// but filtered with zero: LeastAllocated on a 1000m / 1000Mi node gives
/// ((1000-100)·100/1000 + (1000-200)·100/1000) / 2 = (90 + 80) / 2 = 85.
#[test]
fn non_zero_defaults_apply_to_scoring_only() {
    let nodes = [node("n", 1000, 1000 * MI)];
    let mut p = pod("p", 0, 0);
    p.non_zero = NonZeroRequests {
        cpu_milli: DEFAULT_MILLI_CPU_REQUEST,
        memory_bytes: DEFAULT_MEMORY_REQUEST,
    };
    assert_eq!(fit_score(&Profile::default().fit, &p, &nodes[0]), 85);
    // A full node still accepts it: the filter sees zero requests.
    let mut full = node("full", 1000, 1000 * MI);
    full.requested = Resources {
        cpu_milli: 1000,
        memory_bytes: 1000 * MI,
        ..Resources::ZERO
    };
    let mut s = KubeScheduler::new(Profile::default(), 1);
    assert_eq!(
        s.schedule(&p, &vec![full]).decision,
        Decision::Bind {
            node: NodeId(0),
            devices: vec![]
        }
    );
}

/// balanced_allocation_test.go (v1.33 std-dev form): fractions 0.75 and 0.5 → std 0.125 →
/// (1 - 0.125)·100 = 87; equal fractions → 100.
#[test]
fn balanced_allocation_matches_upstream() {
    let nodes = [node("node1", 4000, 10000), node("node2", 6000, 10000)];
    let p = pod("p", 3000, 5000);
    assert_eq!(
        scores_of(
            Plugin::NodeResourcesBalancedAllocation,
            Profile::default(),
            &p,
            &nodes
        ),
        vec![87, 100]
    );
    // Three resources: population standard deviation (balanced_allocation.go).
    let mut n = node("g", 4000, 10000);
    n.allocatable.gpu_milli = 4000;
    let mut gp = pod("g", 1000, 5000);
    gp.requests.gpu_milli = 3000;
    let res = vec![ResourceName::Cpu, ResourceName::Memory, ResourceName::Gpu];
    // fractions 0.25, 0.5, 0.75: mean 0.5, std sqrt(0.125/3) = 0.2041 → 79.
    assert_eq!(balanced_score(&res, &gp, &n), 79);
}

/// balanced_allocation.go PreScore: best-effort pods skip the plugin entirely.
#[test]
fn balanced_allocation_skips_best_effort_pods() {
    let nodes = [node("a", 4000, 10000)];
    let scores = scores_of(
        Plugin::NodeResourcesBalancedAllocation,
        Profile::default(),
        &pod("p", 0, 0),
        &nodes,
    );
    assert_eq!(scores, vec![-1], "no score entry at all");
}

/// normalize_score_test.go TestDefaultNormalizeScore.
#[test]
fn default_normalize_score_matches_upstream() {
    let cases: [(&[i64], bool, &[i64]); 7] = [
        (&[1, 2, 3, 4], false, &[25, 50, 75, 100]),
        (&[1, 2, 3, 4], true, &[75, 50, 25, 0]),
        (&[1000, 10, 20, 30], false, &[100, 1, 2, 3]),
        (&[1000, 10, 20, 30], true, &[0, 99, 98, 97]),
        (&[1, 1, 1, 1], false, &[100, 100, 100, 100]),
        (&[1, 1, 1, 1], true, &[0, 0, 0, 0]),
        (&[0, 0, 0, 0], true, &[100, 100, 100, 100]),
    ];
    for (raw, reverse, want) in cases {
        assert_eq!(
            default_normalize(raw, reverse),
            want,
            "{raw:?} reverse={reverse}"
        );
    }
}

fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect,
    }
}

/// taint_toleration_test.go "the more intolerable taints a node has, the lower score it
/// gets": 0, 1 and 2 intolerable PreferNoSchedule taints → 100, 50, 0; a tolerated one counts
/// nothing.
#[test]
fn taint_toleration_score_matches_upstream() {
    let mut n1 = node("n1", 4000, 10000);
    let mut n2 = node("n2", 4000, 10000);
    let mut n3 = node("n3", 4000, 10000);
    n1.taints = vec![taint("foo", "bar", TaintEffect::PreferNoSchedule)];
    n2.taints = vec![taint("cpu-type", "arm64", TaintEffect::PreferNoSchedule)];
    n3.taints = vec![
        taint("cpu-type", "arm64", TaintEffect::PreferNoSchedule),
        taint("disk-type", "ssd", TaintEffect::PreferNoSchedule),
    ];
    let mut p = pod("p", 100, 100);
    p.tolerations = vec![Toleration {
        key: "foo".into(),
        op: TolerationOp::Equal,
        value: "bar".into(),
        effect: Some(TaintEffect::PreferNoSchedule),
    }];
    assert_eq!(
        scores_of(
            Plugin::TaintToleration,
            Profile::default(),
            &p,
            &[n1, n2, n3]
        ),
        vec![100, 50, 0]
    );
}

/// taint_toleration.go Filter: the first untolerated NoSchedule/NoExecute taint rejects, with
/// v1.33's message naming it; PreferNoSchedule never rejects.
#[test]
fn taint_toleration_filter_names_the_taint() {
    let mut n = node("n", 4000, 10000);
    n.taints = vec![
        taint("soft", "x", TaintEffect::PreferNoSchedule),
        taint("dedicated", "gpu", TaintEffect::NoSchedule),
    ];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&pod("p", 1, 1), &vec![n]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) had untolerated taint {dedicated: gpu}"]
    );
    assert_eq!(e.nodes[0].rejected_by, Some(Plugin::TaintToleration));
}

fn term(exprs: Vec<Requirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: exprs,
        match_fields: vec![],
    }
}

fn req(key: &str, op: SelectorOp, values: &[&str]) -> Requirement {
    Requirement {
        key: key.into(),
        op,
        values: values.iter().map(|s| s.to_string()).collect(),
    }
}

/// node_affinity_test.go "all nodes matches the preferred scheduling requirements of pod but
/// with different priorities": terms weighted 2 (foo=bar), 4 (key=value), 5 (az in az1);
/// node1 matches 2, node2 matches 2+4+5 = 11, node3 matches 2+4 = 6 → 100·raw/11 = 18, 100, 54.
#[test]
fn node_affinity_score_matches_upstream() {
    let mut n1 = node("node1", 4000, 10000);
    n1.labels = labels(&[("foo", "bar")]);
    let mut n2 = node("node2", 4000, 10000);
    n2.labels = labels(&[("foo", "bar"), ("key", "value"), ("az", "az1")]);
    let mut n3 = node("node3", 4000, 10000);
    n3.labels = labels(&[("foo", "bar"), ("key", "value")]);
    let mut p = pod("p", 100, 100);
    p.node_affinity.preferred = vec![
        (2, term(vec![req("foo", SelectorOp::In, &["bar"])])),
        (4, term(vec![req("key", SelectorOp::In, &["value"])])),
        (5, term(vec![req("az", SelectorOp::In, &["az1"])])),
    ];
    assert_eq!(
        scores_of(Plugin::NodeAffinity, Profile::default(), &p, &[n1, n2, n3]),
        vec![18, 100, 54]
    );
}

#[test]
fn node_selector_and_required_affinity_filter() {
    let mut a = node("a", 4000, 10000);
    a.labels = labels(&[("disktype", "ssd"), ("zone", "z1")]);
    let mut b = node("b", 4000, 10000);
    b.labels = labels(&[("disktype", "hdd"), ("zone", "z1")]);
    let mut p = pod("p", 100, 100);
    p.node_selector = labels(&[("disktype", "ssd")]);
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![a.clone(), b.clone()]);
    assert!(e.nodes[0].feasible);
    assert_eq!(
        e.nodes[1].reasons,
        vec!["node(s) didn't match Pod's node affinity/selector"]
    );
    let mut q = pod("q", 100, 100);
    q.node_affinity.required = Some(vec![
        term(vec![req("zone", SelectorOp::In, &["z9"])]),
        term(vec![req("disktype", SelectorOp::NotIn, &["ssd"])]),
    ]);
    let e = KubeScheduler::new(Profile::default(), 1).explain(&q, &vec![a, b]);
    assert_eq!((e.nodes[0].feasible, e.nodes[1].feasible), (false, true));
}

/// fit.go: every insufficient resource is a reason, and FitError sorts "<n> <reason>" strings.
#[test]
fn fit_filter_reports_every_shortfall_like_fit_error() {
    let mut full = node("full", 1000, 1000);
    full.allocatable.pods = 1;
    full.add_pod(Arc::new(pod("x", 0, 0)));
    let nodes = vec![node("small", 500, 100), full, node("ok-cpu", 4000, 100)];
    let mut s = KubeScheduler::new(Profile::default(), 1);
    let d = s.schedule(&pod("p", 1000, 200), &nodes).decision;
    let Decision::Unschedulable(u) = d else {
        panic!("{d:?}")
    };
    assert_eq!(
        u.to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 1 Too many pods, 2 Insufficient memory."
    );
}

fn selector(kv: &[(&str, &str)]) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: labels(kv),
        match_expressions: vec![],
    })
}

fn bound(name: &str, l: &[(&str, &str)]) -> Arc<PodSpec> {
    let mut p = pod(name, 100, 100);
    p.labels = labels(l);
    Arc::new(p)
}

/// Kubernetes docs, "Assigning Pods to Nodes" (inter-pod anti-affinity): a pod with required
/// anti-affinity to app=web on kubernetes.io/hostname avoids nodes running app=web; an existing
/// pod's anti-affinity keeps matching pods off its node too.
#[test]
fn inter_pod_anti_affinity_filters_both_ways() {
    let mut a = node("a", 4000, 10000);
    a.add_pod(bound("web-1", &[("app", "web")]));
    let b = node("b", 4000, 10000);
    let mut p = pod("web-2", 100, 100);
    p.labels = labels(&[("app", "web")]);
    p.pod_anti_affinity.required = vec![PodAffinityTerm {
        selector: selector(&[("app", "web")]),
        namespaces: vec![],
        topology_key: "kubernetes.io/hostname".into(),
    }];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![a, b.clone()]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't match pod anti-affinity rules"]
    );
    assert!(e.nodes[1].feasible);

    // Existing pod with anti-affinity against app=cache: a cache pod must avoid its node.
    let mut guard = pod("guard", 100, 100);
    guard.labels = labels(&[("app", "guard")]);
    guard.pod_anti_affinity.required = vec![PodAffinityTerm {
        selector: selector(&[("app", "cache")]),
        namespaces: vec![],
        topology_key: "kubernetes.io/hostname".into(),
    }];
    let mut c = node("c", 4000, 10000);
    c.add_pod(Arc::new(guard));
    let mut cache = pod("cache", 100, 100);
    cache.labels = labels(&[("app", "cache")]);
    let e = KubeScheduler::new(Profile::default(), 1).explain(&cache, &vec![c, b]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't satisfy existing pods anti-affinity rules"]
    );
}

/// interpodaffinity/filtering.go satisfyPodAffinity: with no matching pod anywhere, a pod
/// whose terms match itself may go to any node that has the topology key.
#[test]
fn first_pod_of_a_self_affine_group_is_not_stuck() {
    let mut z1 = node("z1", 4000, 10000);
    z1.labels = labels(&[("zone", "1")]);
    let nolabel = node("none", 4000, 10000);
    let mut p = pod("db-0", 100, 100);
    p.labels = labels(&[("app", "db")]);
    p.pod_affinity.required = vec![PodAffinityTerm {
        selector: selector(&[("app", "db")]),
        namespaces: vec![],
        topology_key: "zone".into(),
    }];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![z1.clone(), nolabel]);
    assert!(e.nodes[0].feasible);
    assert_eq!(
        e.nodes[1].reasons,
        vec!["node(s) didn't match pod affinity rules"]
    );
    // A second db pod must join the zone of the first.
    let mut z2 = node("z2", 4000, 10000);
    z2.labels = labels(&[("zone", "2")]);
    z1.add_pod(bound("db-0", &[("app", "db")]));
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![z1, z2]);
    assert_eq!((e.nodes[0].feasible, e.nodes[1].feasible), (true, false));
}

/// podtopologyspread/filtering.go: skew = matching pods in the node's domain + self − global
/// minimum must not exceed maxSkew. Zones z1 (2 pods) and z2 (0 pods), maxSkew 1: z1 → 3 > 1
/// rejected, z2 → 1 accepted. Docs: "Pod Topology Spread Constraints", example 1.
#[test]
fn topology_spread_filter_enforces_max_skew() {
    let mut a = node("a", 4000, 10000);
    a.labels = labels(&[("zone", "z1")]);
    a.add_pod(bound("w1", &[("app", "foo")]));
    a.add_pod(bound("w2", &[("app", "foo")]));
    let mut b = node("b", 4000, 10000);
    b.labels = labels(&[("zone", "z2")]);
    let nolabel = node("c", 4000, 10000);
    let mut p = pod("w3", 100, 100);
    p.labels = labels(&[("app", "foo")]);
    p.topology_spread = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "zone".into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        selector: selector(&[("app", "foo")]),
        min_domains: 1,
        node_affinity_policy: InclusionPolicy::Honor,
        node_taints_policy: InclusionPolicy::Ignore,
    }];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![a, b, nolabel]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't match pod topology spread constraints"]
    );
    assert!(e.nodes[1].feasible);
    assert_eq!(
        e.nodes[2].reasons,
        vec!["node(s) didn't match pod topology spread constraints (missing required label)"]
    );
}

/// podtopologyspread/scoring.go by hand: one ScheduleAnyway hostname constraint (maxSkew 1) on
/// 4 feasible nodes holding 2, 1, 0, 0 matching pods. Weight ln(4 + 2); raw = round(count ·
/// 1.7918) = 4, 2, 0, 0; normalize 100·(max + min − s)/max = 0, 50, 100, 100.
#[test]
fn topology_spread_score_follows_the_upstream_formula() {
    let mut nodes: Vec<NodeInfo> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| node(n, 4000, 10000))
        .collect();
    nodes[0].add_pod(bound("x1", &[("app", "foo")]));
    nodes[0].add_pod(bound("x2", &[("app", "foo")]));
    nodes[1].add_pod(bound("x3", &[("app", "foo")]));
    let mut p = pod("x4", 100, 100);
    p.labels = labels(&[("app", "foo")]);
    p.topology_spread = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".into(),
        when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
        selector: selector(&[("app", "foo")]),
        min_domains: 1,
        node_affinity_policy: InclusionPolicy::Honor,
        node_taints_policy: InclusionPolicy::Ignore,
    }];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &nodes);
    let got: Vec<(i64, i64)> = e
        .nodes
        .iter()
        .map(|r| {
            let s = r
                .scores
                .iter()
                .find(|s| s.plugin == Plugin::PodTopologySpread)
                .unwrap();
            (s.raw, s.normalized)
        })
        .collect();
    assert_eq!(got, vec![(4, 0), (2, 50), (0, 100), (0, 100)]);
}

/// interpodaffinity/scoring.go: preferred affinity weight 5 toward app=db pods on the same
/// zone; raw scores 5 on the db zone, 0 elsewhere; min-max normalization → 100 and 0.
#[test]
fn inter_pod_affinity_score_min_max_normalizes() {
    let mut a = node("a", 4000, 10000);
    a.labels = labels(&[("zone", "1")]);
    a.add_pod(bound("db", &[("app", "db")]));
    let mut b = node("b", 4000, 10000);
    b.labels = labels(&[("zone", "2")]);
    let mut p = pod("web", 100, 100);
    p.pod_affinity.preferred = vec![(
        5,
        PodAffinityTerm {
            selector: selector(&[("app", "db")]),
            namespaces: vec![],
            topology_key: "zone".into(),
        },
    )];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![a, b]);
    let s: Vec<(i64, i64)> = e
        .nodes
        .iter()
        .map(|r| {
            let s = r
                .scores
                .iter()
                .find(|s| s.plugin == Plugin::InterPodAffinity)
                .unwrap();
            (s.raw, s.normalized)
        })
        .collect();
    assert_eq!(s, vec![(5, 100), (0, 0)]);
}

#[test]
fn node_ports_and_node_name_and_cordon() {
    let mut a = node("a", 4000, 10000);
    let mut holder = pod("h", 1, 1);
    holder.host_ports = vec![HostPort {
        ip: String::new(),
        protocol: "TCP".into(),
        port: 8080,
    }];
    a.add_pod(Arc::new(holder));
    let mut b = node("b", 4000, 10000);
    b.unschedulable = true;
    let c = node("c", 4000, 10000);
    let mut p = pod("p", 1, 1);
    p.host_ports = vec![HostPort {
        ip: "10.0.0.1".into(),
        protocol: "TCP".into(),
        port: 8080,
    }];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &vec![a, b, c.clone()]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't have free ports for the requested pod ports"]
    );
    assert_eq!(e.nodes[1].reasons, vec!["node(s) were unschedulable"]);
    assert!(e.nodes[2].feasible);
    let mut named = pod("n", 1, 1);
    named.node_name = Some("zzz".into());
    let e = KubeScheduler::new(Profile::default(), 1).explain(&named, &vec![c]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't match the requested node name"]
    );
}

/// The weighted total is Σ normalized × weight over the plugins that scored, and the chosen
/// node has the highest total.
#[test]
fn totals_are_weighted_sums_and_the_best_node_wins() {
    let nodes = vec![
        node("small", 2000, 4000 * MI),
        node("big", 8000, 16000 * MI),
    ];
    let mut p = pod("p", 500, 512 * MI);
    p.owner = "svc".into();
    p.labels = labels(&[("app", "svc")]);
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &nodes);
    for r in &e.nodes {
        let sum: i64 = r.scores.iter().map(|s| s.normalized * s.weight).sum();
        assert_eq!(sum, r.total);
        for s in &r.scores {
            assert_eq!(s.weighted, s.normalized * s.weight);
            assert!((0..=MAX_NODE_SCORE).contains(&s.normalized));
        }
    }
    assert!(e.nodes[1].total > e.nodes[0].total);
    assert_eq!(e.outcome.decision.node(), Some(NodeId(1)));
}

/// schedule_one.go selectHost (v1.33): uniform among the top scorers; seeded, so the same seed
/// gives the same sequence and over many draws every tied node is chosen.
#[test]
fn ties_are_broken_by_the_seeded_stream() {
    let nodes: Vec<NodeInfo> = (0..4)
        .map(|i| node(&format!("n{i}"), 4000, 10000))
        .collect();
    let p = pod("p", 100, 100);
    let run = |seed| {
        let mut s = KubeScheduler::new(Profile::default(), seed);
        (0..64)
            .map(|_| match s.schedule(&p, &nodes).decision {
                Decision::Bind {
                    node: NodeId(i), ..
                } => i,
                d => panic!("{d:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    let picks = run(7);
    for i in 0..4 {
        assert!(picks.contains(&i), "node {i} never chosen in {picks:?}");
    }
}

/// numFeasibleNodesToFind + nextStartNodeIndex: on 1000 identical nodes, 420 are examined per
/// cycle and the next cycle starts where the last stopped.
#[test]
fn only_a_sample_of_large_clusters_is_examined() {
    let nodes: Vec<NodeInfo> = (0..1000)
        .map(|i| node(&format!("n{i}"), 4000, 10000))
        .collect();
    let mut s = KubeScheduler::new(Profile::default(), 1);
    let e = s.explain(&pod("p", 1, 1), &nodes);
    assert_eq!(e.nodes_to_find, 420);
    assert_eq!(e.nodes.iter().filter(|r| r.examined).count(), 420);
    assert!(e.nodes[419].examined && !e.nodes[420].examined);
    let e = s.explain(&pod("q", 1, 1), &nodes);
    assert!(!e.nodes[419].examined && e.nodes[420].examined && e.nodes[839].examined);
    assert_eq!(e.outcome.work.nodes_filtered, 420);
}

/// DefaultPreemption: the node whose victims have the lowest highest priority wins; victims
/// are only the pods that must go (reprieve), and equal-priority pods are never victims.
#[test]
fn preemption_picks_the_cheapest_node_and_minimal_victims() {
    let mk = |name: &str, prio: i32, cpu: u64| {
        let mut p = pod(name, cpu, 100);
        p.priority = prio;
        Arc::new(p)
    };
    let mut a = node("a", 4000, 10000);
    a.add_pod(mk("a-hi", 5, 2000));
    a.add_pod(mk("a-lo", 1, 2000));
    let mut b = node("b", 4000, 10000);
    b.add_pod(mk("b-mid", 3, 2000));
    b.add_pod(mk("b-mid2", 3, 2000));
    let mut p = pod("urgent", 2000, 100);
    p.priority = 10;
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&p, &vec![a.clone(), b])
        .decision;
    match d {
        Decision::Preempt { node, victims, why } => {
            assert_eq!(node, NodeId(0), "a's victims have priority 1 < b's 3");
            assert_eq!(victims, vec!["default/a-lo".to_string()]);
            assert!(why.to_string().contains("Insufficient cpu"));
        }
        other => panic!("{other:?}"),
    }
    // Same priority cannot preempt.
    let mut peer = pod("peer", 2000, 100);
    peer.priority = 1;
    let mut only = node("only", 4000, 10000);
    only.add_pod(mk("x", 1, 4000));
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&peer, &vec![only.clone()])
        .decision;
    assert!(matches!(d, Decision::Unschedulable(_)), "{d:?}");
    // preemptionPolicy: Never.
    let mut polite = p.clone();
    polite.never_preempt = true;
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&polite, &vec![a])
        .decision;
    assert!(matches!(d, Decision::Unschedulable(_)));
}

/// Preemption reprieves pods on the devices they really hold: with device 0 shared by Y and V
/// and device 1 by X, a whole-GPU pod needs Y and V gone (freeing device 0), not V alone
/// (which a default re-placement of the spared pods would suggest: X and Y packed together).
#[test]
fn preemption_keeps_spared_pods_on_their_devices() {
    let mk = |name: &str, gpu: u64| {
        let mut p = pod(name, 100, 100);
        p.requests.gpu_milli = gpu;
        Arc::new(p)
    };
    let mut n = node("g", 4000, 10000);
    n.allocatable.gpu_milli = 2000;
    n.add_pod_on(mk("x", 300), vec![1]);
    n.add_pod_on(mk("y", 300), vec![0]);
    n.add_pod_on(mk("v", 600), vec![0]);
    let mut p = pod("whole", 100, 100);
    p.requests.gpu_milli = 1000;
    p.priority = 10;
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&p, &vec![n])
        .decision;
    match d {
        Decision::Preempt { victims, .. } => {
            assert_eq!(
                victims,
                vec!["default/y".to_string(), "default/v".to_string()]
            );
        }
        other => panic!("{other:?}"),
    }
}

/// NodeAffinity/TaintToleration failures are UnschedulableAndUnresolvable: preemption does
/// not consider those nodes.
#[test]
fn preemption_skips_unresolvable_nodes() {
    let mut a = node("a", 4000, 10000);
    a.taints = vec![taint("dedicated", "x", TaintEffect::NoSchedule)];
    let mut low = pod("low", 4000, 100);
    low.priority = 0;
    a.add_pod(Arc::new(low));
    let mut p = pod("p", 1000, 100);
    p.priority = 100;
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&p, &vec![a])
        .decision;
    assert!(matches!(d, Decision::Unschedulable(_)), "{d:?}");
}

mod properties {
    use super::*;
    use crate::swarm::SwarmScheduler;
    use proptest::prelude::*;

    fn cluster(spec: &[(u64, u64, u64, bool, bool)]) -> Vec<NodeInfo> {
        spec.iter()
            .enumerate()
            .map(|(i, &(cpu, used, mem_gib, cordoned, tainted))| {
                let mut n = node(&format!("n{i}"), cpu, mem_gib << 30);
                n.requested.cpu_milli = used.min(cpu);
                n.unschedulable = cordoned;
                if tainted {
                    n.taints = vec![taint("dedicated", "x", TaintEffect::NoSchedule)];
                }
                n
            })
            .collect()
    }

    /// Feasible by the rules both pipelines share here: not cordoned, no untolerated
    /// NoSchedule taint (Kubernetes only; Swarm ignores taints), and room for the request.
    fn feasible(n: &NodeInfo, p: &PodSpec, honour_taints: bool) -> bool {
        !n.unschedulable && (!honour_taints || n.taints.is_empty()) && p.requests.fits(&n.free())
    }

    proptest! {
        /// Kubernetes and Swarm bind only to feasible nodes, never report a pod unschedulable
        /// when a node is feasible, and decide the same way for the same seed.
        #[test]
        fn pipelines_bind_iff_a_node_is_feasible(
            spec in proptest::collection::vec((1000u64..16000, 0u64..16000, 1u64..64, any::<bool>(), any::<bool>()), 1..40),
            cpu in 0u64..8000,
            mem_gib in 0u64..32,
            seed in any::<u64>(),
        ) {
            let nodes = cluster(&spec);
            let p = pod("p", cpu, mem_gib << 30);
            for (name, honour) in [("kubernetes", true), ("swarm", false)] {
                let mut a: Box<dyn Scheduler> = if name == "kubernetes" {
                    Box::new(KubeScheduler::new(Profile::default(), seed))
                } else {
                    Box::new(SwarmScheduler::new(seed))
                };
                let any = nodes.iter().any(|n| feasible(n, &p, honour));
                let d = a.schedule(&p, &nodes).decision;
                match &d {
                    Decision::Bind { node: NodeId(i), .. } => prop_assert!(feasible(&nodes[*i], &p, honour), "{name} bound to an infeasible node"),
                    Decision::Unschedulable(_) => prop_assert!(!any, "{name}: feasible node missed"),
                    Decision::Preempt { .. } => prop_assert!(!any, "{name}: preempted although a node was feasible"),
                }
                let mut b: Box<dyn Scheduler> = if name == "kubernetes" {
                    Box::new(KubeScheduler::new(Profile::default(), seed))
                } else {
                    Box::new(SwarmScheduler::new(seed))
                };
                prop_assert_eq!(b.schedule(&p, &nodes).decision, d);
            }
        }
    }
}

mod index_equivalence {
    use super::*;
    use crate::cluster::Cluster;
    use proptest::prelude::*;

    fn term(app: u8, key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            selector: selector(&[("app", &format!("a{app}"))]),
            namespaces: vec![],
            topology_key: key.into(),
        }
    }

    /// A pod of app `app` with optional terms: kind 0 none, 1 required anti-affinity on
    /// hostname, 2 required affinity on zone, 3 preferred affinity on zone, 4 hard spread on
    /// zone, 5 soft spread on zone with a two-label selector.
    fn mk_pod(i: usize, app: u8, kind: u8, ns: u8) -> PodSpec {
        let mut p = pod(&format!("p{i}"), 100, 100);
        p.namespace = format!("ns{ns}");
        // Odd pods carry a second label, so selectors built from labels (system default
        // spread) take both the indexed single-label path and the walk.
        p.labels = if i.is_multiple_of(2) {
            labels(&[("app", &format!("a{app}"))])
        } else {
            labels(&[("app", &format!("a{app}")), ("tier", "t")])
        };
        p.owner = format!("a{app}");
        let hostname = "kubernetes.io/hostname";
        match kind {
            1 => p.pod_anti_affinity.required = vec![term(app, hostname)],
            2 => p.pod_affinity.required = vec![term(app, "topology.kubernetes.io/zone")],
            3 => {
                p.pod_affinity.preferred =
                    vec![(7, term((app + 1) % 3, "topology.kubernetes.io/zone"))]
            }
            4 | 5 => {
                p.topology_spread = vec![TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: "topology.kubernetes.io/zone".into(),
                    when_unsatisfiable: if kind == 4 {
                        WhenUnsatisfiable::DoNotSchedule
                    } else {
                        WhenUnsatisfiable::ScheduleAnyway
                    },
                    selector: if kind == 4 || i.is_multiple_of(2) {
                        selector(&[("app", &format!("a{app}"))])
                    } else {
                        selector(&[("app", &format!("a{app}")), ("tier", "t")])
                    },
                    min_domains: 1,
                    node_affinity_policy: InclusionPolicy::Honor,
                    node_taints_policy: InclusionPolicy::Ignore,
                }]
            }
            _ => {}
        }
        p
    }

    proptest! {
        /// The cluster index is an optimisation only: explanations with it equal those from
        /// walking the nodes, after any sequence of binds and unbinds.
        #[test]
        fn index_and_walk_explain_the_same(
            zones in proptest::collection::vec(0u8..4, 1..12),
            binds in proptest::collection::vec((0usize..12, 0u8..3, 0u8..6, 0u8..2), 0..40),
            unbinds in proptest::collection::vec(0usize..40, 0..10),
            incoming in (0u8..3, 0u8..6, 0u8..2),
            seed in any::<u64>(),
            shared_hostname in any::<bool>(),
        ) {
            let nodes: Vec<NodeInfo> = zones.iter().enumerate().map(|(i, z)| {
                let mut n = node(&format!("n{i}"), 64_000, 1 << 40);
                // Two nodes with one hostname label: the hostname spread score still counts
                // each node's own pods (scoring.go).
                if shared_hostname && i < 2 {
                    n.labels.insert("kubernetes.io/hostname".into(), "shared".into());
                }
                // Zone 3 means unlabelled, so both the all-nodes-labelled and the partial
                // cases occur.
                if *z < 3 {
                    n.labels.insert("topology.kubernetes.io/zone".into(), format!("z{z}"));
                }
                n
            }).collect();
            let mut cluster = Cluster::new(nodes);
            let mut placed = Vec::new();
            for (k, (n, app, kind, ns)) in binds.iter().enumerate() {
                let n = n % zones.len();
                let p = mk_pod(k, *app, *kind, *ns);
                placed.push((n, p.namespace.clone(), p.name.clone()));
                // The nodes have room for every bind.
                cluster.bind(NodeId(n), Arc::new(p), vec![]).unwrap();
            }
            for u in unbinds {
                if let Some((n, ns, name)) = placed.get(u) {
                    cluster.unbind(NodeId(*n), ns, name);
                }
            }
            let walk: Vec<NodeInfo> = cluster.nodes().to_vec();
            let p = mk_pod(998 + usize::from(incoming.2), incoming.0, incoming.1, incoming.2);
            let with_index = KubeScheduler::new(Profile::default(), seed).explain(&p, &cluster);
            let without = KubeScheduler::new(Profile::default(), seed).explain(&p, &walk);
            prop_assert_eq!(with_index, without);
        }
    }
}

/// metav1.LabelSelectorAsSelector: `{}` in an affinity term selects every pod (unlike a spread
/// constraint's selector, which then counts none).
#[test]
fn empty_affinity_selector_selects_every_pod() {
    let mut busy = node("busy", 4000, 10000);
    busy.add_pod(bound("other", &[("app", "x")]));
    let idle = node("idle", 4000, 10000);
    let mut p = pod("loner", 100, 100);
    p.pod_anti_affinity.required = vec![PodAffinityTerm {
        selector: Some(LabelSelector::default()),
        namespaces: vec![],
        topology_key: "kubernetes.io/hostname".into(),
    }];
    let nodes = vec![busy, idle];
    let e = KubeScheduler::new(Profile::default(), 1).explain(&p, &nodes);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't match pod anti-affinity rules"]
    );
    assert!(e.nodes[1].feasible);
    let with_index =
        KubeScheduler::new(Profile::default(), 1).explain(&p, &crate::Cluster::new(nodes));
    assert_eq!(with_index, e);
}

/// scoring.go PreScore: a feasible node without the zone label forms the "" domain, which
/// widens the zone weight to ln(3 + 2). System defaults (hostname skew 3, zone skew 5); node a
/// (zone z1) runs 3 matching pods, b (z2) none, c (no zone) none:
/// a = round(3·ln5 + 2 + 3·ln5 + 4) = 16, b = 2 + 4 = 6, c = 2 (no zone term);
/// normalized 100·(16 + 2 − s)/16 = 12, 75, 100.
#[test]
fn nodes_without_the_key_form_the_empty_domain() {
    let mut a = node("a", 64_000, 1 << 40);
    a.labels = labels(&[("topology.kubernetes.io/zone", "z1")]);
    for i in 0..3 {
        a.add_pod(bound(&format!("f{i}"), &[("app", "foo")]));
    }
    let mut b = node("b", 64_000, 1 << 40);
    b.labels = labels(&[("topology.kubernetes.io/zone", "z2")]);
    let c = node("c", 64_000, 1 << 40);
    let mut p = pod("f9", 100, 100);
    p.labels = labels(&[("app", "foo")]);
    p.owner = "foo".into();
    let nodes = vec![a, b, c];
    for e in [
        KubeScheduler::new(Profile::default(), 1).explain(&p, &nodes),
        KubeScheduler::new(Profile::default(), 1).explain(&p, &crate::Cluster::new(nodes.clone())),
    ] {
        let got: Vec<(i64, i64)> = e
            .nodes
            .iter()
            .map(|r| {
                let s = r
                    .scores
                    .iter()
                    .find(|s| s.plugin == Plugin::PodTopologySpread)
                    .unwrap();
                (s.raw, s.normalized)
            })
            .collect();
        assert_eq!(got, vec![(16, 12), (6, 75), (2, 100)]);
    }
}

/// A profile's DoNotSchedule default constraints are enforced by the filter
/// (podtopologyspread/common.go splits defaults by whenUnsatisfiable).
#[test]
fn hard_default_constraints_filter() {
    let yaml = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n  - name: PodTopologySpread\n    args:\n      defaultingType: List\n      defaultConstraints:\n      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}\n";
    let profile = config::parse(yaml, None).unwrap().profile;
    let mut a = node("a", 64_000, 1 << 40);
    a.add_pod(bound("w1", &[("app", "web")]));
    let b = node("b", 64_000, 1 << 40);
    let mut p = pod("w2", 100, 100);
    p.labels = labels(&[("app", "web")]);
    p.owner = "web".into();
    let e = KubeScheduler::new(profile, 1).explain(&p, &vec![a, b]);
    assert_eq!(
        e.nodes[0].reasons,
        vec!["node(s) didn't match pod topology spread constraints"]
    );
    assert!(e.nodes[1].feasible);
}

/// Re-enabling a plugin without a weight gives it weight 1: the user's entry replaces the
/// default one and framework.go turns 0 into 1.
#[test]
fn re_enabled_plugins_without_weight_get_weight_one() {
    let yaml = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    multiPoint:\n      enabled:\n      - name: TaintToleration\n      - name: NodeAffinity\n        weight: 7\n";
    let p = config::parse(yaml, None).unwrap().profile;
    let w = |pl: Plugin| p.scores.iter().find(|(x, _)| *x == pl).map(|(_, w)| *w);
    assert_eq!(w(Plugin::TaintToleration), Some(1));
    assert_eq!(w(Plugin::NodeAffinity), Some(7));
    assert_eq!(
        w(Plugin::InterPodAffinity),
        Some(2),
        "untouched plugins keep their defaults"
    );
}

/// balanced_allocation.go PreScore looks only at the configured resources: a pod requesting
/// only GPUs skips the plugin under the default cpu+memory configuration.
#[test]
fn balanced_allocation_skip_uses_configured_resources() {
    let mut n = node("g", 4000, 10000);
    n.allocatable.gpu_milli = 8000;
    let mut p = pod("g", 0, 0);
    p.requests.gpu_milli = 1000;
    let s = scores_of(
        Plugin::NodeResourcesBalancedAllocation,
        Profile::default(),
        &p,
        &[n],
    );
    assert_eq!(s, vec![-1]);
}

/// Preemption re-runs every filter on the trimmed node: a node rejected for anti-affinity
/// against a higher-priority pod cannot be a candidate, so there is no victim-less
/// "preemption"; against a lower-priority pod, that pod is the victim.
#[test]
fn preemption_respects_hard_constraints() {
    let guard = |prio: i32| {
        let mut g = pod("guard", 100, 100);
        g.labels = labels(&[("app", "db")]);
        g.priority = prio;
        Arc::new(g)
    };
    let mut p = pod("db-2", 100, 100);
    p.labels = labels(&[("app", "db")]);
    p.priority = 5;
    p.pod_anti_affinity.required = vec![PodAffinityTerm {
        selector: selector(&[("app", "db")]),
        namespaces: vec![],
        topology_key: "kubernetes.io/hostname".into(),
    }];
    let mut low = pod("filler", 100, 100);
    low.priority = 0;
    let mut n = node("n", 4000, 10000);
    n.add_pod(guard(10));
    n.add_pod(Arc::new(low.clone()));
    let d = KubeScheduler::new(Profile::default(), 1)
        .schedule(&p, &vec![n])
        .decision;
    assert!(matches!(d, Decision::Unschedulable(_)), "{d:?}");

    let mut m = node("m", 4000, 10000);
    m.add_pod(guard(1));
    m.add_pod(Arc::new(low));
    match KubeScheduler::new(Profile::default(), 1)
        .schedule(&p, &vec![m])
        .decision
    {
        Decision::Preempt { victims, .. } => assert_eq!(victims, vec!["default/guard".to_string()]),
        d => panic!("{d:?}"),
    }
}

/// A plugin enabled twice in one list, or configured twice, is refused as kube-scheduler
/// refuses it: which weight or args would count is ambiguous.
#[test]
fn a_plugin_listed_twice_is_refused() {
    let head =
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n";
    let twice = format!("{head}- plugins:\n    score:\n      enabled:\n      - {{name: NodeResourcesFit, weight: 5}}\n      - {{name: NodeResourcesFit, weight: 3}}\n");
    let e = config::parse(&twice, None).err().unwrap();
    assert_eq!(e.field, "profiles[0].plugins.score.enabled[1].name", "{e}");
    assert!(e.message.contains("enabled twice"), "{e}");
    let configured = format!("{head}- pluginConfig:\n  - {{name: NodeResourcesFit, args: {{}}}}\n  - {{name: NodeResourcesFit, args: {{}}}}\n");
    let e = config::parse(&configured, None).err().unwrap();
    assert_eq!(e.field, "profiles[0].pluginConfig[1].name", "{e}");
    // Once in each of two extension points is fine.
    let both = format!("{head}- plugins:\n    score:\n      enabled:\n      - {{name: NodeResourcesFit, weight: 5}}\n    filter:\n      enabled:\n      - {{name: NodeResourcesFit}}\n");
    assert!(config::parse(&both, None).is_ok());
}
