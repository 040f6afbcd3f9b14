//! Trace import: Google cluster-data 2011 `task_events` and 2019 `instance_events` records
//! per second, on one thread. Target (issue 18): at least 1 million 2011 records per second on
//! one core. The records are generated in each format: SUBMIT, SCHEDULE and FINISH for every
//! task, and for every other one an EVICT, a resubmission and a second SCHEDULE (4.5 events
//! per task; the real 2011 trace has about 5.8). The 2019 records are BigQuery's JSON lines,
//! INT64 columns as strings as the export writes them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use orchsim_sim::import::borg::Options;
use orchsim_sim::import::{google_2011, google_2019, Input};

/// The events of `tasks` tasks (jobs of ten), in time order per task, one line each as
/// `line(time, job, index, machine, event)` writes it; events are 2011's numbers (SUBMIT 0,
/// SCHEDULE 1, EVICT 2, FINISH 4).
fn events(tasks: u64, line: impl Fn(u64, u64, u64, u64, u32) -> String) -> (String, u64) {
    let mut s = String::new();
    let mut records = 0;
    for t in 0..tasks {
        let (job, index) = (6_000_000_000 + t / 10, t % 10);
        let at = 600_000_000 + t * 1_000;
        let mut push = |dt: u64, event: u32| {
            s.push_str(&line(at + dt, job, index, t % 12_500, event));
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

fn task_events_2011(tasks: u64) -> (String, u64) {
    events(tasks, |time, job, index, machine, event| {
        format!("{time},,{job},{index},{machine},{event},kdjZmR5DqVAJVcLzuYpSB2Zcn6bK3kiE=,2,9,0.0625,0.0159,0.0002,0\n")
    })
}

fn instance_events_2019(tasks: u64) -> (String, u64) {
    events(tasks, |time, job, index, machine, event| {
        // 2019's numbers: SUBMIT 0, SCHEDULE 3, EVICT 4, FINISH 6.
        let event = [0, 3, 4, 0, 6][event as usize];
        format!("{{\"time\":\"{time}\",\"type\":\"{event}\",\"collection_id\":\"{job}\",\"scheduling_class\":\"2\",\"missing_type\":null,\"collection_type\":\"0\",\"priority\":\"200\",\"alloc_collection_id\":\"0\",\"instance_index\":\"{index}\",\"machine_id\":\"{machine}\",\"alloc_instance_index\":\"-1\",\"resource_request\":{{\"cpus\":0.0625,\"memory\":0.0159}},\"constraint\":[]}}\n")
    })
}

fn google_2011(c: &mut Criterion) {
    let (text, records) = task_events_2011(200_000);
    let mut g = c.benchmark_group("import_google_2011");
    g.sample_size(10);
    g.throughput(Throughput::Elements(records));
    g.bench_function("task_events", |b| {
        b.iter(|| {
            google_2011::import(
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

fn google_2019(c: &mut Criterion) {
    let (text, records) = instance_events_2019(50_000);
    let mut g = c.benchmark_group("import_google_2019");
    g.sample_size(10);
    g.throughput(Throughput::Elements(records));
    g.bench_function("instance_events", |b| {
        b.iter(|| {
            google_2019::import(
                Vec::new(),
                vec![Input::text("instance_events", &text)],
                &Options::default(),
                &mut |_| {},
            )
            .expect("valid records")
        })
    });
    g.finish();
}

criterion_group!(benches, google_2011, google_2019);
criterion_main!(benches);
