//! Runs the quickstart model repeatedly, for profiling the simulator's hot path
//! (`perf record cargo run --release -p orchsim-benches --example quickstart_profile`).
fn main() {
    let sc = orchsim_benches::quickstart();
    let t = std::time::Instant::now();
    let mut events = 0;
    for _ in 0..50 {
        events += orchsim_sim::run(&sc)
            .expect("quickstart runs")
            .summary
            .events;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{events} events in {secs:.3} s: {:.2} M events/s",
        events as f64 / secs / 1e6
    );
}
