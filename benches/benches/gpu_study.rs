//! One experiment of the ATC'23 GPU fragmentation study (`scenarios/fgd-atc23.toml`: 1,213
//! nodes, ~10,800 tasks inflated to 130% of GPU capacity) per policy, on one thread.
//! Target (issue 8): under 5 s per experiment on one core (the authors' simulator takes
//! about 10 minutes on 2 vCPUs by their account).

use criterion::{criterion_group, criterion_main, Criterion};
use orchsim_sched::gpu::policy::POLICIES;
use orchsim_sim::gpu_study::{parse, run_experiment, StudyInput};

fn study(c: &mut Criterion) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).expect("repository file");
    let scenario = read("scenarios/fgd-atc23.toml");
    let study = parse("fgd-atc23.toml", &scenario).expect("valid scenario");
    let nodes = read("data/alibaba-gpu-v2023/openb_node_list_all_node.csv");
    let tasks = read("data/alibaba-gpu-v2023/openb_pod_list_default.csv");
    let input = StudyInput::load(&study, ("nodes", &nodes), ("tasks", &tasks)).expect("trace");
    let mut g = c.benchmark_group("gpu_study_experiment");
    g.sample_size(10);
    for policy in POLICIES {
        g.bench_function(policy.name(), |b| {
            b.iter(|| run_experiment(&study, &input, policy, 42))
        });
    }
    g.finish();
}

criterion_group!(benches, study);
criterion_main!(benches);
