//! Pods scheduled per second by every algorithm on 1,000, 5,000 and 12,500 nodes (the Google
//! 2011 cell's size) with the label/taint/affinity mix of `orchsim_benches::bench_cluster`.
//! Each iteration schedules and binds a batch of pods on a fresh copy of the cluster (making
//! and dropping the copy is not timed). Targets (issue 19): the Kubernetes pipeline places at least 10,000 pods/s
//! on 5,000 nodes and 4,000 on 12,500; bin-packing at least 50,000 on 12,500.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use orchsim_benches::{bench_cluster, schedule_stream};

const BATCH: usize = 200;

fn schedulers(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for nodes in [1_000usize, 5_000, 12_500] {
        let cluster = bench_cluster(nodes, 10);
        for name in orchsim_sched::ALGORITHMS {
            g.bench_with_input(BenchmarkId::new(*name, nodes), &cluster, |b, cluster| {
                let mut s = orchsim_sched::by_name(name, 1).expect("listed algorithm");
                b.iter_batched(
                    || cluster.clone(),
                    // The cluster is returned so criterion drops it after timing: dropping
                    // 12,500 nodes' pods and maps costs more than scheduling the batch.
                    |mut nodes| {
                        schedule_stream(s.as_mut(), &mut nodes, 1_000_000, BATCH);
                        nodes
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, schedulers);
criterion_main!(benches);
