//! Pod addresses: a host's subnet runs out and pods wait for a freed address; an application's
//! pool gives a replacement the address its predecessor gave back; a cluster range too small
//! for its hosts leaves some without a network; and no address is ever held twice at once.

use std::collections::BTreeMap;

use orchsim_sim::{parse, run, PodState, RunResult};

fn no_address_held_twice(r: &RunResult) {
    let mut by_ip: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for l in &r.ip_leases {
        by_ip.entry(l.ip).or_default().push(l);
    }
    for (ip, mut leases) in by_ip {
        leases.sort_by_key(|l| l.from);
        for w in leases.windows(2) {
            let end = w[0].to.expect("a lease followed by another ended");
            assert!(
                end <= w[1].from,
                "{ip} held by pods {} and {} at once",
                w[0].pod,
                w[1].pod
            );
        }
    }
}

const HOST: &str = r#"
name = "ipam"
seed = 1
duration_s = 1000
[[hosts]]
name = "w"
count = 1
cpu_milli = 64000
memory_mib = 262144
"#;

/// A /28 holds 16 addresses, 13 of them for pods (host-local keeps the network, gateway and
/// broadcast addresses): 20 batch pods on one host run 13 at a time, the others waiting in
/// ContainerCreating until one finishes.
#[test]
fn a_full_host_subnet_makes_pods_wait_for_a_freed_address() {
    let text = format!(
        r#"{HOST}
[[workloads]]
name = "batch"
kind = "batch"
arrival_rate_per_s = 1000
max_pods = 20
cpu_milli = 100
memory_mib = 128
duration_s = 100
[ipam]
cluster_cidr = "10.244.0.0/16"
host_prefix = 28
"#
    );
    let r = run(&parse("ipam.toml", &text).unwrap()).unwrap();
    assert_eq!(r.summary.ip_exhaustions, Some(7));
    assert!(r.records.iter().all(|p| p.state == PodState::Finished));
    let mut starts: Vec<f64> = r
        .records
        .iter()
        .map(|p| p.started.unwrap().as_secs_f64())
        .collect();
    starts.sort_by(f64::total_cmp);
    // 13 start at once; the 7 others when the first ones finish, 100 s later.
    assert!(starts[12] < 1.0 && starts[13] >= 100.0, "{starts:?}");
    assert_eq!(r.address_scopes[0].peak, 13);
    assert_eq!(r.address_scopes[0].first.to_string(), "10.244.0.0");
    no_address_held_twice(&r);
}

/// A rolling upgrade of 4 replicas with a pool of 4 addresses, one pod at a time: each new pod
/// takes the address the old one it replaces gave back, so the service keeps its addresses.
#[test]
fn a_pool_gives_replacements_their_predecessors_addresses() {
    let text = format!(
        r#"{HOST}
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 4
cpu_milli = 100
memory_mib = 128
[network]
datapath = "calico-bgp"
[orchestrator]
preset = "kubernetes"
[[upgrades]]
workload = "web"
at_s = 100
max_surge = 0
max_unavailable = 1
[ipam]
pools = {{ web = 4 }}
"#
    );
    let r = run(&parse("ipam.toml", &text).unwrap()).unwrap();
    assert!(r.upgrades[0].finished.is_some());
    let ips = |version: u32| {
        let mut v: Vec<String> = r
            .ip_leases
            .iter()
            .filter(|l| r.records[l.pod].version == version)
            .map(|l| l.ip.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ips(0), ips(1));
    assert_eq!(r.summary.ips_reused, Some(4));
    assert_eq!(r.summary.ip_exhaustions, Some(0));
    // The pool is carved from the top of the range.
    assert_eq!(ips(0)[0], "10.244.255.0");
    no_address_held_twice(&r);
}

/// Marathon's default upgrade starts every new instance before it stops an old one; with a
/// pool only as large as the service, the new instances find no address and the upgrade
/// cannot go on — the pool's exhaustion is what the run reports.
#[test]
fn a_pool_as_small_as_the_service_stalls_a_surging_upgrade() {
    let text = format!(
        r#"{HOST}
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 4
cpu_milli = 100
memory_mib = 128
[network]
datapath = "calico-bgp"
[orchestrator]
preset = "mesos-marathon"
[[upgrades]]
workload = "web"
at_s = 100
[ipam]
pools = {{ web = 4 }}
"#
    );
    let r = run(&parse("ipam.toml", &text).unwrap()).unwrap();
    assert!(r.upgrades[0].finished.is_none());
    assert_eq!(r.summary.ip_exhaustions, Some(4));
    let scope = r
        .address_scopes
        .iter()
        .find(|s| s.scope == "pool web")
        .unwrap();
    assert_eq!((scope.peak, scope.exhaustions), (4, 4));
}

/// A /24 split into /26s has room for 4 hosts: the other 2 get no subnet and run nothing.
#[test]
fn hosts_beyond_the_cluster_range_get_no_network() {
    let text = format!(
        r#"{HOST}
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 60
cpu_milli = 100
memory_mib = 128
[ipam]
cluster_cidr = "10.244.0.0/24"
host_prefix = 26
"#
    )
    .replace("count = 1", "count = 6");
    let r = run(&parse("ipam.toml", &text).unwrap()).unwrap();
    assert_eq!(r.summary.hosts_without_subnet, Some(2));
    for p in &r.records {
        let node = &r.node_names[p.node.unwrap().0];
        assert!(node != "w-4" && node != "w-5", "{} on {node}", p.spec.name);
    }
    no_address_held_twice(&r);
}

#[test]
fn a_pool_needs_a_datapath_that_routes_single_addresses() {
    let text = format!(
        "{HOST}\n[[workloads]]\nname = \"web\"\nkind = \"service\"\narrival_rate_per_s = 1\ncpu_milli = 100\nmemory_mib = 128\n[network]\ndatapath = \"flannel-vxlan\"\n[ipam]\npools = {{ web = 4 }}\n"
    );
    let e = parse("ipam.toml", &text).unwrap_err();
    assert_eq!(e.field, "ipam.pools.web");
    assert!(e.to_string().contains("Calico"), "{e}");
}
