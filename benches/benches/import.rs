//! Trace import: Google cluster-data 2011 `task_events` records per second, on one thread.
//! Target (issue 18): at least 1 million records per second on one core. The records are
//! generated in the format: SUBMIT, SCHEDULE and FINISH for every task, and for every other
//! one an EVICT, a resubmission and a second SCHEDULE (4.5 events per task; the real trace
//! has about 5.8).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use orchsim_sim::import::google_2011::{import, Options};
use orchsim_sim::import::Input;

/// `tasks` tasks' events, in time order per task (jobs of ten tasks).
fn task_events(tasks: u64) -> (String, u64) {
    let mut s = String::new();
    let mut records = 0;
    for t in 0..tasks {
        let (job, index) = (6_000_000_000 + t / 10, t % 10);
        let at = 600_000_000 + t * 1_000;
        let mut push = |dt: u64, event: u32| {
            s.push_str(&format!(
                "{},,{job},{index},{},{event},kdjZmR5DqVAJVcLzuYpSB2Zcn6bK3kiE=,2,9,0.0625,0.0159,0.0002,0\n",
                at + dt,
                t % 12_500
            ));
            records += 1;
        };
        push(0, 0);
        push(1_000, 1);
        if t % 2 == 0 {
            push(2_000, 2);
            push(3_000, 0);
            push(4_000, 1);
        }
        push(9_000_000, 4);
    }
    (s, records)
}

fn google_2011(c: &mut Criterion) {
    let (text, records) = task_events(200_000);
    let mut g = c.benchmark_group("import_google_2011");
    g.sample_size(10);
    g.throughput(Throughput::Elements(records));
    g.bench_function("task_events", |b| {
        b.iter(|| {
            import(
                Vec::new(),
                vec![Input::text("task_events", &text)],
                &Options::default(),
                &mut |_| {},
            )
            .expect("valid records")
        })
    });
    g.finish();
}

criterion_group!(benches, google_2011);
criterion_main!(benches);
