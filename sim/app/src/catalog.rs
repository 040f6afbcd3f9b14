//! The scenario catalog embedded in the binary, so `orchsim run` works from any directory.

use orchsim_report::{Cell, Table};

use crate::error::Result;
use crate::source::{Kind, Source};

/// `(file name, TOML text)` of every scenario in `scenarios/`. A test checks this list against
/// the directory, so a new scenario file cannot be forgotten here.
pub const CATALOG: &[(&str, &str)] = &[
    (
        "quickstart.toml",
        include_str!("../../../scenarios/quickstart.toml"),
    ),
    (
        "kubernetes.toml",
        include_str!("../../../scenarios/kubernetes.toml"),
    ),
    (
        "ci-regression.toml",
        include_str!("../../../scenarios/ci-regression.toml"),
    ),
    (
        "architectures.toml",
        include_str!("../../../scenarios/architectures.toml"),
    ),
    (
        "fgd-atc23.toml",
        include_str!("../../../scenarios/fgd-atc23.toml"),
    ),
    (
        "gpu-sharing.toml",
        include_str!("../../../scenarios/gpu-sharing.toml"),
    ),
    (
        "alibaba-gpu-replay.toml",
        include_str!("../../../scenarios/alibaba-gpu-replay.toml"),
    ),
    (
        "dual-orchestration.toml",
        include_str!("../../../scenarios/dual-orchestration.toml"),
    ),
    (
        "dual-orchestration-kubernetes.toml",
        include_str!("../../../scenarios/dual-orchestration-kubernetes.toml"),
    ),
    (
        "dual-orchestration-split.toml",
        include_str!("../../../scenarios/dual-orchestration-split.toml"),
    ),
    (
        "host-failure.toml",
        include_str!("../../../scenarios/host-failure.toml"),
    ),
    (
        "reuse-vs-reschedule.toml",
        include_str!("../../../scenarios/reuse-vs-reschedule.toml"),
    ),
    (
        "control-plane.toml",
        include_str!("../../../scenarios/control-plane.toml"),
    ),
    (
        "rolling-upgrade.toml",
        include_str!("../../../scenarios/rolling-upgrade.toml"),
    ),
    (
        "ip-pools.toml",
        include_str!("../../../scenarios/ip-pools.toml"),
    ),
    (
        "networks.toml",
        include_str!("../../../scenarios/networks.toml"),
    ),
    (
        "hybrid-burst.toml",
        include_str!("../../../scenarios/hybrid-burst.toml"),
    ),
    (
        "policy-isolation.toml",
        include_str!("../../../scenarios/policy-isolation.toml"),
    ),
    (
        "service-proxy.toml",
        include_str!("../../../scenarios/service-proxy.toml"),
    ),
    (
        "autoscale-diurnal.toml",
        include_str!("../../../scenarios/autoscale-diurnal.toml"),
    ),
    (
        "spot-provisioning.toml",
        include_str!("../../../scenarios/spot-provisioning.toml"),
    ),
    (
        "live-run.toml",
        include_str!("../../../scenarios/live-run.toml"),
    ),
    (
        "google-shaped.toml",
        include_str!("../../../scenarios/google-shaped.toml"),
    ),
    (
        "google-scale-1day.toml",
        include_str!("../../../scenarios/google-scale-1day.toml"),
    ),
];

/// Data files the embedded scenarios name, by path from the repository root.
pub const DATA: &[(&str, &str)] = &[
    (
        "data/policies/tenants.yaml",
        include_str!("../../../data/policies/tenants.yaml"),
    ),
    (
        "data/alibaba-gpu-v2023/openb_node_list_all_node.csv",
        include_str!("../../../data/alibaba-gpu-v2023/openb_node_list_all_node.csv"),
    ),
    (
        "data/alibaba-gpu-v2023/openb_pod_list_default.csv",
        include_str!("../../../data/alibaba-gpu-v2023/openb_pod_list_default.csv"),
    ),
];

/// The embedded data file at `path` (from the repository root).
pub fn data(path: &str) -> Option<&'static str> {
    DATA.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// The default scenario of `orchsim run`.
pub const DEFAULT: &str = "quickstart";

/// The names of the embedded scenarios, in catalog order.
pub fn names() -> Vec<&'static str> {
    CATALOG
        .iter()
        .map(|(f, _)| f.trim_end_matches(".toml"))
        .collect()
}

/// `orchsim presets [NAME]`: every value of the orchestrator presets, of the API server
/// model's defaults (`api-server`), of the provisioners' (`provisioning`) and of the network
/// agents' (`network-agents`), or of one of them, with its source.
pub fn presets(name: Option<&str>) -> Result<Table> {
    let mut files: Vec<orchsim_sim::values_file::ValuesFile> = orchsim_sim::orchestrator::PRESETS
        .iter()
        .filter_map(|p| orchsim_sim::orchestrator::builtin(p.0))
        .collect();
    files.push(orchsim_sim::api_server::defaults());
    files.push(orchsim_sim::provisioning::defaults());
    files.push(orchsim_sim::traffic::defaults());
    if let Some(n) = name {
        if !files.iter().any(|f| f.name == n) {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            return Err(crate::Error::bad_input(format!(
                "no preset `{n}`; expected one of {}",
                names.join(", ")
            )));
        }
    }
    let mut t = Table::new(["preset", "version", "key", "value", "source"]);
    for p in files.iter().filter(|f| name.is_none_or(|x| x == f.name)) {
        for (key, (value, source)) in &p.values {
            t.push(vec![
                p.name.as_str().into(),
                p.version.as_str().into(),
                key.as_str().into(),
                value.to_string().trim_matches('"').into(),
                source.as_str().into(),
            ])?;
        }
    }
    Ok(t)
}

/// `orchsim scenarios`: one row per embedded scenario with its size and the question it
/// answers.
pub fn listing() -> Result<Table> {
    let mut t = Table::new(["name", "hosts", "workloads", "duration_s", "description"]);
    for (file, text) in CATALOG {
        let source = Source::embedded(file, text);
        let row = match source.kind() {
            Kind::Architectures => {
                let st = orchsim_sim::architectures::parse(&source.origin, text)?;
                vec![
                    st.name.as_str().into(),
                    Cell::UInt(st.setup.machines as u64),
                    Cell::UInt(st.setup.workloads.len() as u64),
                    Cell::Float(st.setup.duration_s, 0),
                    st.description.as_str().into(),
                ]
            }
            Kind::GpuStudy => {
                let st = orchsim_sim::gpu_study::parse(&source.origin, text)?;
                vec![
                    st.name.as_str().into(),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    st.description.as_str().into(),
                ]
            }
            Kind::Simulation => {
                let sc = source.simulation("`orchsim scenarios`")?;
                vec![
                    sc.name.as_str().into(),
                    sc.host_count().into(),
                    (sc.workloads.len() + usize::from(sc.trace.is_some())).into(),
                    Cell::Float(sc.duration.as_secs_f64(), 0),
                    sc.description.as_str().into(),
                ]
            }
        };
        t.push(row)?;
    }
    Ok(t)
}

/// The embedded scenario called `name` (with or without `.toml`).
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    CATALOG
        .iter()
        .find(|(file, _)| file.strip_suffix(".toml") == Some(stem))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_file_is_embedded_and_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = CATALOG.iter().map(|(f, _)| f.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "scenarios/ and CATALOG disagree");
        for (file, text) in CATALOG {
            let source = Source::embedded(file, text);
            let name = match source.kind() {
                Kind::Architectures => {
                    orchsim_sim::architectures::parse(file, text)
                        .unwrap_or_else(|e| panic!("{e}"))
                        .name
                }
                Kind::GpuStudy => {
                    let st =
                        orchsim_sim::gpu_study::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
                    for path in [&st.nodes, &st.tasks] {
                        let from_root = path.strip_prefix("../").expect("data beside scenarios/");
                        assert!(data(from_root).is_some(), "{file}: {path} is not embedded");
                    }
                    st.name
                }
                // Trace files resolve to the embedded copies, as `orchsim run NAME` does.
                Kind::Simulation => {
                    source
                        .simulation("the catalog test")
                        .unwrap_or_else(|e| panic!("{e}"))
                        .name
                }
            };
            assert_eq!(
                format!("{name}.toml"),
                *file,
                "name must match the file name"
            );
            assert!(
                text.starts_with('#'),
                "{file}: needs a comment header saying its question"
            );
        }
        assert!(find(DEFAULT).is_some());
        assert!(find("quickstart.toml").is_some());
    }
}
