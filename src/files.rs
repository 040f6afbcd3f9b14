//! Files a scenario names (trace CSVs), read beside the scenario file or, for an embedded
//! scenario, from the copies embedded in the binary.

use std::path::{Component, Path};

use crate::{catalog, CliError};

/// Reads a file named in a scenario, relative to the scenario's directory; for an embedded
/// scenario, the embedded copy.
pub(crate) fn read_beside(scenario: &str, rel: &str) -> Result<(String, String), CliError> {
    if let Some(embedded) = scenario.strip_prefix("<embedded>/") {
        let dir = Path::new(embedded).parent().unwrap_or(Path::new(""));
        let joined = normalize(&dir.join(rel));
        return match catalog::data(&joined) {
            Some(text) => Ok((format!("<embedded>/{joined}"), text.to_string())),
            None => Err(CliError(format!(
                "{scenario}: no embedded file `{joined}`; embedded data: {}",
                catalog::DATA
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        };
    }
    let path = Path::new(scenario)
        .parent()
        .unwrap_or(Path::new(""))
        .join(rel);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError(format!(
            "{scenario}: cannot read `{rel}` ({}): {e}",
            path.display()
        ))
    })?;
    Ok((path.display().to_string(), text))
}

/// `a/b/../c` → `a/c`, with `/` separators.
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// The reader a simulation scenario's `[trace]` uses: beside the scenario named `scenario`.
pub(crate) struct Beside<'a> {
    pub(crate) scenario: &'a str,
}

impl orchsim_sim::ScenarioFiles for Beside<'_> {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        read_beside(self.scenario, path).map_err(|e| e.0)
    }
}
