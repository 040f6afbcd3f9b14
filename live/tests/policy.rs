//! NetworkPolicy for real: on Calico's datapaths the kernel allows and drops exactly the
//! connections the NetworkPolicy semantics (`orchsim_net::policy`) allow and deny, pod to pod
//! within and across hosts; on flannel the same policies are accepted and not enforced, and
//! said so. Needs root, network namespaces and nftables.

use std::time::Duration;

use orchsim_live::datapath::{self, Topology};
use orchsim_live::policy::{self, Enforcement};
use orchsim_live::traffic;
use orchsim_net::policy::{parse_yaml, Endpoint, PolicySet, Protocol};
use orchsim_net::{Base, Datapath};

const POLICIES: &str = "
# Only web pods reach the database, and only on 5201.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - {protocol: TCP, port: 5201}
---
# The batch pod may talk to nothing but the web pods' 5202 and the cache.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: batch-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: batch}}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - {port: 5202}
  - to:
    - podSelector: {matchLabels: {app: cache}}
---
# The cache takes only web's 5202: batch, beside it on the same host, may send (its egress
# allows it) but must not arrive.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cache-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cache}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - {port: 5202}
";

/// Host 0: web, db; host 1: batch, cache.
fn endpoints(net: &orchsim_live::datapath::Network) -> Vec<Endpoint> {
    let apps = ["web", "db", "batch", "cache"];
    net.pods
        .iter()
        .zip(apps)
        .map(|(p, app)| Endpoint {
            name: p.name.clone(),
            namespace: "shop".into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ip: Some(p.ip),
        })
        .collect()
}

/// Every ordered pair of pods on both ports: (src, dst, port, connected).
fn knock_everywhere(net: &orchsim_live::datapath::Network) -> Vec<(usize, usize, u16, bool)> {
    let ports = [5201, 5202];
    let _listeners: Vec<_> = net
        .pods
        .iter()
        .flat_map(|p| ports.map(|port| traffic::listener(p, port).unwrap()))
        .collect();
    let mut out = Vec::new();
    for (i, a) in net.pods.iter().enumerate() {
        for (j, z) in net.pods.iter().enumerate().filter(|(j, _)| *j != i) {
            for port in ports {
                let ok = traffic::can_connect(a, z, port, Duration::from_millis(400)).unwrap();
                out.push((i, j, port, ok));
            }
        }
    }
    out
}

#[test]
fn calico_enforces_exactly_what_the_policies_say_and_flannel_says_it_does_not() {
    let (policies, skipped) = parse_yaml("policies.yaml", POLICIES).unwrap();
    assert!(skipped.is_empty());
    let set = PolicySet {
        policies,
        namespace_labels: Default::default(),
    };
    let topo = Topology {
        hosts: 2,
        pods_per_host: 2,
        ..Topology::default()
    };
    for b in [Base::CalicoBgp, Base::CalicoVxlan] {
        let net = datapath::build(Datapath::plain(b), topo).unwrap();
        let eps = endpoints(&net);
        let e = policy::enforce(&net, &eps, &set).unwrap();
        // db and cache are isolated for ingress, batch for egress.
        assert_eq!(e, Enforcement::Enforced { chains: 3 }, "{}", b.name());
        // Programming again replaces the rules rather than stacking them.
        assert_eq!(policy::enforce(&net, &eps, &set).unwrap(), e);
        let mut denied = 0;
        for (i, j, port, ok) in knock_everywhere(&net) {
            let want = set.verdict(&eps[i], &eps[j], Protocol::Tcp, port).allowed();
            assert_eq!(
                ok,
                want,
                "{}: {} ({}) → {} ({}) port {port}: connected {ok}, the policies say {want}",
                b.name(),
                eps[i].name,
                eps[i].labels["app"],
                eps[j].name,
                eps[j].labels["app"]
            );
            denied += usize::from(!want);
        }
        // The case has both answers, within and across hosts; batch → cache, two policed pods
        // of one host where only the destination's side denies, is among the denied.
        assert!((6..24).contains(&denied), "{denied} of 24 denied");
        let (batch, cache) = (&eps[2], &eps[3]);
        assert!(set
            .verdict(batch, cache, Protocol::Tcp, 5202)
            .egress
            .allows());
        assert!(!set.verdict(batch, cache, Protocol::Tcp, 5202).allowed());
        net.teardown().unwrap();
    }

    let net = datapath::build(Datapath::plain(Base::FlannelVxlan), topo).unwrap();
    let eps = endpoints(&net);
    match policy::enforce(&net, &eps, &set).unwrap() {
        Enforcement::NotEnforced(why) => assert!(why.contains("flannel"), "{why}"),
        e => panic!("flannel cannot enforce policy, got {e:?}"),
    }
    assert!(
        knock_everywhere(&net).iter().all(|k| k.3),
        "on flannel every pod still reaches every pod"
    );
    net.teardown().unwrap();
}
