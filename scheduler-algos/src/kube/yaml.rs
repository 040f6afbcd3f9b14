//! Small helpers shared by the YAML readers (KubeSchedulerConfiguration and v1 objects).

use serde_yaml_ng::{Mapping, Value};

/// `path.key`, or `key` at the top level: the field paths errors and notes name.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The value under `key`; an explicit `null` counts as absent, as in the Kubernetes API.
pub(crate) fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(Value::String(key.to_string()))
        .filter(|v| !v.is_null())
}
