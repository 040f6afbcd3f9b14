//! Each datapath built with the kernel's own devices, the way the real plugin programs them,
//! between hosts that are network namespaces on one underlay.
//!
//! Underlay: host `i` has `eth0` = 198.18.0.(i+1)/24, a veth into the underlay namespace's
//! bridge `br0` (198.18.0.254, the hosts' default gateway). Pods: host `i` owns 198.19.i.0/24
//! (flannel's per-host subnet; Calico's block is its first /26), pod `k` on it is
//! 198.19.i.(k+2). Docker's overlay puts every container of the network in one subnet,
//! 198.19.0.0/16 (host `i`'s containers from 198.19.(100+i).2). All of it is RFC 2544
//! benchmarking space.

use std::fmt::Write;
use std::net::Ipv4Addr;

use orchsim_net::{Base, Datapath, Encryption};
use serde::Serialize;

use crate::flannel_udp::FlannelUdp;
use crate::lab::Lab;
use crate::sys;
use crate::LiveError;

/// The TCP/UDP ports the traffic tools use; the `bridge` datapath publishes them (`-p`).
pub const PORTS: [u16; 3] = [5201, 5202, 5203];

/// Hosts and pods to build.
#[derive(Clone, Copy, Debug)]
pub struct Topology {
    pub hosts: usize,
    pub pods_per_host: usize,
    pub shaping: Shaping,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            hosts: 2,
            pods_per_host: 1,
            shaping: Shaping::default(),
        }
    }
}

/// What each host's underlay link does to what the host sends: a one-way delay (netem) and a
/// rate (netem's with a delay, else a token bucket); 0 is none. Host to host, a packet crosses
/// one such link, so a round trip takes twice the delay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Shaping {
    pub delay_us: u32,
    pub rate_mbit: u32,
}

impl Shaping {
    /// The `tc qdisc … root` arguments for a host's `eth0`, or `None` when unshaped.
    fn qdisc(&self) -> Option<Vec<String>> {
        let rate = format!("{}mbit", self.rate_mbit);
        match (self.delay_us, self.rate_mbit) {
            (0, 0) => None,
            (d, r) if d > 0 => {
                let mut a = vec!["netem".into(), "delay".into(), format!("{d}us")];
                if r > 0 {
                    a.extend(["rate".into(), rate]);
                }
                // Room for what is in flight: netem's default of 1,000 packets drops at
                // 10 Gb/s past 1.2 ms.
                a.extend(["limit".into(), "100000".into()]);
                Some(a)
            }
            (_, r) => {
                // A bucket of 2 ms at the rate (at least 128 KiB, two TSO segments), so the
                // kernel's large segments pass whole; 20 ms of queue behind it.
                let burst = (r as u64 * 1_000_000 / 8 / 500).max(128 << 10);
                Some(vec![
                    "tbf".into(),
                    "rate".into(),
                    rate,
                    "burst".into(),
                    burst.to_string(),
                    "latency".into(),
                    "20ms".into(),
                ])
            }
        }
    }

    /// Why this kernel cannot shape the underlay so, or `None` when it can.
    pub fn unavailable(&self, scratch: &str) -> Option<String> {
        let args = self.qdisc()?;
        let kind = args[0].clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sys::probe_qdisc(scratch, &args).err().map(|e| {
            let what = if kind == "netem" {
                "an underlay delay needs the kernel's netem qdisc (sch_netem)"
            } else {
                "an underlay rate needs the kernel's tbf qdisc (sch_tbf)"
            };
            format!("{what}, which this kernel does not have (`tc qdisc add … {kind}`: {e})")
        })
    }
}

/// One pod: its namespace, its address, and the address another host reaches it at: its own,
/// except behind Docker's bridge NAT, where the first pod of a host is reached at the host's
/// address (its published ports) and the others only from their own host.
#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub ns: String,
    pub host: usize,
    pub ip: Ipv4Addr,
    pub reach: Ipv4Addr,
    /// The host side of its veth (`None` for host networking): where policy is enforced.
    pub host_if: Option<String>,
}

/// A built datapath. Dropping it stops its daemons and removes every namespace.
pub struct Network {
    pub datapath: Datapath,
    /// The underlay's namespace (its bridge joins the hosts; 198.18.0.254 on it reaches them).
    pub underlay: String,
    /// Host namespaces, by host index.
    pub hosts: Vec<String>,
    pub pods: Vec<Pod>,
    /// The MTU the pods' interfaces have.
    pub pod_mtu: u32,
    daemon: Option<FlannelUdp>,
    lab: Lab,
}

impl Drop for Network {
    fn drop(&mut self) {
        // The daemon's sockets and TUN devices live in the host namespaces; stop it first.
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
        let _ = self.lab.teardown();
    }
}

impl Network {
    /// Every namespace this network created.
    pub fn namespaces(&self) -> &[String] {
        self.lab.namespaces()
    }

    /// The underlay side of host `i`'s link (for `ethtool -k`).
    pub fn host_ns(&self, i: usize) -> &str {
        &self.hosts[i]
    }

    /// Stops daemons and removes the namespaces, reporting a failure (drop ignores it).
    pub fn teardown(mut self) -> Result<(), LiveError> {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
        self.lab.teardown()
    }
}

fn underlay_ip(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, host as u8 + 1)
}

fn pod_ip(host: usize, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, host as u8, k as u8 + 2)
}

/// Docker's overlay: one subnet, 198.19.0.0/16, for every container of the network.
fn overlay_ip(host: usize, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, 100 + host as u8, k as u8 + 2)
}

/// A locally administered MAC: `kind` says which device family, then host and index.
fn mac(kind: u8, host: usize, idx: usize) -> String {
    format!("02:4f:53:{kind:02x}:{host:02x}:{idx:02x}")
}

/// Why this kernel cannot build `d`, or `None` when it can. `scratch` is a namespace to try
/// devices in.
pub fn unavailable(d: Datapath, scratch: &str) -> Option<String> {
    let need = |kind: &str, what: &str| {
        sys::probe_link(scratch, kind).err().map(|e| {
            format!("{what} needs a `{kind}` device, which this kernel cannot create (`ip link add … type {kind}`: {e})")
        })
    };
    match d.encryption {
        Some(Encryption::WireGuard) => {
            return Some(
                need("wireguard", "WireGuard encryption").unwrap_or_else(|| {
                    "live mode does not build WireGuard datapaths yet (this kernel has the device)"
                        .into()
                }),
            )
        }
        Some(Encryption::Ipsec) => {
            return Some("live mode does not build IPsec (xfrm) datapaths yet".into())
        }
        None => {}
    }
    match d.base {
        Base::Overlay | Base::FlannelVxlan | Base::CalicoVxlan => need("vxlan", d.base.name()),
        Base::Bridge => need("bridge", "bridge"),
        Base::FlannelUdp => need("tun", "flannel-udp"),
        Base::CalicoIpip => Some(need("ipip", "calico-ipip").unwrap_or_else(|| {
            "live mode does not build calico-ipip yet (this kernel has the ipip device)".into()
        })),
        Base::Host | Base::FlannelHostGw | Base::CalicoBgp => None,
    }
}

/// Builds `d` on `topo`: the underlay, the hosts, the pods and the datapath's devices, routes
/// and rules. Anything that fails removes what was built.
pub fn build(d: Datapath, topo: Topology) -> Result<Network, LiveError> {
    if !(2..=40).contains(&topo.hosts) || !(1..=40).contains(&topo.pods_per_host) {
        return Err(LiveError::Input(format!(
            "a live topology has 2 to 40 hosts and 1 to 40 pods per host, not {} and {}",
            topo.hosts, topo.pods_per_host
        )));
    }
    let mut lab = Lab::new()?;
    let scratch = lab.add_ns("probe")?;
    if let Some(why) = unavailable(d, &scratch) {
        return Err(LiveError::Input(format!("{d}: {why}")));
    }
    if let Some(why) = topo.shaping.unavailable(&scratch) {
        return Err(LiveError::Input(why));
    }
    let underlay = lab.add_ns("u")?;
    sys::ip_batch(
        &underlay,
        "link add br0 type bridge\nlink set br0 up\naddr add 198.18.0.254/24 dev br0\n",
    )?;
    let mut hosts = Vec::new();
    for i in 0..topo.hosts {
        let h = lab.add_ns(&format!("h{i}"))?;
        sys::ip(
            &underlay,
            &[
                "link",
                "add",
                &format!("u{i}"),
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &h,
            ],
        )?;
        sys::ip_batch(
            &underlay,
            &format!("link set u{i} master br0\nlink set u{i} up\n"),
        )?;
        sys::ip_batch(
            &h,
            &format!(
                "addr add {}/24 dev eth0\nlink set eth0 up\nroute add default via 198.18.0.254\n",
                underlay_ip(i)
            ),
        )?;
        sys::sysctl(&h, &["net.ipv4.ip_forward=1"])?;
        if let Some(q) = topo.shaping.qdisc() {
            let mut args = vec!["-n", &h, "qdisc", "add", "dev", "eth0", "root"];
            args.extend(q.iter().map(String::as_str));
            sys::run("tc", &args)?;
        }
        hosts.push(h);
    }
    let mut net = Network {
        datapath: d,
        underlay,
        hosts,
        pods: Vec::new(),
        pod_mtu: d.pod_mtu(1500),
        daemon: None,
        lab,
    };
    match d.base {
        Base::Host => {
            // Host networking: the "pods" are the host namespaces themselves.
            for i in 0..topo.hosts {
                net.pods.push(Pod {
                    name: format!("h{i}"),
                    ns: net.hosts[i].clone(),
                    host: i,
                    ip: underlay_ip(i),
                    reach: underlay_ip(i),
                    host_if: None,
                });
            }
        }
        Base::Bridge => build_docker_bridge(&mut net, topo)?,
        Base::Overlay => build_docker_overlay(&mut net, topo)?,
        Base::FlannelHostGw | Base::FlannelVxlan | Base::FlannelUdp => {
            build_flannel(&mut net, topo)?
        }
        Base::CalicoBgp | Base::CalicoVxlan => build_calico(&mut net, topo)?,
        Base::CalicoIpip => unreachable!("refused by `unavailable` above"),
    }
    Ok(net)
}

/// A permanent FDB entry on a VXLAN device: frames for `mac` go to the VTEP at `dst`.
fn fdb(ns: &str, mac: &str, dev: &str, dst: Ipv4Addr) -> Result<(), LiveError> {
    let dst = dst.to_string();
    sys::run(
        "bridge",
        &[
            "-n",
            ns,
            "fdb",
            "append",
            mac,
            "dev",
            dev,
            "dst",
            &dst,
            "self",
            "permanent",
        ],
    )
    .map(|_| ())
}

/// A pod namespace joined to host `i` by a veth: `eth0` inside, `host_end` in the host.
fn add_pod(net: &mut Network, i: usize, k: usize, host_end: &str) -> Result<String, LiveError> {
    let ns = net.lab.add_ns(&format!("h{i}p{k}"))?;
    sys::ip(
        &net.hosts[i],
        &[
            "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ],
    )?;
    Ok(ns)
}

/// A pod on a bridge with a /24 and a gateway (docker0, cni0 and Docker's overlay bridge).
fn bridged_pod(
    net: &mut Network,
    i: usize,
    k: usize,
    bridge: &str,
    ip: Ipv4Addr,
    gateway: Option<Ipv4Addr>,
) -> Result<String, LiveError> {
    let veth = format!("veth{k}");
    let ns = add_pod(net, i, k, &veth)?;
    let mtu = net.pod_mtu;
    sys::ip_batch(
        &net.hosts[i],
        &format!("link set {veth} mtu {mtu} master {bridge}\nlink set {veth} up\n"),
    )?;
    // Docker's overlay is one /16 across hosts; the bridges of docker0 and cni0 a /24 each.
    let prefix = if bridge == "br0" { 16 } else { 24 };
    let mut b = format!(
        "link set eth0 address {} mtu {mtu}\naddr add {ip}/{prefix} dev eth0\nlink set eth0 up\n",
        mac(0x10, i, k)
    );
    if let Some(gw) = gateway {
        writeln!(b, "route add default via {gw}").expect("writing to a String");
    }
    sys::ip_batch(&ns, &b)?;
    Ok(ns)
}

/// Docker's default bridge across hosts: containers on `docker0` behind NAT, reached through
/// ports published on the host address (`docker run -p`), as libnetwork's bridge driver
/// programs it (MASQUERADE for the bridge subnet, DNAT for published ports).
fn build_docker_bridge(net: &mut Network, topo: Topology) -> Result<(), LiveError> {
    for i in 0..topo.hosts {
        let gw = Ipv4Addr::new(198, 19, i as u8, 1);
        sys::ip_batch(
            &net.hosts[i],
            &format!(
                "link add docker0 type bridge\naddr add {gw}/24 dev docker0\nlink set docker0 up\n"
            ),
        )?;
        for k in 0..topo.pods_per_host {
            let ip = pod_ip(i, k);
            let ns = bridged_pod(net, i, k, "docker0", ip, Some(gw))?;
            net.pods.push(Pod {
                name: format!("h{i}p{k}"),
                ns,
                host: i,
                ip,
                // Only the first container publishes the test ports.
                reach: if k == 0 { underlay_ip(i) } else { ip },
                host_if: Some(format!("veth{k}")),
            });
        }
        let ports = PORTS.map(|p| p.to_string()).join(", ");
        let target = pod_ip(i, 0);
        let rules = format!(
            "table ip orchsim_docker {{
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;
    iifname \"eth0\" tcp dport {{ {ports} }} dnat to {target}
    iifname \"eth0\" udp dport {{ {ports} }} dnat to {target}
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    ip saddr 198.19.{i}.0/24 oifname != \"docker0\" masquerade
  }}
}}
"
        );
        sys::nft(&net.hosts[i], &rules)?;
    }
    Ok(())
}

/// Docker's overlay driver: one L2 network over every host, a bridge per host with a VXLAN
/// device (VNI 256, port 4789) on it, and the peers programmed statically as libnetwork's
/// `peerAdd` does: a neighbour entry per remote container on the VXLAN device (answered by
/// its `proxy` flag) and an FDB entry sending the container's MAC to its host's VTEP.
/// Docker keeps the bridge in a per-network namespace; the devices and the path a packet takes
/// are the same here with the bridge in the host namespace.
fn build_docker_overlay(net: &mut Network, topo: Topology) -> Result<(), LiveError> {
    let mtu = net.pod_mtu;
    for i in 0..topo.hosts {
        sys::ip_batch(
            &net.hosts[i],
            &format!(
                "link add br0 type bridge\nlink set br0 mtu {mtu} up\n\
                 link add vxlan0 mtu {mtu} type vxlan id 256 dstport 4789 local {} dev eth0 nolearning proxy\n\
                 link set vxlan0 master br0\nlink set vxlan0 up\n",
                underlay_ip(i)
            ),
        )?;
        for k in 0..topo.pods_per_host {
            let ip = overlay_ip(i, k);
            let ns = bridged_pod(net, i, k, "br0", ip, None)?;
            net.pods.push(Pod {
                name: format!("h{i}p{k}"),
                ns,
                host: i,
                ip,
                reach: ip,
                host_if: Some(format!("veth{k}")),
            });
        }
    }
    for i in 0..topo.hosts {
        let mut neigh = String::new();
        for j in (0..topo.hosts).filter(|&j| j != i) {
            for k in 0..topo.pods_per_host {
                writeln!(
                    neigh,
                    "neigh add {} lladdr {} dev vxlan0 nud permanent",
                    overlay_ip(j, k),
                    mac(0x10, j, k)
                )
                .expect("writing to a String");
            }
        }
        sys::ip_batch(&net.hosts[i], &neigh)?;
        for j in (0..topo.hosts).filter(|&j| j != i) {
            for k in 0..topo.pods_per_host {
                fdb(&net.hosts[i], &mac(0x10, j, k), "vxlan0", underlay_ip(j))?;
            }
        }
    }
    Ok(())
}

/// flannel: a /24 per host on the `cni0` bridge (the bridge CNI plugin), and between hosts
/// - `host-gw`: a route to each remote /24 via that host's address;
/// - `vxlan`: `flannel.1` (VNI 1, port 8472, no learning) holding 198.19.i.0/32, and per remote
///   host a route `via 198.19.j.0 onlink`, a permanent neighbour entry for that VTEP address
///   and an FDB entry to the host (flanneld's `handleSubnetEvents`);
/// - `udp`: a TUN device `flannel0` holding 198.19.i.0/16 and our daemon (see
///   [`crate::flannel_udp`]).
fn build_flannel(net: &mut Network, topo: Topology) -> Result<(), LiveError> {
    let mtu = net.pod_mtu;
    let base = net.datapath.base;
    for i in 0..topo.hosts {
        let gw = Ipv4Addr::new(198, 19, i as u8, 1);
        sys::ip_batch(
            &net.hosts[i],
            &format!("link add cni0 type bridge\nlink set cni0 mtu {mtu}\naddr add {gw}/24 dev cni0\nlink set cni0 up\n"),
        )?;
        for k in 0..topo.pods_per_host {
            let ip = pod_ip(i, k);
            let ns = bridged_pod(net, i, k, "cni0", ip, Some(gw))?;
            net.pods.push(Pod {
                name: format!("h{i}p{k}"),
                ns,
                host: i,
                ip,
                reach: ip,
                host_if: Some(format!("veth{k}")),
            });
        }
        let mut b = String::new();
        match base {
            Base::FlannelHostGw => {
                for j in (0..topo.hosts).filter(|&j| j != i) {
                    writeln!(
                        b,
                        "route add 198.19.{j}.0/24 via {} dev eth0",
                        underlay_ip(j)
                    )
                    .expect("writing to a String");
                }
            }
            Base::FlannelVxlan => {
                writeln!(
                    b,
                    "link add flannel.1 address {} mtu {mtu} type vxlan id 1 dstport 8472 local {} dev eth0 nolearning\n\
                     addr add 198.19.{i}.0/32 dev flannel.1\nlink set flannel.1 up",
                    mac(0x20, i, 0),
                    underlay_ip(i)
                )
                .expect("writing to a String");
                for j in (0..topo.hosts).filter(|&j| j != i) {
                    writeln!(
                        b,
                        "route add 198.19.{j}.0/24 via 198.19.{j}.0 dev flannel.1 onlink\n\
                         neigh add 198.19.{j}.0 lladdr {} dev flannel.1 nud permanent",
                        mac(0x20, j, 0)
                    )
                    .expect("writing to a String");
                }
            }
            Base::FlannelUdp => {}
            _ => unreachable!("only flannel backends come here"),
        }
        if !b.is_empty() {
            sys::ip_batch(&net.hosts[i], &b)?;
        }
        if base == Base::FlannelVxlan {
            for j in (0..topo.hosts).filter(|&j| j != i) {
                fdb(&net.hosts[i], &mac(0x20, j, 0), "flannel.1", underlay_ip(j))?;
            }
        }
    }
    if base == Base::FlannelUdp {
        let peers: Vec<(Ipv4Addr, Ipv4Addr)> = (0..topo.hosts)
            .map(|j| (Ipv4Addr::new(198, 19, j as u8, 0), underlay_ip(j)))
            .collect();
        net.daemon = Some(FlannelUdp::start(&net.hosts, &peers, mtu)?);
    }
    Ok(())
}

/// Calico: no bridge. Each pod has a /32 and a default route to 169.254.1.1, which the host
/// side of its veth answers by proxy ARP; the host routes the /32 to that veth. Between hosts
/// each host's block (its first /26) is routed
/// - `bgp`: via the host's address, as BIRD installs what BGP learnt;
/// - `vxlan`: via the host's tunnel address on `vxlan.calico` (VNI 4096, port 4789), with a
///   permanent neighbour and FDB entry per remote VTEP (Felix's vxlan manager).
fn build_calico(net: &mut Network, topo: Topology) -> Result<(), LiveError> {
    let mtu = net.pod_mtu;
    let base = net.datapath.base;
    for i in 0..topo.hosts {
        let mut host = String::new();
        let mut sysctls = Vec::new();
        for k in 0..topo.pods_per_host {
            let ip = pod_ip(i, k);
            let veth = format!("cali{i}x{k}");
            let ns = add_pod(net, i, k, &veth)?;
            sys::ip_batch(
                &ns,
                &format!(
                    "link set eth0 address {} mtu {mtu}\naddr add {ip}/32 dev eth0\nlink set eth0 up\n\
                     route add 169.254.1.1 dev eth0 scope link\nroute add default via 169.254.1.1 dev eth0\n",
                    mac(0x30, i, k)
                ),
            )?;
            writeln!(
                host,
                "link set {veth} mtu {mtu} address ee:ee:ee:ee:ee:ee up\nroute add {ip}/32 dev {veth} scope link"
            )
            .expect("writing to a String");
            sysctls.push(format!("net.ipv4.conf.{veth}.proxy_arp=1"));
            sysctls.push(format!("net.ipv4.neigh.{veth}.proxy_delay=0"));
            net.pods.push(Pod {
                name: format!("h{i}p{k}"),
                ns,
                host: i,
                ip,
                reach: ip,
                host_if: Some(veth.clone()),
            });
        }
        writeln!(host, "route add blackhole 198.19.{i}.0/26").expect("writing to a String");
        match base {
            Base::CalicoBgp => {
                for j in (0..topo.hosts).filter(|&j| j != i) {
                    writeln!(
                        host,
                        "route add 198.19.{j}.0/26 via {} dev eth0",
                        underlay_ip(j)
                    )
                    .expect("writing to a String");
                }
            }
            Base::CalicoVxlan => {
                writeln!(
                    host,
                    "link add vxlan.calico address {} mtu {mtu} type vxlan id 4096 dstport 4789 local {} dev eth0 nolearning\n\
                     addr add 198.19.{i}.1/32 dev vxlan.calico\nlink set vxlan.calico up",
                    mac(0x40, i, 0),
                    underlay_ip(i)
                )
                .expect("writing to a String");
                for j in (0..topo.hosts).filter(|&j| j != i) {
                    writeln!(
                        host,
                        "route add 198.19.{j}.0/26 via 198.19.{j}.1 dev vxlan.calico onlink\n\
                         neigh add 198.19.{j}.1 lladdr {} dev vxlan.calico nud permanent",
                        mac(0x40, j, 0)
                    )
                    .expect("writing to a String");
                }
            }
            _ => unreachable!("only Calico backends come here"),
        }
        sys::ip_batch(&net.hosts[i], &host)?;
        let refs: Vec<&str> = sysctls.iter().map(String::as_str).collect();
        sys::sysctl(&net.hosts[i], &refs)?;
        if base == Base::CalicoVxlan {
            for j in (0..topo.hosts).filter(|&j| j != i) {
                fdb(
                    &net.hosts[i],
                    &mac(0x40, j, 0),
                    "vxlan.calico",
                    underlay_ip(j),
                )?;
            }
        }
    }
    Ok(())
}
