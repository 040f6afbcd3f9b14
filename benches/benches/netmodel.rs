//! The network models' speed (issue 6 targets): simulated stage traversals per second of the
//! packet-level engine on one core (target: at least 10 million), and one max-min
//! recomputation of the flow-level engine for 10,000 flows on 1,000 hosts.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use orchsim_net::flow::{allocate, random_flows};
use orchsim_net::packet::{stream, StreamConfig};
use orchsim_net::{Datapath, Options, Pipeline, Profile};

fn packet_engine(c: &mut Criterion) {
    let profile = Profile::default_profile();
    let platform = profile
        .platform("cilium-bench")
        .expect("default platform")
        .clone();
    let mut g = c.benchmark_group("net_packet_stream");
    g.sample_size(20);
    // 20 ms simulated after 5 ms of warm-up, one flow at 100 GbE.
    let cfg = StreamConfig {
        flows: 1,
        warmup_ns: Some(5_000_000),
        measure_ns: Some(20_000_000),
    };
    for name in [
        "host",
        "calico-bgp",
        "flannel-vxlan",
        "calico-bgp+wireguard",
        "flannel-udp",
    ] {
        let d: Datapath = name.parse().expect("contract name");
        let pipe = Pipeline::new(&profile, &platform, d, &Options::default());
        let events = stream(&pipe, &cfg).stage_events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| b.iter(|| stream(&pipe, &cfg)));
    }
    g.finish();
}

fn flow_engine(c: &mut Criterion) {
    let profile = Profile::default_profile();
    let platform = profile
        .platform("reference-10g")
        .expect("default platform")
        .clone();
    let datapaths: Vec<Datapath> = Datapath::all().collect();
    let flows = random_flows(1000, 10_000, &datapaths, 7);
    let mut g = c.benchmark_group("net_flow_level");
    g.sample_size(10);
    g.bench_function("10k_flows_1k_hosts", |b| {
        b.iter(|| allocate(&profile, &platform, 1000, &flows, &Options::default()))
    });
    g.finish();
}

criterion_group!(benches, packet_engine, flow_engine);
criterion_main!(benches);
