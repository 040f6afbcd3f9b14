//! Kubernetes NetworkPolicy (networking.k8s.io/v1) as data and as a verdict: which pod may
//! open a connection to which pod, on which protocol and port, and which policy says so.
//!
//! The semantics are upstream's ("Network Policies", kubernetes.io/docs/concepts/
//! services-networking/network-policies; the `NetworkPolicySpec` API reference):
//! - a pod is isolated for ingress (egress) when a policy in its namespace selects it and has
//!   `Ingress` (`Egress`) among its `policyTypes`; `policyTypes` left out means `Ingress`, plus
//!   `Egress` when the policy has egress rules;
//! - a connection is allowed when the source's egress side and the destination's ingress side
//!   both allow it; a side that is not isolated allows everything, an isolated side allows
//!   what the union of the rules selecting it allows (policies are additive, never deny);
//! - a rule with no `from`/`to` matches every peer, with no `ports` every port; a peer with
//!   `podSelector` alone means pods of the policy's namespace, `namespaceSelector` alone every
//!   pod of the selected namespaces, both together pods matching both, `ipBlock` addresses in
//!   its CIDR outside its `except` ranges;
//! - a port's protocol defaults to TCP; `endPort` makes a range. Named ports are refused
//!   (they need the container's port list), with the policy and rule that used one;
//! - namespaces carry the label `kubernetes.io/metadata.name: <name>` (set by the API server
//!   since 1.22), plus any labels given.
//!
//! Reply packets of an allowed connection are always allowed (every implementation tracks
//! connections); this module decides connections.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::Deserialize;

use crate::{Base, Datapath};

/// Labels of a pod or a namespace.
pub type Labels = BTreeMap<String, String>;

/// A policy file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// The document's position in a multi-document stream, from 1.
    pub document: usize,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {}: {}",
            self.file, self.document, self.message
        )
    }
}

impl std::error::Error for PolicyError {}

/// `matchExpressions` operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// A label selector; the empty selector selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Selector {
    #[serde(default)]
    pub match_labels: Labels,
    #[serde(default)]
    pub match_expressions: Vec<Expression>,
}

impl Selector {
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let v = labels.get(&e.key);
                match e.operator {
                    Operator::In => v.is_some_and(|v| e.values.contains(v)),
                    Operator::NotIn => v.is_none_or(|v| !e.values.contains(v)),
                    Operator::Exists => v.is_some(),
                    Operator::DoesNotExist => v.is_none(),
                }
            })
    }
}

/// An IPv4 CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        };
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected an IPv4 CIDR such as 10.0.0.0/8"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| {
            format!("`{s}`: `{a}` is not an IPv4 address (IPv6 blocks are not modelled)")
        })?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`{s}`: the prefix must be 0 to 32"))?;
        Ok(Cidr { addr, prefix })
    }
}

/// `ipBlock`: addresses in `cidr` but in none of `except`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlock {
    pub cidr: Cidr,
    pub except: Vec<Cidr>,
}

impl IpBlock {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.cidr.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

/// One `from`/`to` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// `podSelector` and/or `namespaceSelector` (a missing one is `None`).
    Pods {
        pods: Option<Selector>,
        namespaces: Option<Selector>,
    },
    Block(IpBlock),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One `ports` element: a protocol and a port or range (`None`: every port of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub protocol: Protocol,
    pub ports: Option<(u16, u16)>,
}

impl PortRange {
    fn matches(&self, protocol: Protocol, port: u16) -> bool {
        self.protocol == protocol && self.ports.is_none_or(|(a, b)| (a..=b).contains(&port))
    }
}

/// One ingress or egress rule: `None` peers or ports mean every one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub peers: Option<Vec<Peer>>,
    pub ports: Option<Vec<PortRange>>,
}

/// A NetworkPolicy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub name: String,
    pub namespace: String,
    pub pod_selector: Selector,
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

impl NetworkPolicy {
    fn isolates(&self, pod: &Endpoint, egress: bool) -> bool {
        pod.namespace == self.namespace
            && self.pod_selector.matches(&pod.labels)
            && if egress {
                self.egress.is_some()
            } else {
                self.ingress.is_some()
            }
    }
}

/// A pod as policies see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    /// `None` for a pod not yet given an address: no `ipBlock` covers it.
    pub ip: Option<Ipv4Addr>,
}

/// The policies of a cluster and the labels of its namespaces.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub policies: Vec<NetworkPolicy>,
    /// Extra labels per namespace (`kubernetes.io/metadata.name` is always there).
    pub namespace_labels: BTreeMap<String, Labels>,
}

/// One side of a connection's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// No policy selects the pod for this direction.
    NotIsolated,
    /// Isolated, and these policies allow it (`namespace/name`).
    AllowedBy(Vec<String>),
    /// Isolated by these policies, and none allows it.
    Denied(Vec<String>),
}

impl Side {
    pub fn allows(&self) -> bool {
        !matches!(self, Side::Denied(_))
    }
}

/// Whether a connection may be opened, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub egress: Side,
    pub ingress: Side,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

/// What a datapath does with NetworkPolicy: `None` when it enforces it, else why not.
pub fn not_enforced(d: Datapath) -> Option<String> {
    match d.base {
        Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => None,
        Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => Some(format!(
            "{d} does not enforce NetworkPolicy: the API server accepts the policies and nothing applies them, so every pair is reachable ({})",
            crate::capability::check(d, crate::capability::Requirement::Isolation)
                .err()
                .map_or("flannel README", |r| r.reason)
        )),
        Base::Bridge | Base::Overlay => Some(format!(
            "{d} is Docker's: it isolates Docker networks from each other and does not read Kubernetes NetworkPolicy, so every pair of one network is reachable"
        )),
        Base::Host => Some(format!(
            "{d}: pods share their host's network namespace; nothing can enforce a policy between them"
        )),
    }
}

impl PolicySet {
    fn namespace_labels(&self, ns: &str) -> Labels {
        let mut l = self.namespace_labels.get(ns).cloned().unwrap_or_default();
        l.insert("kubernetes.io/metadata.name".into(), ns.into());
        l
    }

    /// Whether `peer` (named in a policy of namespace `policy_ns`) covers `who`.
    pub fn peer_matches(&self, peer: &Peer, policy_ns: &str, who: &Endpoint) -> bool {
        match peer {
            Peer::Block(b) => who.ip.is_some_and(|ip| b.contains(ip)),
            Peer::Pods { pods, namespaces } => {
                let ns_ok = match namespaces {
                    Some(sel) => sel.matches(&self.namespace_labels(&who.namespace)),
                    None => who.namespace == policy_ns,
                };
                ns_ok && pods.as_ref().is_none_or(|s| s.matches(&who.labels))
            }
        }
    }

    fn rule_allows(
        &self,
        rule: &Rule,
        ns: &str,
        peer: &Endpoint,
        proto: Protocol,
        port: u16,
    ) -> bool {
        rule.peers
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| self.peer_matches(p, ns, peer)))
            && rule
                .ports
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| p.matches(proto, port)))
    }

    fn side(
        &self,
        pod: &Endpoint,
        peer: &Endpoint,
        egress: bool,
        proto: Protocol,
        port: u16,
    ) -> Side {
        let selecting: Vec<&NetworkPolicy> = self
            .policies
            .iter()
            .filter(|p| p.isolates(pod, egress))
            .collect();
        if selecting.is_empty() {
            return Side::NotIsolated;
        }
        let id = |p: &NetworkPolicy| format!("{}/{}", p.namespace, p.name);
        let allowing: Vec<String> = selecting
            .iter()
            .filter(|p| {
                let rules = if egress { &p.egress } else { &p.ingress };
                rules
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|r| self.rule_allows(r, &p.namespace, peer, proto, port))
            })
            .map(|p| id(p))
            .collect();
        if allowing.is_empty() {
            Side::Denied(selecting.iter().map(|p| id(p)).collect())
        } else {
            Side::AllowedBy(allowing)
        }
    }

    /// The verdict on a connection from `src` to `dst` on `proto`/`port`.
    pub fn verdict(&self, src: &Endpoint, dst: &Endpoint, proto: Protocol, port: u16) -> Verdict {
        Verdict {
            egress: self.side(src, dst, true, proto, port),
            ingress: self.side(dst, src, false, proto, port),
        }
    }

    /// Whether any policy isolates `pod` for ingress (`egress` false) or egress.
    pub fn isolated(&self, pod: &Endpoint, egress: bool) -> bool {
        self.policies.iter().any(|p| p.isolates(pod, egress))
    }
}

// The YAML shape (networking.k8s.io/v1), read strictly so a typo is an error, not a policy
// that silently allows everything.

#[derive(Deserialize)]
struct RawDoc {
    kind: Option<String>,
    metadata: Option<RawMeta>,
    spec: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct RawMeta {
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    #[serde(default)]
    pod_selector: Option<Selector>,
    #[serde(default)]
    policy_types: Option<Vec<String>>,
    #[serde(default)]
    ingress: Option<Vec<RawRule>>,
    #[serde(default)]
    egress: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    from: Option<Vec<RawPeer>>,
    #[serde(default)]
    to: Option<Vec<RawPeer>>,
    #[serde(default)]
    ports: Option<Vec<RawPort>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPeer {
    pod_selector: Option<Selector>,
    namespace_selector: Option<Selector>,
    ip_block: Option<RawBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    cidr: String,
    #[serde(default)]
    except: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPort {
    protocol: Option<Protocol>,
    port: Option<serde_yaml_ng::Value>,
    end_port: Option<u16>,
}

fn convert_rules(raw: Option<Vec<RawRule>>, egress: bool) -> Result<Option<Vec<Rule>>, String> {
    let Some(rules) = raw else { return Ok(None) };
    let mut out = Vec::new();
    for (i, r) in rules.into_iter().enumerate() {
        let at = format!("{}[{i}]", if egress { "egress" } else { "ingress" });
        let (peers, wrong) = if egress {
            (r.to, r.from)
        } else {
            (r.from, r.to)
        };
        if wrong.is_some() {
            return Err(format!(
                "{at}: {} rules name their peers in `{}`",
                if egress { "egress" } else { "ingress" },
                if egress { "to" } else { "from" }
            ));
        }
        let peers = peers
            .map(|ps| {
                ps.into_iter()
                    .enumerate()
                    .map(|(j, p)| match (p.ip_block, p.pod_selector, p.namespace_selector) {
                        (Some(b), None, None) => {
                            let cidr = b.cidr.parse().map_err(|e| format!("{at}.peers[{j}].ipBlock.cidr: {e}"))?;
                            let except: Vec<Cidr> = b
                                .except
                                .iter()
                                .map(|e| e.parse())
                                .collect::<Result<_, _>>()
                                .map_err(|e| format!("{at}.peers[{j}].ipBlock.except: {e}"))?;
                            // Upstream validation: every except range lies inside the cidr.
                            let cidr: Cidr = cidr;
                            if let Some(x) = except.iter().find(|x| x.prefix < cidr.prefix || !cidr.contains(x.addr)) {
                                return Err(format!(
                                    "{at}.peers[{j}].ipBlock.except: {x} is not within {cidr}"
                                ));
                            }
                            Ok(Peer::Block(IpBlock { cidr, except }))
                        }
                        (Some(_), _, _) => Err(format!(
                            "{at}.peers[{j}]: ipBlock cannot be combined with a selector in one peer"
                        )),
                        (None, None, None) => Err(format!(
                            "{at}.peers[{j}]: a peer needs podSelector, namespaceSelector or ipBlock"
                        )),
                        (None, pods, namespaces) => Ok(Peer::Pods { pods, namespaces }),
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?
            // `from: []` is the same as leaving it out (every peer), as upstream reads it.
            .filter(|ps| !ps.is_empty());
        let ports = r
            .ports
            .map(|ps| {
                ps.into_iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let protocol = p.protocol.unwrap_or(Protocol::Tcp);
                        let port = match &p.port {
                            None => None,
                            Some(serde_yaml_ng::Value::Number(n)) => Some(
                                n.as_u64()
                                    .filter(|v| (1..=65535).contains(v))
                                    .ok_or_else(|| format!("{at}.ports[{j}].port: expected 1 to 65535, found {n}"))?
                                    as u16,
                            ),
                            Some(serde_yaml_ng::Value::String(s)) => {
                                return Err(format!(
                                    "{at}.ports[{j}].port: named port `{s}` is not supported (it needs the containers' port lists); give the number"
                                ))
                            }
                            Some(other) => {
                                return Err(format!("{at}.ports[{j}].port: expected a number, found {other:?}"))
                            }
                        };
                        let ports = match (port, p.end_port) {
                            (None, None) => None,
                            (Some(a), None) => Some((a, a)),
                            (Some(a), Some(b)) if b >= a => Some((a, b)),
                            (Some(a), Some(b)) => {
                                return Err(format!("{at}.ports[{j}].endPort: {b} is below port {a}"))
                            }
                            (None, Some(_)) => {
                                return Err(format!("{at}.ports[{j}].endPort: needs a numeric port"))
                            }
                        };
                        Ok(PortRange { protocol, ports })
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?
            .filter(|ps| !ps.is_empty());
        out.push(Rule { peers, ports });
    }
    Ok(Some(out))
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters, which upstream requires
/// of a NetworkPolicy's name (`ValidateNetworkPolicyName` is `NameIsDNSSubdomain`).
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// Whether `s` is a DNS label (RFC 1123), as Kubernetes namespace names must be.
pub fn is_dns_label(s: &str) -> bool {
    dns_label(s)
}

/// A DNS-1123 label, which upstream requires of a namespace's name.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The NetworkPolicies of a YAML file (one document, a multi-document stream, or a `List`),
/// and the kinds of the other documents, which are skipped.
pub fn parse_yaml(
    file: &str,
    text: &str,
) -> Result<(Vec<NetworkPolicy>, Vec<String>), PolicyError> {
    let mut policies = Vec::new();
    let mut skipped = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let err = |message: String| PolicyError {
            file: file.to_string(),
            document: i + 1,
            message,
        };
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| err(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let items = match value.get("kind").and_then(|k| k.as_str()) {
            Some("List") | Some("NetworkPolicyList") => value
                .get("items")
                .and_then(|v| v.as_sequence())
                .cloned()
                .unwrap_or_default(),
            _ => vec![value],
        };
        for item in items {
            let raw: RawDoc = serde_yaml_ng::from_value(item).map_err(|e| err(e.to_string()))?;
            let kind = raw.kind.unwrap_or_default();
            if kind != "NetworkPolicy" {
                skipped.push(if kind.is_empty() {
                    "(no kind)".into()
                } else {
                    kind
                });
                continue;
            }
            let meta = raw
                .metadata
                .ok_or_else(|| err("NetworkPolicy without metadata".into()))?;
            let name = meta
                .name
                .ok_or_else(|| err("NetworkPolicy without metadata.name".into()))?;
            let at = |m: String| err(format!("NetworkPolicy {name}: {m}"));
            let spec: RawSpec = serde_yaml_ng::from_value(raw.spec.unwrap_or_default())
                .map_err(|e| at(format!("spec: {e}")))?;
            let types = spec.policy_types.clone();
            if !dns_subdomain(&name) {
                return Err(err(format!(
                    "metadata.name `{name}`: expected a DNS-1123 subdomain (lower-case letters, digits, `-` and `.`, at most 253)"
                )));
            }
            if let Some(ns) = meta.namespace.as_ref().filter(|ns| !dns_label(ns)) {
                return Err(err(format!(
                    "metadata.namespace `{ns}`: expected a DNS-1123 label (lower-case letters, digits and `-`, at most 63)"
                )));
            }
            let mut ingress = convert_rules(spec.ingress, false).map_err(&at)?;
            let mut egress = convert_rules(spec.egress, true).map_err(&at)?;
            // An empty list is read as a missing one, as upstream's defaulting does.
            match types.filter(|t| !t.is_empty()) {
                None => {
                    // Ingress always; Egress only when at least one egress rule is given
                    // (upstream: `len(spec.Egress) != 0`).
                    ingress.get_or_insert_with(Vec::new);
                    if egress.as_ref().is_some_and(|e| e.is_empty()) {
                        egress = None;
                    }
                }
                Some(t) => {
                    for x in &t {
                        if x != "Ingress" && x != "Egress" {
                            return Err(at(format!(
                                "policyTypes: `{x}` is neither Ingress nor Egress"
                            )));
                        }
                    }
                    if t.iter().any(|x| x == "Ingress") {
                        ingress.get_or_insert_with(Vec::new);
                    } else {
                        ingress = None;
                    }
                    if t.iter().any(|x| x == "Egress") {
                        egress.get_or_insert_with(Vec::new);
                    } else {
                        egress = None;
                    }
                }
            }
            policies.push(NetworkPolicy {
                name: name.clone(),
                namespace: meta.namespace.unwrap_or_else(|| "default".into()),
                pod_selector: spec.pod_selector.unwrap_or_default(),
                ingress,
                egress,
            });
        }
    }
    Ok((policies, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ns: &str, labels: &[(&str, &str)], ip: [u8; 4]) -> Endpoint {
        Endpoint {
            name: name.into(),
            namespace: ns.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ip: Some(Ipv4Addr::from(ip)),
        }
    }

    fn set(yaml: &str) -> PolicySet {
        PolicySet {
            policies: parse_yaml("t.yaml", yaml).unwrap().0,
            namespace_labels: BTreeMap::from([(
                "myproject".to_string(),
                Labels::from([("project".to_string(), "myproject".to_string())]),
            )]),
        }
    }

    /// The example policy of the Kubernetes documentation ("The NetworkPolicy resource"),
    /// and what the page says it does.
    const DOCS_EXAMPLE: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
";

    #[test]
    fn the_documentations_example_does_what_the_page_says() {
        let s = set(DOCS_EXAMPLE);
        let db = pod("db", "default", &[("role", "db")], [10, 9, 0, 1]);
        let frontend = pod("fe", "default", &[("role", "frontend")], [10, 9, 0, 2]);
        let other = pod("other", "default", &[("role", "other")], [10, 9, 0, 3]);
        let in_project = pod("p", "myproject", &[], [10, 9, 0, 4]);
        let frontend_elsewhere = pod("fe2", "other", &[("role", "frontend")], [10, 9, 0, 5]);
        let external = pod("ext", "none", &[], [172, 17, 0, 9]);
        let excepted = pod("exc", "none", &[], [172, 17, 1, 9]);
        let egress_target = pod("t", "none", &[], [10, 0, 0, 7]);
        // "isolates role=db pods in the default namespace for both ingress and egress"
        assert!(s.isolated(&db, false) && s.isolated(&db, true));
        assert!(!s.isolated(&frontend, false));
        // "(Ingress rules) allows connections to all pods in the default namespace with the
        // label role=db on TCP port 6379 from: any pod in the default namespace with the
        // label role=frontend; any pod in a namespace with the label project=myproject; IP
        // addresses in 172.17.0.0–172.17.0.255 and 172.17.2.0–172.17.255.255"
        for ok in [&frontend, &in_project, &external] {
            assert!(
                s.verdict(ok, &db, Protocol::Tcp, 6379).allowed(),
                "{}",
                ok.name
            );
            assert!(
                !s.verdict(ok, &db, Protocol::Tcp, 6380).allowed(),
                "{}",
                ok.name
            );
            assert!(
                !s.verdict(ok, &db, Protocol::Udp, 6379).allowed(),
                "{}",
                ok.name
            );
        }
        for no in [&other, &frontend_elsewhere, &excepted] {
            let v = s.verdict(no, &db, Protocol::Tcp, 6379);
            assert!(!v.allowed(), "{}", no.name);
            assert_eq!(
                v.ingress,
                Side::Denied(vec!["default/test-network-policy".into()])
            );
        }
        // "(Egress rules) allows connections from any pod in the default namespace with the
        // label role=db to CIDR 10.0.0.0/24 on TCP port 5978"
        assert!(s
            .verdict(&db, &egress_target, Protocol::Tcp, 5978)
            .allowed());
        assert!(!s.verdict(&db, &egress_target, Protocol::Tcp, 80).allowed());
        assert!(!s.verdict(&db, &frontend, Protocol::Tcp, 5978).allowed());
        // Pods no policy selects talk freely.
        assert_eq!(
            s.verdict(&frontend, &other, Protocol::Udp, 53),
            Verdict {
                egress: Side::NotIsolated,
                ingress: Side::NotIsolated
            }
        );
    }

    #[test]
    fn default_deny_and_allow_all_from_the_documentation() {
        let a = pod("a", "default", &[("app", "a")], [198, 19, 0, 2]);
        let b = pod("b", "default", &[("app", "b")], [198, 19, 0, 3]);
        // "Default deny all ingress traffic": podSelector {} and policyTypes [Ingress].
        let deny = set("kind: NetworkPolicy\nmetadata: {name: default-deny-ingress}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n");
        assert!(!deny.verdict(&a, &b, Protocol::Tcp, 80).allowed());
        // "Allow all ingress traffic": ingress: [{}].
        let allow = set("kind: NetworkPolicy\nmetadata: {name: allow-all-ingress}\nspec:\n  podSelector: {}\n  ingress:\n  - {}\n  policyTypes: [Ingress]\n");
        assert!(allow.verdict(&a, &b, Protocol::Udp, 9).allowed());
        // "Default deny all egress traffic"; ingress stays open.
        let deny_out = set("kind: NetworkPolicy\nmetadata: {name: default-deny-egress}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n");
        assert!(!deny_out.verdict(&a, &b, Protocol::Tcp, 80).allowed());
        assert!(!deny_out.isolated(&b, false));
        // policyTypes left out or empty, egress: []: Ingress only (no egress rule, no egress
        // isolation).
        for types in ["", "  policyTypes: []\n"] {
            let s = set(&format!("kind: NetworkPolicy\nmetadata: {{name: x}}\nspec:\n  podSelector: {{}}\n  egress: []\n{types}"));
            assert!(s.isolated(&a, false) && !s.isolated(&a, true), "{types}");
        }
        // policyTypes left out: Ingress only, even with no ingress rules (deny all ingress).
        let implicit = set("kind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {matchLabels: {app: b}}\n");
        assert!(implicit.isolated(&b, false) && !implicit.isolated(&b, true));
        assert!(!implicit.verdict(&a, &b, Protocol::Tcp, 80).allowed());
        assert!(implicit.verdict(&b, &a, Protocol::Tcp, 80).allowed());
        // Policies are additive: a second one allowing port 80 opens only that port.
        let two = set("kind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {matchLabels: {app: b}}\n---\nkind: NetworkPolicy\nmetadata: {name: web}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - ports: [{port: 80}]\n");
        assert!(two.verdict(&a, &b, Protocol::Tcp, 80).allowed());
        assert!(!two.verdict(&a, &b, Protocol::Tcp, 81).allowed());
        assert_eq!(
            two.verdict(&a, &b, Protocol::Tcp, 80).ingress,
            Side::AllowedBy(vec!["default/web".into()])
        );
    }

    #[test]
    fn selectors_namespaces_and_port_ranges() {
        let s = set("kind: NetworkPolicy\nmetadata: {name: p, namespace: prod}\nspec:\n  podSelector: {matchExpressions: [{key: tier, operator: In, values: [db, cache]}]}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}\n      podSelector: {matchLabels: {app: front}}\n    ports: [{protocol: TCP, port: 32000, endPort: 32768}]\n");
        let db = pod("db", "prod", &[("tier", "db")], [1, 1, 1, 1]);
        let front_web = pod("f", "web", &[("app", "front")], [1, 1, 1, 2]);
        let front_prod = pod("g", "prod", &[("app", "front")], [1, 1, 1, 3]);
        let back_web = pod("h", "web", &[("app", "back")], [1, 1, 1, 4]);
        assert!(s.verdict(&front_web, &db, Protocol::Tcp, 32500).allowed());
        assert!(!s.verdict(&front_web, &db, Protocol::Tcp, 32769).allowed());
        // Both selectors in one peer: AND.
        assert!(!s.verdict(&front_prod, &db, Protocol::Tcp, 32500).allowed());
        assert!(!s.verdict(&back_web, &db, Protocol::Tcp, 32500).allowed());
        let web = pod("w", "prod", &[("tier", "web")], [1, 1, 1, 5]);
        assert!(!s.isolated(&web, false), "NotIn the In list: not selected");
    }

    #[test]
    fn mistakes_are_refused_with_where_they_are() {
        let bad = |y: &str| parse_yaml("p.yaml", y).unwrap_err().to_string();
        let e = bad("kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - from: [{podSelctor: {}}]\n");
        assert!(
            e.contains("p.yaml: document 1") && e.contains("podSelctor"),
            "{e}"
        );
        let e = bad("kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - ports: [{port: http}]\n");
        assert!(e.contains("named port `http`"), "{e}");
        let e = bad("kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  egress:\n  - from: [{podSelector: {}}]\n");
        assert!(e.contains("egress[0]") && e.contains("`to`"), "{e}");
        let e = bad("kind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]\n");
        assert!(e.contains("not within 10.0.0.0/16"), "{e}");
        let e = bad("kind: NetworkPolicy\nmetadata: {name: \"a\\\"b\"}\nspec: {}\n");
        assert!(e.contains("DNS-1123"), "{e}");
        // Names are subdomains (dots allowed); namespaces are labels (no dots).
        assert!(parse_yaml(
            "p.yaml",
            "kind: NetworkPolicy\nmetadata: {name: allow.web}\nspec: {}\n"
        )
        .is_ok());
        let e = bad("kind: NetworkPolicy\nmetadata: {name: n, namespace: a.b}\nspec: {}\n");
        assert!(
            e.contains("metadata.namespace") && e.contains("DNS-1123 label"),
            "{e}"
        );
        let e = bad("---\nkind: Service\n---\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/33}}]\n");
        assert!(e.contains("document 2") && e.contains("prefix"), "{e}");
        let (p, skipped) = parse_yaml(
            "x",
            "kind: Service\n---\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {}\n",
        )
        .unwrap();
        assert_eq!((p.len(), skipped), (1, vec!["Service".to_string()]));
    }
}
