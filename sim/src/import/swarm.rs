//! Docker Swarm services as workloads: a compose file's services with their `deploy` section
//! (the Compose Specification's deploy: `mode`, `replicas`, `placement.constraints`,
//! `placement.preferences`, `placement.max_replicas_per_node`, `resources.reservations`,
//! `update_config`, `restart_policy`), and `docker service create` command lines (the
//! flags of the same meaning). A replicated service asks for `replicas` tasks (default 1), a
//! global one for a task on every node its constraints admit. Reservations are what the
//! scheduler reserves (swarmkit filters on them; limits do not place anything and are
//! ignored); `update_config` and `restart_policy` are checked and carried in the notes of
//! what a run does not model from them.

use orchsim_sched::kube::objects::Workload;
use orchsim_sched::swarm::Constraint;
use orchsim_sched::{PodSpec, Resources};
use serde_yaml_ng::{Mapping, Value};

use super::ImportError;

/// Workload kind of a replicated service.
pub const REPLICATED: &str = "Swarm service";
/// Workload kind of a global service (a task per node).
pub const GLOBAL: &str = "Swarm global service";

fn error(file: &str, object: &str, field: &str, message: String) -> ImportError {
    ImportError::Object {
        file: file.into(),
        message: format!("{object}: `{field}`: {message}"),
    }
}

/// What one service asks for, before it becomes a workload.
#[derive(Default)]
struct Service {
    name: String,
    global: bool,
    replicas: Option<u32>,
    constraints: Vec<Constraint>,
    preferences: Vec<String>,
    max_replicas: u64,
    cpu_milli: u64,
    memory_bytes: u64,
}

impl Service {
    fn workload(self) -> Workload {
        let mut t = PodSpec::new(
            self.name.clone(),
            Resources {
                cpu_milli: self.cpu_milli,
                memory_bytes: self.memory_bytes,
                ..Resources::ZERO
            },
        );
        t.namespace = String::new();
        t.owner = self.name.clone();
        t.labels
            .insert("com.docker.swarm.service.name".into(), self.name.clone());
        t.swarm.constraints = self.constraints;
        t.swarm.preferences = self.preferences;
        t.swarm.max_replicas = self.max_replicas;
        Workload {
            kind: if self.global { GLOBAL } else { REPLICATED }.into(),
            name: self.name,
            namespace: String::new(),
            pods: if self.global {
                0
            } else {
                self.replicas.unwrap_or(1)
            },
            template: t,
            run_for_s: None,
            priority: Default::default(),
            cron: None,
        }
    }
}

/// CPUs as compose and the docker CLI write them (`0.5`, `"1.5"`), in millicores.
fn cpus(v: &str) -> Result<u64, String> {
    match v.trim().parse::<f64>() {
        Ok(x) if (0.0..=1e6).contains(&x) => Ok((x * 1000.0).round() as u64),
        _ => Err(format!(
            "expected a number of CPUs such as 0.5, found {v:?}"
        )),
    }
}

/// A byte value as compose and the docker CLI write them (`512m`, `1.5GiB`, `1024`):
/// binary multiples (docker's `units.RAMInBytes`: k, m, g, t, p, then an optional `i` and
/// an optional `b`).
fn bytes(v: &str) -> Result<u64, String> {
    let t = v.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 10),
        Some((i, 'm')) => (&t[..i], 20),
        Some((i, 'g')) => (&t[..i], 30),
        Some((i, 't')) => (&t[..i], 40),
        Some((i, 'p')) => (&t[..i], 50),
        _ => (t, 0),
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && x * ((1u64 << shift) as f64) < 1e18 => {
            Ok((x * (1u64 << shift) as f64).round() as u64)
        }
        _ => Err(format!(
            "expected a byte value such as 512M or 2G, found {v:?}"
        )),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// Whether `value` looks like a compose file (a top-level `services` mapping, no `kind`).
pub fn is_compose(value: &Value) -> bool {
    value.as_mapping().is_some_and(|m| {
        m.get("kind").is_none() && m.get("services").is_some_and(Value::is_mapping)
    })
}

/// The services of a compose file, in the order written.
pub fn compose(file: &str, value: &Value) -> Result<Vec<Workload>, ImportError> {
    let services = value
        .get("services")
        .and_then(Value::as_mapping)
        .ok_or_else(|| {
            error(
                file,
                "compose file",
                "services",
                "expected a mapping of services".into(),
            )
        })?;
    let mut out = Vec::new();
    for (name, spec) in services {
        let name = scalar(name).ok_or_else(|| {
            error(
                file,
                "compose file",
                "services",
                "expected service names".into(),
            )
        })?;
        let object = format!("service `{name}`");
        let bad = |field: &str, m: String| error(file, &object, field, m);
        let empty = Mapping::new();
        let spec = match spec {
            Value::Mapping(m) => m,
            Value::Null => &empty,
            _ => return Err(bad("", "expected a mapping".into())),
        };
        let deploy = match get(spec, "deploy") {
            Some(Value::Mapping(m)) => m,
            Some(_) => return Err(bad("deploy", "expected a mapping".into())),
            None => &empty,
        };
        let mut s = Service {
            name: name.clone(),
            ..Service::default()
        };
        match get(deploy, "mode").and_then(scalar).as_deref() {
            None | Some("replicated") => {}
            Some("global") => s.global = true,
            Some(other) => {
                return Err(bad(
                    "deploy.mode",
                    format!("expected \"replicated\" or \"global\", found {other:?}"),
                ))
            }
        }
        if let Some(r) = get(deploy, "replicas") {
            let n = r
                .as_u64()
                .filter(|n| *n <= u32::MAX as u64)
                .ok_or_else(|| {
                    bad(
                        "deploy.replicas",
                        format!("expected a count, found {}", scalar(r).unwrap_or_default()),
                    )
                })?;
            if s.global {
                return Err(bad(
                    "deploy.replicas",
                    "expected no replicas for a global service".into(),
                ));
            }
            s.replicas = Some(n as u32);
        }
        if let Some(p) = get(deploy, "placement") {
            let p = p
                .as_mapping()
                .ok_or_else(|| bad("deploy.placement", "expected a mapping".into()))?;
            for (i, c) in seq(p, "constraints", &bad)?.iter().enumerate() {
                let field = format!("deploy.placement.constraints[{i}]");
                let text = scalar(c).ok_or_else(|| {
                    bad(
                        &field,
                        "expected an expression such as node.role==manager".into(),
                    )
                })?;
                s.constraints
                    .push(Constraint::parse(&text).map_err(|e| bad(&field, e.message))?);
            }
            for (i, pref) in seq(p, "preferences", &bad)?.iter().enumerate() {
                let field = format!("deploy.placement.preferences[{i}]");
                let spread = pref
                    .as_mapping()
                    .and_then(|m| get(m, "spread"))
                    .and_then(scalar)
                    .ok_or_else(|| {
                        bad(
                            &field,
                            "expected `spread: <label>`, such as spread: node.labels.zone".into(),
                        )
                    })?;
                s.preferences.push(spread);
            }
            if let Some(m) = get(p, "max_replicas_per_node") {
                s.max_replicas = m.as_u64().ok_or_else(|| {
                    bad(
                        "deploy.placement.max_replicas_per_node",
                        "expected a count".into(),
                    )
                })?;
            }
        }
        if let Some(r) = get(deploy, "resources").and_then(Value::as_mapping) {
            if let Some(res) = get(r, "reservations").and_then(Value::as_mapping) {
                if let Some(c) = get(res, "cpus") {
                    s.cpu_milli = cpus(&scalar(c).unwrap_or_default())
                        .map_err(|m| bad("deploy.resources.reservations.cpus", m))?;
                }
                if let Some(m) = get(res, "memory") {
                    s.memory_bytes = bytes(&scalar(m).unwrap_or_default())
                        .map_err(|m| bad("deploy.resources.reservations.memory", m))?;
                }
            }
        }
        if let Some(rp) = get(deploy, "restart_policy").and_then(Value::as_mapping) {
            if let Some(c) = get(rp, "condition").and_then(scalar) {
                if !["none", "on-failure", "any"].contains(&c.as_str()) {
                    return Err(bad(
                        "deploy.restart_policy.condition",
                        format!("expected \"none\", \"on-failure\" or \"any\", found {c:?}"),
                    ));
                }
            }
        }
        if let Some(u) = get(deploy, "update_config").and_then(Value::as_mapping) {
            if let Some(o) = get(u, "order").and_then(scalar) {
                if !["start-first", "stop-first"].contains(&o.as_str()) {
                    return Err(bad(
                        "deploy.update_config.order",
                        format!("expected \"start-first\" or \"stop-first\", found {o:?}"),
                    ));
                }
            }
        }
        out.push(s.workload());
    }
    Ok(out)
}

fn seq<'a>(
    m: &'a Mapping,
    key: &str,
    bad: &dyn Fn(&str, String) -> ImportError,
) -> Result<&'a [Value], ImportError> {
    match get(m, key) {
        None => Ok(&[]),
        Some(Value::Sequence(s)) => Ok(s),
        Some(_) => Err(bad(
            &format!("deploy.placement.{key}"),
            "expected a list".into(),
        )),
    }
}

/// `docker service create` flags that take a value and do not place anything (read past).
const VALUE_FLAGS: &[&str] = &[
    "--config",
    "--container-label",
    "--credential-spec",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--endpoint-mode",
    "--entrypoint",
    "--env",
    "-e",
    "--env-file",
    "--generic-resource",
    "--group",
    "--health-cmd",
    "--health-interval",
    "--health-retries",
    "--health-start-period",
    "--health-timeout",
    "--host",
    "--hostname",
    "--isolation",
    "--label",
    "-l",
    "--limit-cpu",
    "--limit-memory",
    "--limit-pids",
    "--log-driver",
    "--log-opt",
    "--mount",
    "--network",
    "--publish",
    "-p",
    "--restart-condition",
    "--restart-delay",
    "--restart-max-attempts",
    "--restart-window",
    "--rollback-delay",
    "--rollback-failure-action",
    "--rollback-max-failure-ratio",
    "--rollback-monitor",
    "--rollback-order",
    "--rollback-parallelism",
    "--secret",
    "--stop-grace-period",
    "--stop-signal",
    "--sysctl",
    "--ulimit",
    "--update-delay",
    "--update-failure-action",
    "--update-max-failure-ratio",
    "--update-monitor",
    "--update-order",
    "--update-parallelism",
    "--user",
    "-u",
    "--workdir",
    "-w",
    "--cap-add",
    "--cap-drop",
    "--oom-score-adj",
];

/// `docker service create` flags without a value.
const BOOL_FLAGS: &[&str] = &[
    "--detach",
    "-d",
    "--quiet",
    "-q",
    "--tty",
    "-t",
    "--read-only",
    "--init",
    "--no-healthcheck",
    "--with-registry-auth",
    "--no-resolve-image",
];

/// Whether `text` is `docker service create` lines: its first line that is not blank or a
/// comment is one.
pub fn is_service_create(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("docker service create"))
}

/// The commands of `text` (`\`-continued lines joined), with the line each starts on.
fn commands(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let (body, more) = match t.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (t, false),
        };
        match &mut current {
            Some((_, c)) => {
                c.push(' ');
                c.push_str(body);
            }
            None if body.starts_with("docker service create") => {
                current = Some((i + 1, body.to_string()))
            }
            None => {}
        }
        if !more {
            if let Some(c) = current.take() {
                out.push(c);
            }
        }
    }
    out.extend(current);
    out.into_iter()
}

/// Words as a POSIX shell splits them, with single and double quotes (no expansions).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut w = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => w.push(x),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // POSIX: inside double quotes a backslash escapes only these.
                        Some('\\') => match chars.next() {
                            Some(x @ ('$' | '`' | '"' | '\\')) => w.push(x),
                            Some(x) => {
                                w.push('\\');
                                w.push(x);
                            }
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(x) => w.push(x),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                w.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut w));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                w.push(c);
            }
        }
    }
    if in_word {
        out.push(w);
    }
    Ok(out)
}

/// The services of `docker service create` lines, in order.
pub fn service_create(file: &str, text: &str) -> Result<Vec<Workload>, ImportError> {
    let mut out = Vec::new();
    for (line, command) in commands(text) {
        let at = |m: String| ImportError::Malformed {
            file: file.into(),
            line: line as u64,
            column: 1,
            field: "docker service create".into(),
            message: m,
        };
        let args = words(&command).map_err(at)?;
        let mut s = Service::default();
        let mut mode = None;
        let mut image = None;
        let mut i = 3; // past `docker service create`
        while i < args.len() {
            let arg = &args[i];
            if !arg.starts_with('-') {
                image = Some(arg.clone());
                break; // the rest is the command the container runs
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if BOOL_FLAGS.contains(&flag.as_str()) {
                i += 1;
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| at(format!("{flag}: expected a value")))?
                }
            };
            i += 1;
            let bad = |m: String| at(format!("{flag} {value}: {m}"));
            match flag.as_str() {
                "--name" => s.name = value.clone(),
                "--replicas" => {
                    s.replicas = Some(value.parse().map_err(|_| bad("expected a count".into()))?)
                }
                "--mode" => mode = Some(value.clone()),
                "--constraint" => s
                    .constraints
                    .push(Constraint::parse(&value).map_err(|e| bad(e.message))?),
                "--placement-pref" => {
                    let label = value
                        .strip_prefix("spread=")
                        .ok_or_else(|| bad("expected spread=<label>".into()))?;
                    s.preferences.push(label.to_string());
                }
                "--replicas-max-per-node" => {
                    s.max_replicas = value.parse().map_err(|_| bad("expected a count".into()))?
                }
                "--reserve-cpu" => s.cpu_milli = cpus(&value).map_err(bad)?,
                "--reserve-memory" => s.memory_bytes = bytes(&value).map_err(bad)?,
                f if VALUE_FLAGS.contains(&f) => {}
                f => {
                    return Err(at(format!(
                        "unknown flag {f} (expected docker service create's flags)"
                    )))
                }
            }
        }
        let Some(image) = image else {
            return Err(at("expected an image after the flags".into()));
        };
        match mode.as_deref() {
            None | Some("replicated") => {}
            Some("global") => s.global = true,
            Some(m) => return Err(at(format!("--mode {m}: expected replicated or global"))),
        }
        if s.global && s.replicas.is_some() {
            return Err(at("--replicas: expected none with --mode global".into()));
        }
        if s.name.is_empty() {
            // Docker names an unnamed service itself; the image's name is as telling.
            s.name = image
                .rsplit('/')
                .next()
                .unwrap_or(&image)
                .split([':', '@'])
                .next()
                .unwrap_or_default()
                .to_string();
        }
        out.push(s.workload());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchsim_sched::swarm::ConstraintOp;

    /// The seed document's command line, continued over two lines.
    const SEED: &str = "# the service of the seed document\ndocker service create --name helloworld --replicas 5 --network my-network \\\n  --constraint engine.labels.cloud==aliyun --constraint node.role==manager -p 80:80/tcp nginx:latest\n";

    #[test]
    fn the_seed_documents_service_create_line() {
        let w = service_create("deploy.sh", SEED).unwrap();
        assert_eq!(w.len(), 1);
        let w = &w[0];
        assert_eq!(
            (w.kind.as_str(), w.name.as_str(), w.pods),
            (REPLICATED, "helloworld", 5)
        );
        assert_eq!(
            w.template.swarm.constraints,
            vec![
                Constraint {
                    key: "engine.labels.cloud".into(),
                    op: ConstraintOp::Eq,
                    value: "aliyun".into()
                },
                Constraint {
                    key: "node.role".into(),
                    op: ConstraintOp::Eq,
                    value: "manager".into()
                },
            ]
        );
        assert_eq!(w.template.requests.cpu_milli, 0);
        assert_eq!(w.replica(4).name, "helloworld-4");
    }

    #[test]
    fn service_create_reads_reservations_modes_and_quotes() {
        let text = "docker service create --mode=global --reserve-cpu 0.25 --reserve-memory 512M --placement-pref 'spread=node.labels.zone' -d --env \"A=b c\" registry.example/agent:1 run --fast\n";
        let w = &service_create("x.sh", text).unwrap()[0];
        assert_eq!(
            (w.kind.as_str(), w.name.as_str(), w.pods),
            (GLOBAL, "agent", 0)
        );
        assert_eq!(w.template.requests.cpu_milli, 250);
        assert_eq!(w.template.requests.memory_bytes, 512 << 20);
        assert_eq!(
            w.template.swarm.preferences,
            vec!["node.labels.zone".to_string()]
        );
        for (bad, want) in [
            (
                "docker service create --replicas x nginx",
                "x.sh:1:1: docker service create: --replicas x: expected a count",
            ),
            (
                "docker service create --bogus 1 nginx",
                "x.sh:1:1: docker service create: unknown flag --bogus",
            ),
            (
                "docker service create --constraint node.role=manager nginx",
                "x.sh:1:1: docker service create: --constraint node.role=manager: ",
            ),
            (
                "docker service create --name web",
                "x.sh:1:1: docker service create: expected an image",
            ),
            (
                "docker service create 'nginx",
                "x.sh:1:1: docker service create: unterminated ' quote",
            ),
        ] {
            let e = service_create("x.sh", bad).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn a_compose_files_deploy_sections() {
        let text = "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: 3\n      placement:\n        constraints: [node.labels.tier==front]\n        preferences:\n          - spread: node.labels.zone\n        max_replicas_per_node: 2\n      resources:\n        reservations: {cpus: '0.5', memory: 1.5G}\n        limits: {cpus: '1', memory: 2G}\n      update_config: {parallelism: 2, order: start-first}\n      restart_policy: {condition: on-failure}\n  agent:\n    image: agent\n    deploy: {mode: global}\n  plain:\n    image: busybox\n";
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        assert!(is_compose(&value));
        let w = compose("stack.yml", &value).unwrap();
        let rows: Vec<(&str, &str, u32)> = w
            .iter()
            .map(|w| (w.kind.as_str(), w.name.as_str(), w.pods))
            .collect();
        assert_eq!(
            rows,
            [
                (REPLICATED, "web", 3),
                (GLOBAL, "agent", 0),
                (REPLICATED, "plain", 1)
            ]
        );
        let web = &w[0].template;
        assert_eq!(
            (web.requests.cpu_milli, web.requests.memory_bytes),
            (500, 1536 << 20)
        );
        assert_eq!(web.swarm.max_replicas, 2);
        assert_eq!(web.swarm.preferences, vec!["node.labels.zone".to_string()]);
        assert_eq!(web.swarm.constraints[0].key, "node.labels.tier");
        assert_eq!(w[0].key(), "Swarm service web");
        let bad = text.replace("order: start-first", "order: sideways");
        let e = compose("stack.yml", &serde_yaml_ng::from_str(&bad).unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "stack.yml: service `web`: `deploy.update_config.order`: expected \"start-first\" or \"stop-first\", found \"sideways\"");
        let bad = text.replace("memory: 1.5G", "memory: lots");
        let e = compose("stack.yml", &serde_yaml_ng::from_str(&bad).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`deploy.resources.reservations.memory`: expected a byte value"),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Any text as service create lines: read or refused, never a panic.
        #[test]
        fn any_command_line_is_read_or_refused(tail in "[ -~]{0,80}") {
            let _ = service_create("x.sh", &format!("docker service create {tail}"));
        }
    }
}
