//! `orchsim net policy`: who may open a connection to whom under a set of Kubernetes
//! NetworkPolicies, which policy decides each pair, and whether the chosen datapath enforces
//! any of it.
//!
//! The verdicts are `orchsim_net::policy`'s (upstream's semantics); this module reads the
//! inputs (policy YAML files or directories, a pod list as `kubectl get pods,namespaces -o
//! yaml` prints it), picks the ports worth asking about, and lays the answers out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use orchsim_net::policy::{self, Endpoint, NetworkPolicy, PolicySet, Protocol, Side};
use orchsim_net::Datapath;
use orchsim_report::{Cell, Table};
use serde_json::json;

use crate::error::Error;
use crate::render::View;

/// `net policy`'s request.
#[derive(Clone, Debug)]
pub struct PolicyRequest {
    /// NetworkPolicy YAML files, or directories of `*.yaml`/`*.yml` files.
    pub policies: Vec<PathBuf>,
    /// Pods (and Namespaces, for their labels) as Kubernetes YAML.
    pub pods: PathBuf,
    /// Ports to ask about (`tcp/80`, `53/udp`, `8080`); default: every port the policies
    /// name, plus one they do not.
    pub ports: Vec<String>,
    pub datapath: String,
}

/// A port asked about; ordered by protocol, then the named ports, then the other one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    protocol: Protocol,
    /// A port no policy names (standing for all such ports).
    other: bool,
    port: u16,
}

impl Probe {
    fn label(&self) -> String {
        if self.other {
            format!("{}/other", self.protocol.name())
        } else {
            format!("{}/{}", self.protocol.name(), self.port)
        }
    }
}

/// `tcp/80`, `80/tcp`, `UDP/53` or a bare port (TCP).
fn parse_port(s: &str) -> Result<Probe, Error> {
    let bad = || {
        Error::bad_input(format!(
            "--port: expected PROTOCOL/PORT such as tcp/80 or udp/53 (or a bare TCP port), found `{s}`"
        ))
    };
    let proto = |p: &str| match p.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    };
    let (protocol, port) = match s.trim().split_once('/') {
        None => (Protocol::Tcp, s.trim()),
        Some((a, b)) => match (proto(a), proto(b)) {
            (Some(p), None) => (p, b),
            (None, Some(p)) => (p, a),
            _ => return Err(bad()),
        },
    };
    let port: u16 = port.trim().parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok(Probe {
        protocol,
        port,
        other: false,
    })
}

/// The ports whose answers can differ: where each named port or range begins, the port after
/// each range when another range covers it, and per protocol named one port no rule covers
/// (all such ports are alike: only rules without `ports` match them).
fn default_probes(policies: &[NetworkPolicy]) -> Vec<Probe> {
    let ranges: Vec<_> = policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(p.egress.iter()).flatten())
        .flat_map(|r| r.ports.iter().flatten())
        .copied()
        .collect();
    let mut probes = BTreeSet::new();
    let mut protocols: BTreeSet<Protocol> = [Protocol::Tcp].into();
    for r in &ranges {
        protocols.insert(r.protocol);
        if let Some((a, _)) = r.ports {
            probes.insert(Probe {
                protocol: r.protocol,
                port: a,
                other: false,
            });
        }
    }
    for r in &ranges {
        if let Some((_, b)) = r.ports.filter(|&(_, b)| b < u16::MAX) {
            let after = b + 1;
            if ranges.iter().any(|o| {
                o.protocol == r.protocol && o.ports.is_some_and(|(x, y)| (x..=y).contains(&after))
            }) {
                probes.insert(Probe {
                    protocol: r.protocol,
                    port: after,
                    other: false,
                });
            }
        }
    }
    for proto in protocols {
        let covered = |port: u16| {
            ranges.iter().any(|r| {
                r.protocol == proto && r.ports.is_none_or(|(a, b)| (a..=b).contains(&port))
            })
        };
        if let Some(port) = (1..=u16::MAX).find(|&p| !covered(p)) {
            probes.insert(Probe {
                protocol: proto,
                port,
                other: true,
            });
        }
    }
    probes.into_iter().collect()
}

/// The YAML files named: files as given, directories' `*.yaml`/`*.yml` in name order.
pub(crate) fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::bad_input(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::bad_input(format!(
                    "{}: no *.yaml or *.yml files in this directory",
                    p.display()
                )));
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::bad_input(format!("{}: {e}", path.display())))
}

fn pod_id(e: &Endpoint) -> String {
    format!("{}/{}", e.namespace, e.name)
}

/// Reads the inputs and answers every ordered pair of pods on every probe.
pub fn policy(r: &PolicyRequest) -> Result<View, Error> {
    let datapath: Datapath = r
        .datapath
        .parse()
        .map_err(|e| Error::bad_input(format!("--datapath: {e}")))?;
    if r.policies.is_empty() {
        return Err(Error::bad_input(
            "--policies: expected at least one NetworkPolicy file or directory",
        ));
    }
    let mut set = PolicySet::default();
    let mut skipped = Vec::new();
    // The API server holds one policy per namespace and name: two would be two dumps mixed.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for f in yaml_files(&r.policies)? {
        let name = f.display().to_string();
        let (ps, sk) = policy::parse_yaml(&name, &read(&f)?).map_err(Error::bad_input)?;
        for p in &ps {
            let id = format!("{}/{}", p.namespace, p.name);
            if let Some(first) = seen.insert(id.clone(), name.clone()) {
                return Err(Error::bad_input(format!(
                    "{name}: NetworkPolicy {id} is defined twice (also in {first})"
                )));
            }
        }
        set.policies.extend(ps);
        skipped.extend(sk.into_iter().map(|k| format!("{name}: skipped {k}")));
    }
    let pods_name = r.pods.display().to_string();
    let objects = orchsim_sched::kube::objects::parse(&read(&r.pods)?)
        .map_err(|e| Error::bad_input(format!("{pods_name}:{e}")))?;
    if objects.pods.is_empty() {
        return Err(Error::bad_input(format!(
            "{pods_name}: no Pod objects (expected `kubectl get pods -o yaml` output or Pod manifests)"
        )));
    }
    for (ns, labels) in &objects.namespaces {
        set.namespace_labels.insert(ns.clone(), labels.clone());
    }
    let pods: Vec<Endpoint> = objects
        .pods
        .iter()
        .zip(&objects.pod_ips)
        .map(|(p, ip)| Endpoint {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            labels: p.labels.clone(),
            ip: *ip,
        })
        .collect();
    let probes = if r.ports.is_empty() {
        default_probes(&set.policies)
    } else {
        let mut v: Vec<Probe> = r
            .ports
            .iter()
            .map(|s| parse_port(s))
            .collect::<Result<_, _>>()?;
        v.sort();
        v.dedup();
        v
    };
    let enforcement = policy::not_enforced(datapath);
    let no_ip: Vec<String> = pods.iter().filter(|p| p.ip.is_none()).map(pod_id).collect();

    // Every ordered pair, every probe.
    let mut table = Table::new([
        "source",
        "destination",
        "allowed",
        "denied",
        "effective",
        "decided_by",
    ]);
    let mut rows = Vec::new();
    let mut matrix: Vec<Vec<String>> = vec![vec![String::new(); pods.len()]; pods.len()];
    // Per policy: connections it allows (named on an allowing side) and denies (isolating a
    // side that allows nothing), counted over pairs × probes.
    let mut allows = vec![0u64; set.policies.len()];
    let mut denies = vec![0u64; set.policies.len()];
    let positions: BTreeMap<String, usize> = set
        .policies
        .iter()
        .enumerate()
        .map(|(k, p)| (format!("{}/{}", p.namespace, p.name), k))
        .collect();
    let index = |id: &str| positions.get(id).copied();
    let all_labels: Vec<String> = probes.iter().map(Probe::label).collect();
    let summarise = |v: &[String]| -> String {
        if v.len() == probes.len() && !v.is_empty() {
            "all".into()
        } else if v.is_empty() {
            "-".into()
        } else {
            v.join(",")
        }
    };
    for (i, src) in pods.iter().enumerate() {
        for (j, dst) in pods.iter().enumerate() {
            if i == j {
                continue;
            }
            let mut ok = Vec::new();
            let mut no = Vec::new();
            let mut by = BTreeSet::new();
            for probe in &probes {
                let v = set.verdict(src, dst, probe.protocol, probe.port);
                let allowed = v.allowed();
                for side in [&v.egress, &v.ingress] {
                    match side {
                        Side::AllowedBy(ids) => {
                            for id in ids {
                                by.insert(id.clone());
                                if let (true, Some(k)) = (allowed, index(id)) {
                                    allows[k] += 1;
                                }
                            }
                        }
                        Side::Denied(ids) => {
                            for id in ids {
                                by.insert(id.clone());
                                if let Some(k) = index(id) {
                                    denies[k] += 1;
                                }
                            }
                        }
                        Side::NotIsolated => {}
                    }
                }
                if allowed {
                    ok.push(probe.label());
                } else {
                    no.push(probe.label());
                }
            }
            let effective = if enforcement.is_none() {
                summarise(&ok)
            } else {
                summarise(&all_labels)
            };
            matrix[i][j] = summarise(&ok);
            let decided: Vec<String> = by.into_iter().collect();
            table.push(vec![
                pod_id(src).into(),
                pod_id(dst).into(),
                summarise(&ok).into(),
                summarise(&no).into(),
                effective.clone().into(),
                decided.join(" ").into(),
            ])?;
            rows.push(json!({
                "source": pod_id(src),
                "destination": pod_id(dst),
                "allowed": ok,
                "denied": no,
                "effective": if enforcement.is_none() { &ok } else { &all_labels },
                "decided_by": decided,
            }));
        }
    }

    // Pods every other pod may reach on every port asked about (a connection needs the
    // source's egress too), and pods no policy isolates for ingress: those take connections
    // from anything whose egress allows it, outside the cluster too.
    let mut open = Vec::new();
    let mut not_isolated = Vec::new();
    for (j, dst) in pods.iter().enumerate() {
        let isolated = set.isolated(dst, false);
        if !isolated {
            not_isolated.push(pod_id(dst));
        }
        if (0..pods.len())
            .filter(|&i| i != j)
            .all(|i| matrix[i][j] == "all")
        {
            open.push((
                pod_id(dst),
                if isolated {
                    "its ingress policies let every pod in on every port asked about"
                } else {
                    "no policy selects it for ingress, and no source's egress holds it back"
                },
            ));
        }
    }

    let mut per_policy = Table::new(["policy", "selects", "allows", "denies"]);
    let mut policy_json = Vec::new();
    for (k, p) in set.policies.iter().enumerate() {
        let one = PolicySet {
            policies: vec![p.clone()],
            namespace_labels: set.namespace_labels.clone(),
        };
        let selects = pods
            .iter()
            .filter(|e| one.isolated(e, false) || one.isolated(e, true))
            .count();
        let id = format!("{}/{}", p.namespace, p.name);
        per_policy.push(vec![
            id.clone().into(),
            Cell::UInt(selects as u64),
            Cell::UInt(allows[k]),
            Cell::UInt(denies[k]),
        ])?;
        policy_json.push(json!({
            "policy": id, "selects": selects, "allows": allows[k], "denies": denies[k],
        }));
    }

    let mut warnings: Vec<String> = enforcement.iter().cloned().collect();
    if !no_ip.is_empty() {
        warnings.push(format!(
            "no status.podIP for {}: no ipBlock covers them",
            no_ip.join(", ")
        ));
    }
    warnings.extend(skipped.iter().cloned());

    let mut text = String::new();
    writeln!(
        text,
        "{} pods, {} policies, datapath {datapath}: NetworkPolicy {}; ports asked about: {}",
        pods.len(),
        set.policies.len(),
        if enforcement.is_none() {
            "enforced"
        } else {
            "NOT enforced"
        },
        all_labels.join(", ")
    )?;
    writeln!(
        text,
        "reachability (row: source, column: destination; the ports a connection may be opened on, `all` or `-`){}:",
        if enforcement.is_none() {
            ""
        } else {
            " as the policies say; on this datapath every pair is reachable"
        }
    )?;
    let mut m = Table::new(
        std::iter::once("from \\ to".to_string())
            .chain(pods.iter().map(pod_id))
            .collect::<Vec<_>>(),
    );
    for (i, src) in pods.iter().enumerate() {
        let mut row: Vec<Cell> = vec![pod_id(src).into()];
        for (j, cell) in matrix[i].iter().enumerate() {
            row.push(if i == j {
                "·".into()
            } else {
                cell.clone().into()
            });
        }
        m.push(row)?;
    }
    text += &m.to_text();
    writeln!(text, "policies (connections = pairs × ports asked about):")?;
    text += &per_policy.to_text();
    if open.is_empty() {
        writeln!(
            text,
            "no pod is reachable from every other pod on every port"
        )?;
    }
    for (pod, why) in &open {
        writeln!(text, "reachable from everywhere: {pod} ({why})")?;
    }
    if !not_isolated.is_empty() {
        writeln!(
            text,
            "not isolated for ingress (open to anything whose egress allows it, outside the cluster too): {}",
            not_isolated.join(", ")
        )?;
    }
    for w in &warnings {
        writeln!(text, "warning: {w}")?;
    }

    let mut view = View::of(table);
    view.text = Some(text);
    view.json = Some(json!({
        "datapath": datapath.to_string(),
        "enforced": enforcement.is_none(),
        "ports": probes.iter().map(|p| json!({
            "protocol": p.protocol.name(), "port": p.port, "label": p.label(),
        })).collect::<Vec<_>>(),
        "pods": pods.iter().map(|p| json!({
            "pod": pod_id(p), "ip": p.ip.map(|ip| ip.to_string()),
        })).collect::<Vec<_>>(),
        "pairs": rows,
        "policies": policy_json,
        "reachable_from_everywhere": open.iter().map(|(p, w)| json!({"pod": p, "why": w})).collect::<Vec<_>>(),
        "ingress_not_isolated": not_isolated,
        "warnings": warnings,
    }));
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_either_way_round() {
        assert_eq!(parse_port("tcp/80").unwrap().port, 80);
        assert_eq!(parse_port("53/UDP").unwrap().protocol, Protocol::Udp);
        assert_eq!(parse_port("8080").unwrap().protocol, Protocol::Tcp);
        for bad in ["http", "tcp/0", "icmp/1", "tcp/70000", "tcp/udp"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_ports_are_the_named_ones_and_one_other() {
        let (ps, _) = policy::parse_yaml(
            "p.yaml",
            "kind: NetworkPolicy\nmetadata: {name: a, namespace: d}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 1}, {port: 53, protocol: UDP}, {port: 3, endPort: 5}]\n  - ports: [{port: 4, endPort: 9}]\n",
        )
        .unwrap();
        let labels: Vec<String> = default_probes(&ps).iter().map(Probe::label).collect();
        // 3-5 and 4-9 overlap: 6-9 answer as the second rule alone says.
        assert_eq!(
            labels,
            [
                "tcp/1",
                "tcp/3",
                "tcp/4",
                "tcp/6",
                "tcp/other",
                "udp/53",
                "udp/other"
            ]
        );
        let other = default_probes(&ps)[4];
        assert_eq!(other.port, 2, "the first TCP port no rule covers");
    }
}
