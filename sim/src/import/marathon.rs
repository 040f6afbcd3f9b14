//! Marathon apps as workloads: an app definition or a group (`apps` and nested `groups`, ids
//! relative to their group's) as Marathon's REST API takes them (`POST /v2/apps`,
//! `/v2/groups`), or a JSON list of apps. Read: `id`, `instances`, `cpus`, `mem` (MiB),
//! `gpus`, `constraints` (`[field, operator, value?]`, Marathon's operators), and
//! `upgradeStrategy` (checked). Defaults are Marathon's `AppDefinition`: 1 instance, 1 CPU,
//! 128 MiB.

use orchsim_sched::kube::objects::Workload;
use orchsim_sched::mesos::marathon::Constraint;
use orchsim_sched::mesos::placement::AppPlacement;
use orchsim_sched::{PodSpec, Resources};
use serde_json::Value;

use super::ImportError;

/// Workload kind of a Marathon app.
pub const APP: &str = "Marathon app";

/// Marathon's `AppDefinition` defaults.
const DEFAULT_CPUS: f64 = 1.0;
const DEFAULT_MEM_MIB: f64 = 128.0;

/// Whether `value` looks like Marathon JSON: an app (`id` with `cmd`, `container`, `cpus`,
/// `mem` or `instances`), a group (`apps` or `groups`), or a list of apps — and not a
/// Kubernetes object (`kind`).
pub fn is_marathon(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_marathon),
        Value::Object(m) => {
            !m.contains_key("kind")
                && [
                    "apps",
                    "groups",
                    "cmd",
                    "container",
                    "cpus",
                    "mem",
                    "instances",
                ]
                .iter()
                .any(|k| m.contains_key(*k))
        }
        _ => false,
    }
}

/// The apps of a definition, a group (depth first, apps before subgroups) or a list.
pub fn read(file: &str, text: &str) -> Result<Vec<Workload>, ImportError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ImportError::Malformed {
        file: file.into(),
        line: e.line() as u64,
        column: e.column() as u64,
        field: "json".into(),
        message: format!("invalid JSON: {e}"),
    })?;
    let mut out = Vec::new();
    match &value {
        Value::Array(apps) => {
            for (i, a) in apps.iter().enumerate() {
                app(file, a, "", &format!("[{i}]"), &mut out)?;
            }
        }
        v if v.get("apps").is_some() || v.get("groups").is_some() => {
            group(file, v, "", "", &mut out)?
        }
        v => app(file, v, "", "", &mut out)?,
    }
    Ok(out)
}

fn error(file: &str, object: &str, field: &str, message: String) -> ImportError {
    ImportError::Object {
        file: file.into(),
        message: format!("{object}: `{field}`: {message}"),
    }
}

/// `id` resolved against the group's (`web` in `/shop` is `/shop/web`).
fn absolute(parent: &str, id: &str) -> String {
    if id.starts_with('/') {
        id.to_string()
    } else {
        format!("{}/{id}", parent.trim_end_matches('/'))
    }
}

fn group(
    file: &str,
    g: &Value,
    parent: &str,
    path: &str,
    out: &mut Vec<Workload>,
) -> Result<(), ImportError> {
    let id = match g.get("id") {
        Some(Value::String(s)) => absolute(parent, s),
        None if parent.is_empty() => "/".to_string(),
        _ => {
            return Err(error(
                file,
                &format!("group {path}"),
                "id",
                "expected the group's id".into(),
            ))
        }
    };
    let list = |key: &str| -> Result<&[Value], ImportError> {
        match g.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(error(
                file,
                &format!("group {id}"),
                key,
                "expected a list".into(),
            )),
        }
    };
    for (i, a) in list("apps")?.iter().enumerate() {
        app(file, a, &id, &format!("{path}apps[{i}]"), out)?;
    }
    for (i, sub) in list("groups")?.iter().enumerate() {
        group(file, sub, &id, &format!("{path}groups[{i}]."), out)?;
    }
    Ok(())
}

fn app(
    file: &str,
    a: &Value,
    parent: &str,
    path: &str,
    out: &mut Vec<Workload>,
) -> Result<(), ImportError> {
    let id = match a.get("id") {
        Some(Value::String(s)) if !s.trim_matches('/').is_empty() => absolute(parent, s),
        _ => {
            return Err(error(
                file,
                &format!("app {path}"),
                "id",
                "expected the app's id, such as /shop/web".into(),
            ))
        }
    };
    let object = format!("app {id}");
    let bad = |field: &str, m: String| error(file, &object, field, m);
    let number = |key: &str, default: f64, max: f64| -> Result<f64, ImportError> {
        match a.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && (0.0..=max).contains(x))
                .ok_or_else(|| bad(key, format!("expected a number from 0 to {max}, found {v}"))),
        }
    };
    let instances = number("instances", 1.0, u32::MAX as f64)?;
    if instances.fract() != 0.0 {
        return Err(bad(
            "instances",
            format!("expected a count, found {instances}"),
        ));
    }
    let instances = instances as u32;
    let cpus = number("cpus", DEFAULT_CPUS, 1e6)?;
    let mem = number("mem", DEFAULT_MEM_MIB, 1e9)?;
    let gpus = number("gpus", 0.0, 1e3)?;
    let mut constraints = Vec::new();
    match a.get("constraints") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, c) in list.iter().enumerate() {
                let field = format!("constraints[{i}]");
                let parts: Option<Vec<&str>> = c
                    .as_array()
                    .map(|p| p.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
                    .unwrap_or(None);
                let parts = parts.ok_or_else(|| {
                    bad(
                        &field,
                        "expected [field, operator] or [field, operator, value] strings".into(),
                    )
                })?;
                constraints
                    .push(Constraint::parse(&parts).map_err(|e| bad(&field, e.to_string()))?);
            }
        }
        Some(_) => return Err(bad("constraints", "expected a list".into())),
    }
    if let Some(u) = a.get("upgradeStrategy").filter(|v| !v.is_null()) {
        for key in ["minimumHealthCapacity", "maximumOverCapacity"] {
            if let Some(v) = u.get(key).filter(|v| !v.is_null()) {
                if !v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)) {
                    return Err(bad(
                        &format!("upgradeStrategy.{key}"),
                        format!("expected a fraction from 0 to 1, found {v}"),
                    ));
                }
            }
        }
    }
    let mut t = PodSpec::new(
        id.clone(),
        Resources {
            cpu_milli: (cpus * 1000.0).round() as u64,
            memory_bytes: (mem * 1024.0 * 1024.0).round() as u64,
            gpu_milli: (gpus * 1000.0).round() as u64,
            ..Resources::ZERO
        },
    );
    t.namespace = String::new();
    t.owner = id.clone();
    t.marathon = AppPlacement {
        constraints,
        instances,
    };
    out.push(Workload {
        kind: APP.into(),
        name: id,
        namespace: String::new(),
        pods: instances,
        template: t,
        run_for_s: None,
        priority: Default::default(),
        cron: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchsim_sched::mesos::marathon::Operator;

    #[test]
    fn a_group_of_apps_with_constraints() {
        let text = r#"{"id": "/shop", "apps": [
            {"id": "web", "instances": 3, "cpus": 0.5, "mem": 256, "constraints": [["hostname", "UNIQUE"]],
             "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.2},
             "healthChecks": [{"protocol": "HTTP", "path": "/health"}]}
          ],
          "groups": [{"id": "db", "apps": [{"id": "/shop/db/pg", "constraints": [["rack", "GROUP_BY", "2"]]}]}]}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(is_marathon(&value));
        let w = read("shop.json", text).unwrap();
        let rows: Vec<(String, u32, u64, u64)> = w
            .iter()
            .map(|w| {
                (
                    w.key(),
                    w.pods,
                    w.template.requests.cpu_milli,
                    w.template.requests.memory_bytes >> 20,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("Marathon app /shop/web".to_string(), 3, 500, 256),
                // Marathon's defaults: one instance, 1 CPU, 128 MiB.
                ("Marathon app /shop/db/pg".to_string(), 1, 1000, 128),
            ]
        );
        let c = &w[0].template.marathon;
        assert_eq!((c.instances, c.constraints[0].op), (3, Operator::Unique));
        assert_eq!(
            w[1].template.marathon.constraints[0].value.as_deref(),
            Some("2")
        );
    }

    #[test]
    fn errors_name_the_app_and_the_field() {
        let e = read(
            "a.json",
            r#"{"id": "/a", "constraints": [["hostname", "SOMETIMES"]]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("a.json: app /a: `constraints[0]`: "), "{e}");
        let e = read("a.json", "{\"id\": \"/a\",\n \"cpus\": }")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a.json:2:10: json: invalid JSON"), "{e}");
        let e = read("a.json", r#"[{"id": "/a", "instances": 1.5}]"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "a.json: app /a: `instances`: expected a count, found 1.5"
        );
        let e = read(
            "a.json",
            r#"{"id": "/a", "upgradeStrategy": {"minimumHealthCapacity": 2}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`upgradeStrategy.minimumHealthCapacity`: expected a fraction"),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Any text: read or refused, never a panic.
        #[test]
        fn any_text_is_read_or_refused(text in "[ -~]{0,120}") {
            let _ = read("a.json", &text);
        }
    }
}
