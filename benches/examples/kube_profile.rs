//! Schedules pods from the benchmark mix with the Kubernetes pipeline on 5,000 nodes, for
//! profiling (`perf record cargo run --release -p orchsim-benches --example kube_profile`).
fn main() {
    let mut nodes = orchsim_benches::bench_cluster(5_000, 10);
    let mut s = orchsim_sched::by_name("kubernetes", 1).expect("listed");
    let t = std::time::Instant::now();
    let n = orchsim_benches::schedule_stream(s.as_mut(), &mut nodes, 1_000_000, 5_000);
    let secs = t.elapsed().as_secs_f64();
    println!("{n} pods in {secs:.3} s: {:.0} pods/s", n as f64 / secs);
}
