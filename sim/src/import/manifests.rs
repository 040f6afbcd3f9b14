//! An application's definition in whichever form it comes — Kubernetes manifests, a compose
//! file's services, `docker service create` lines, or Marathon JSON — read into workloads
//! (and a Kubernetes file's bare Pods). The form is told from the text: service create lines,
//! then JSON that is Marathon's, then a YAML mapping with `services` and no `kind` (compose),
//! and otherwise Kubernetes objects.

use std::collections::BTreeMap;

use orchsim_sched::kube::objects::{self, PriorityClass, Workload};
use orchsim_sched::PodSpec;

use super::{marathon, swarm, ImportError};

/// What a file defines.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// `kubernetes`, `compose`, `docker service create` or `marathon`.
    pub format: &'static str,
    pub workloads: Vec<Workload>,
    /// Bare Pods with their runtime annotation, in order (Kubernetes only).
    pub pods: Vec<(PodSpec, Option<f64>)>,
    /// Kinds read and not used (`Service`, `ConfigMap`, ...), counted.
    pub skipped: BTreeMap<String, usize>,
    /// Node objects found (a cluster's, not an application's).
    pub nodes: usize,
    /// PriorityClass objects (Kubernetes only), for the files read after this one.
    pub priority_classes: Vec<PriorityClass>,
}

/// Reads `text` (named `file` in errors) in whichever form it is; Kubernetes pods' priorities
/// are admitted with the PriorityClasses of files read before (`earlier`) and this one's.
pub fn read(file: &str, text: &str, earlier: &[PriorityClass]) -> Result<Manifests, ImportError> {
    if swarm::is_service_create(text) {
        return Ok(Manifests {
            format: "docker service create",
            workloads: swarm::service_create(file, text)?,
            ..Manifests::default()
        });
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if marathon::is_marathon(&v) {
                return Ok(Manifests {
                    format: "marathon",
                    workloads: marathon::read(file, text)?,
                    ..Manifests::default()
                });
            }
        }
    }
    if let Ok(v) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
        if swarm::is_compose(&v) {
            return Ok(Manifests {
                format: "compose",
                workloads: swarm::compose(file, &v)?,
                ..Manifests::default()
            });
        }
    }
    let objs = objects::parse_with_classes(text, earlier).map_err(|e| ImportError::Object {
        file: file.into(),
        message: e.to_string(),
    })?;
    Ok(Manifests {
        format: "kubernetes",
        workloads: objs.workloads,
        pods: objs.pods.into_iter().zip(objs.pod_run_for_s).collect(),
        skipped: objs.skipped,
        nodes: objs.nodes.len(),
        priority_classes: objs.priority_classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_told_from_its_text() {
        let cases = [
            ("docker service create --name a nginx\n", "docker service create", "Swarm service a"),
            (r#"{"id": "/a", "cpus": 0.1}"#, "marathon", "Marathon app /a"),
            ("services:\n  a:\n    image: x\n", "compose", "Swarm service a"),
            (
                "kind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec: {containers: [{name: c}]}\n",
                "kubernetes",
                "Deployment default/a",
            ),
            (
                r#"{"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}"#,
                "kubernetes",
                "Deployment default/a",
            ),
        ];
        for (text, format, key) in cases {
            let m = read("f", text, &[]).unwrap();
            assert_eq!(
                (m.format, m.workloads[0].key().as_str()),
                (format, key),
                "{text}"
            );
        }
    }
}
