//! Where scenarios come from and what kind each is: a file, or a scenario embedded in the
//! binary; the files a scenario names (trace CSVs), read beside it or from the embedded
//! copies; and the one place that tells a simulation scenario from a study.

use std::path::{Component, Path};

use orchsim_sim::{Scenario, ScenarioFiles};

use crate::catalog;
use crate::error::{Error, Result};

/// A scenario's text and the name it is shown by: its path, or
/// `<embedded>/scenarios/NAME.toml`.
#[derive(Clone, Debug)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

/// What a scenario file describes, read off its top-level tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A cluster simulation (`orchsim run` on the world).
    Simulation,
    /// The ATC'23 GPU fragmentation study (`[study] kind = "gpu-fragmentation"`).
    GpuStudy,
    /// The Omega scheduler-architectures study (`[study] kind = "scheduler-architectures"`).
    Architectures,
}

impl Kind {
    /// What a person calls this kind, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Simulation => "a simulation scenario",
            Kind::GpuStudy => "a GPU fragmentation study ([study] kind = \"gpu-fragmentation\")",
            Kind::Architectures => {
                "a scheduler-architectures study ([study] kind = \"scheduler-architectures\")"
            }
        }
    }
}

impl Source {
    /// `arg` as a scenario file, or — for a bare name with no such file — the embedded
    /// scenario of that name; the default scenario when `arg` is `None`. A name written as a
    /// file (`x.toml`, `dir/x`) must exist.
    pub fn resolve(arg: Option<&str>) -> Result<Source> {
        let arg = arg.unwrap_or(catalog::DEFAULT);
        let path = Path::new(arg);
        // A directory is never a scenario: `dual-orchestration/` in the working directory
        // must not hide the embedded scenario of that name.
        if path.exists() && !path.is_dir() {
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                return Err(Error::bad_input(format!(
                    "{}: scenarios are TOML files; Kubernetes objects go to `orchsim explain --nodes/--pods/--pod`",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::bad_input(format!("cannot read scenario {}: {e}", path.display()))
            })?;
            return Ok(Source {
                origin: path.display().to_string(),
                text,
            });
        }
        // Something written as a path names a file: running an embedded scenario of a
        // similar name instead would answer a question nobody asked.
        let looks_like_path = arg.contains('/') || path.extension().is_some();
        if looks_like_path && !path.is_dir() {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let hint = match ext {
                "yaml" | "yml" | "json" => " (scenarios are TOML files; Kubernetes objects go to `orchsim explain --nodes/--pods/--pod`)".to_string(),
                _ => match catalog::find(arg.rsplit('/').next().unwrap_or(arg)) {
                    Some((file, _)) => format!(
                        " (the embedded scenario of that name is `{}`)",
                        file.trim_end_matches(".toml")
                    ),
                    None => String::new(),
                },
            };
            return Err(Error::bad_input(format!("no scenario file `{arg}`{hint}")));
        }
        match catalog::find(arg) {
            Some((file, text)) => Ok(Source::embedded(file, text)),
            None => Err(Error::bad_input(format!(
                "no scenario file `{arg}`, and no embedded scenario of that name; embedded: {}",
                catalog::names().join(", ")
            ))),
        }
    }

    /// The embedded scenario file `file` with its text.
    pub fn embedded(file: &str, text: &str) -> Source {
        Source {
            origin: format!("<embedded>/scenarios/{file}"),
            text: text.to_string(),
        }
    }

    /// The scenario's file, unless it is embedded.
    pub fn path(&self) -> Option<&Path> {
        (!self.origin.starts_with("<embedded>/")).then(|| Path::new(&self.origin))
    }

    /// Which kind of scenario this is. A `[study]` table of an unknown kind is a GPU study
    /// here; its parser then says which kinds exist.
    pub fn kind(&self) -> Kind {
        match orchsim_sim::study_kind(&self.text).as_deref() {
            None => Kind::Simulation,
            Some("scheduler-architectures") => Kind::Architectures,
            Some(_) => Kind::GpuStudy,
        }
    }

    /// The files this scenario names, read beside it.
    pub fn files(&self) -> Beside<'_> {
        Beside {
            scenario: &self.origin,
        }
    }

    /// Parses a simulation scenario (with the files it names); a study gets an error saying
    /// what `command` cannot do with it.
    pub fn simulation(&self, command: &str) -> Result<Scenario> {
        if self.kind() != Kind::Simulation {
            return Err(Error::bad_input(format!(
                "{} is {}; {command} takes simulation scenarios (`orchsim run` runs a study; \
                 `orchsim explain --study` explains one GPU study placement)",
                self.origin,
                self.kind().describe()
            )));
        }
        Ok(orchsim_sim::parse_with_files(
            &self.origin,
            &self.text,
            &self.files(),
        )?)
    }

    /// Reads the file `rel` a scenario names, relative to its directory; for an embedded
    /// scenario, the embedded copy. Returns the name to show and the text.
    pub fn read_beside(&self, rel: &str) -> Result<(String, String)> {
        read_beside(&self.origin, rel)
    }

    /// A hash of everything a run of this scenario reads: its text and the contents of the
    /// files it names (a trace, a scheduler profile, a study's node and task lists), in the
    /// order it reads them. Paths are left out, so a copy of the same inputs elsewhere (a
    /// shard on another machine) hashes the same. What a sweep's journal and shards compare.
    pub fn inputs_hash(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(self.text.as_bytes());
        let mut read: Vec<String> = Vec::new();
        match self.kind() {
            Kind::Simulation => {
                let rec = Recording {
                    inner: self.files(),
                    read: std::sync::Mutex::new(Vec::new()),
                };
                let _ = orchsim_sim::parse_with_files(&self.origin, &self.text, &rec);
                read = rec.read.into_inner().unwrap_or_default();
            }
            Kind::GpuStudy => {
                if let Ok(st) = orchsim_sim::gpu_study::parse(&self.origin, &self.text) {
                    for rel in [&st.nodes, &st.tasks] {
                        if let Ok((_, text)) = self.read_beside(rel) {
                            read.push(text);
                        }
                    }
                }
            }
            Kind::Architectures => {}
        }
        for text in read {
            h.update(&(text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        format!("blake3:{}", h.finalize().to_hex())
    }
}

/// The files a parse read, in order (their contents).
struct Recording<'a> {
    inner: Beside<'a>,
    read: std::sync::Mutex<Vec<String>>,
}

impl ScenarioFiles for Recording<'_> {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        let r = self.inner.read(path)?;
        if let Ok(mut read) = self.read.lock() {
            read.push(r.1.clone());
        }
        Ok(r)
    }
}

/// Reads a file named in the scenario shown as `scenario`, relative to the scenario's
/// directory; for an embedded scenario, the embedded copy.
fn read_beside(scenario: &str, rel: &str) -> Result<(String, String)> {
    if let Some(embedded) = scenario.strip_prefix("<embedded>/") {
        let dir = Path::new(embedded).parent().unwrap_or(Path::new(""));
        let joined = normalize(&dir.join(rel));
        return match catalog::data(&joined) {
            Some(text) => Ok((format!("<embedded>/{joined}"), text.to_string())),
            None => Err(Error::bad_input(format!(
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
        Error::bad_input(format!(
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

/// The reader a simulation scenario's `[trace]` uses: beside the scenario shown as
/// `scenario`.
pub struct Beside<'a> {
    pub scenario: &'a str,
}

impl ScenarioFiles for Beside<'_> {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        read_beside(self.scenario, path).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_study_table() {
        let kind = |name: &str| Source::resolve(Some(name)).unwrap().kind();
        assert_eq!(kind("quickstart"), Kind::Simulation);
        assert_eq!(kind("fgd-atc23"), Kind::GpuStudy);
        assert_eq!(kind("architectures"), Kind::Architectures);
        let e = Source::resolve(Some("no-such-scenario")).unwrap_err();
        assert!(e.message.contains("quickstart"), "{e}");
    }

    /// A name written as a file is a file: `quickstart.toml` with no such file is an error
    /// that points at the embedded `quickstart`, not a silent run of it; YAML is told apart.
    #[test]
    fn a_missing_file_is_never_an_embedded_scenario() {
        let e = Source::resolve(Some("quickstart.toml")).unwrap_err();
        assert!(
            e.message
                .contains("embedded scenario of that name is `quickstart`"),
            "{e}"
        );
        let e = Source::resolve(Some("dir/cluster.yaml")).unwrap_err();
        assert!(e.message.contains("scenarios are TOML"), "{e}");
        assert!(Source::resolve(Some("quickstart")).is_ok());
    }

    #[test]
    fn embedded_files_resolve_relative_to_the_scenario() {
        let s = Source::resolve(Some("fgd-atc23")).unwrap();
        let (name, text) = s
            .read_beside("../data/alibaba-gpu-v2023/openb_node_list_all_node.csv")
            .unwrap();
        assert_eq!(
            name,
            "<embedded>/data/alibaba-gpu-v2023/openb_node_list_all_node.csv"
        );
        assert!(!text.is_empty());
        assert!(s.read_beside("../data/nothing.csv").is_err());
    }
}
