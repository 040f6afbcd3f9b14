//! Kernel throughput: raw events per second with a no-op handler, and the quickstart model.
//! Target (issue 3): at least 20 million no-op events per second on one core.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use orchsim_benches::{quickstart, run_noop};

const EVENTS: u64 = 1_000_000;

fn noop(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernel/noop");
    g.throughput(Throughput::Elements(EVENTS));
    for in_flight in [16u32, 1_024, 65_536] {
        g.bench_with_input(
            BenchmarkId::new("in_flight", in_flight),
            &in_flight,
            |b, &n| b.iter(|| run_noop(n, EVENTS)),
        );
    }
    g.finish();
}

fn quickstart_model(c: &mut Criterion) {
    let sc = quickstart();
    let events = orchsim_sim::run(&sc)
        .expect("quickstart runs")
        .summary
        .events;
    let mut g = c.benchmark_group("sim/quickstart");
    g.throughput(Throughput::Elements(events));
    g.bench_function("run", |b| {
        b.iter(|| orchsim_sim::run(&sc).expect("quickstart runs"))
    });
    g.finish();
}

criterion_group!(benches, noop, quickstart_model);
criterion_main!(benches);
