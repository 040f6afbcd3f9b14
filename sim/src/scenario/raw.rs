//! Stage one: the raw shape of a scenario file, as serde reads it (spans kept, unknown
//! fields refused).

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) seed: u64,
    pub(super) duration_s: Spanned<f64>,
    pub(super) sample_interval_s: Option<Spanned<f64>>,
    #[serde(default = "no_hosts")]
    pub(super) hosts: Spanned<Vec<RawHostGroup>>,
    #[serde(default)]
    pub(super) workloads: Vec<RawWorkload>,
    #[serde(default)]
    pub(super) scheduler: RawScheduler,
    #[serde(default)]
    pub(super) orchestrator: RawOrchestrator,
    #[serde(default)]
    pub(super) network: RawNetwork,
    #[serde(default)]
    pub(super) observers: RawObservers,
    pub(super) trace: Option<RawTrace>,
    #[serde(default)]
    pub(super) control_plane: crate::control_plane::RawControlPlane,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) faults: Vec<crate::faults::RawFault>,
    /// `[api_server]`: present, the control plane is modeled (its values override the
    /// defaults).
    pub(super) api_server: Option<std::collections::BTreeMap<String, Spanned<toml::Value>>>,
    #[serde(default)]
    pub(super) upgrades: Vec<crate::upgrades::RawUpgrade>,
    pub(super) ipam: Option<crate::ipam::RawIpam>,
    #[serde(default)]
    pub(super) autoscalers: Vec<crate::autoscale::RawAutoscaler>,
    #[serde(default)]
    pub(super) traffic: Vec<crate::traffic::RawTraffic>,
    #[serde(default)]
    pub(super) links: Vec<crate::traffic::RawLink>,
    /// `[provisioning]`: present, a provisioner adds and removes hosts (its values override
    /// the defaults).
    pub(super) provisioning:
        Option<Spanned<std::collections::BTreeMap<String, Spanned<toml::Value>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_hosts: Option<Spanned<i64>>,
    pub(super) max_pods: Option<Spanned<i64>>,
    pub(super) max_samples: Option<Spanned<i64>>,
    pub(super) max_events: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrace {
    #[serde(default = "default_trace_format")]
    pub(super) format: Spanned<String>,
    pub(super) pods: Spanned<String>,
    pub(super) nodes: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) gpu_nodes_only: bool,
    #[serde(default = "default_arrivals")]
    pub(super) arrivals: Spanned<String>,
    pub(super) interval_s: Option<Spanned<f64>>,
    pub(super) time_scale: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) departures: bool,
    pub(super) max_pods: Option<Spanned<i64>>,
    /// google-2011: cores and GiB of the trace's largest machine.
    pub(super) cpu_unit_cores: Option<Spanned<f64>>,
    pub(super) memory_unit_gib: Option<Spanned<f64>>,
    /// google-2011: the window of trace time, s, and every k-th job.
    pub(super) from_s: Option<Spanned<f64>>,
    pub(super) to_s: Option<Spanned<f64>>,
    pub(super) every_kth_job: Option<Spanned<i64>>,
    /// alibaba-2018: container_meta and batch_instance.
    pub(super) containers: Option<Spanned<String>>,
    pub(super) instances: Option<Spanned<String>>,
    /// kubernetes: the watch log replayed on the snapshot.
    pub(super) events: Option<Spanned<String>>,
    /// kubernetes: the wall-clock time (RFC 3339) of the run's time 0.
    pub(super) start: Option<Spanned<String>>,
    /// google-2011: a malformed record stops the run instead of being skipped.
    #[serde(default)]
    pub(super) strict: bool,
}

pub(super) fn default_trace_format() -> Spanned<String> {
    Spanned::new(0..0, ALIBABA_GPU_V2023.into())
}

pub(super) fn default_arrivals() -> Spanned<String> {
    Spanned::new(0..0, "creation-time".into())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObservers {
    pub(super) gpu_fragmentation: Option<Spanned<bool>>,
    /// Each workload's dominant share of the cluster at every sample (`shares.csv`).
    #[serde(default)]
    pub(super) dominant_shares: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHostGroup {
    pub(super) name: Spanned<String>,
    #[serde(default = "one")]
    pub(super) count: Spanned<i64>,
    pub(super) cpu_milli: Spanned<i64>,
    pub(super) memory_mib: Spanned<i64>,
    #[serde(default = "zero_i64")]
    pub(super) gpus: Spanned<i64>,
    pub(super) pods: Option<Spanned<i64>>,
    #[serde(default = "default_site")]
    pub(super) site: String,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    /// The model of the group's GPUs (e.g. `V100M32`), which workloads may require.
    pub(super) gpu_model: Option<Spanned<String>>,
    /// Price of one host, in currency units per hour (for capacity planning).
    #[serde(default = "zero_f64")]
    pub(super) cost_per_hour: Spanned<f64>,
    /// With `[provisioning]`: the fewest and most hosts the provisioner may leave the group.
    pub(super) min_count: Option<Spanned<i64>>,
    pub(super) max_count: Option<Spanned<i64>>,
    /// `on-demand` (the default) or `spot`.
    pub(super) capacity_type: Option<Spanned<String>>,
}

pub(super) fn no_hosts() -> Spanned<Vec<RawHostGroup>> {
    Spanned::new(0..0, Vec::new())
}

pub(super) fn one() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

pub(super) fn zero_i64() -> Spanned<i64> {
    Spanned::new(0..0, 0)
}

pub(super) fn zero_f64() -> Spanned<f64> {
    Spanned::new(0..0, 0.0)
}

pub(super) fn default_site() -> String {
    "default".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkload {
    pub(super) name: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) arrival_rate_per_s: Spanned<crate::curve::RawRate>,
    pub(super) max_pods: Option<Spanned<i64>>,
    #[serde(default = "zero_f64")]
    pub(super) start_s: Spanned<f64>,
    pub(super) cpu_milli: Spanned<RawDist>,
    pub(super) memory_mib: Spanned<RawDist>,
    pub(super) gpu_milli: Option<Spanned<RawDist>>,
    /// GPU models the workload's pods accept (any when absent).
    #[serde(default)]
    pub(super) gpu_models: Vec<Spanned<String>>,
    pub(super) duration_s: Option<Spanned<RawDist>>,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    /// An integer, or a `choice` of integers: one drawn per job.
    pub(super) priority: Option<Spanned<RawDist>>,
    /// Pods per job: `[min, max]` (uniform) or a distribution; a job's pods arrive together
    /// and are decided as one unit.
    pub(super) tasks: Option<Spanned<RawTasks>>,
    /// Marathon constraints among a job's pods.
    #[serde(default)]
    pub(super) constraints: Vec<Spanned<Vec<String>>>,
    /// Decision cost of this workload's jobs, instead of its scheduler's.
    pub(super) cost: Option<RawCost>,
    /// Kubernetes `nodeSelector`: node labels the pods require.
    pub(super) node_selector: Option<Spanned<BTreeMap<String, String>>>,
    pub(super) namespace: Option<Spanned<String>>,
    /// Size of the workload's container image, in MiB (pulled once per host).
    pub(super) image_mib: Option<Spanned<f64>>,
    /// A batch workload of Kubernetes Jobs (`crate::jobs`).
    pub(super) job: Option<Spanned<crate::jobs::RawJob>>,
    /// What happens when a container exits: `Always`/`OnFailure`/`Never` (Kubernetes) or
    /// `any`/`on-failure`/`none` (Swarm).
    pub(super) restart_policy: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScheduler {
    pub(super) algorithm: Option<Spanned<String>>,
    /// A KubeSchedulerConfiguration file, relative to the scenario file.
    pub(super) profile: Option<Spanned<String>>,
    pub(super) cost: Option<RawCost>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrchestrator {
    pub(super) start_latency_s: Option<Spanned<RawDist>>,
    /// Retry a job with pods left unplaced after this delay (the Omega simulator's
    /// `afterDelay(1)`) instead of parking it until resources are freed.
    pub(super) retry_after_s: Option<Spanned<f64>>,
    pub(super) max_attempts: Option<Spanned<i64>>,
    pub(super) max_attempts_without_progress: Option<Spanned<i64>>,
    /// An orchestrator preset (`crate::orchestrator`) by name or file.
    pub(super) preset: Option<Spanned<String>>,
    /// Preset values this scenario changes.
    #[serde(default, rename = "override")]
    pub(super) overrides: BTreeMap<String, Spanned<toml::Value>>,
    /// Image registry bandwidth to each host, in Mbit/s.
    pub(super) registry_mbit_s: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) datapath: Option<Spanned<String>>,
    pub(super) underlay_mtu: Option<Spanned<i64>>,
    pub(super) platform: Option<Spanned<String>>,
    pub(super) agents: Option<Spanned<bool>>,
    pub(super) policies: Option<Spanned<Vec<String>>>,
    pub(super) proxy: Option<Spanned<String>>,
    pub(super) services: Option<Spanned<i64>>,
}

/// Pods per job as written: `[min, max]` or a distribution table.
pub(crate) enum RawTasks {
    Range(Vec<i64>),
    Dist(Box<RawDistTable>),
}

impl<'de> Deserialize<'de> for RawTasks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTasks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("[min, max] pods per job or a distribution table such as { dist = \"pareto\", min = 1, alpha = 1.2, max = 1000 }")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawTasks, A::Error> {
                Vec::<i64>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawTasks::Range)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawTasks, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawTasks::Dist(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution as written: a bare number (constant) or a table with a `dist` key.
pub(crate) enum RawDist {
    Number(f64),
    Table(Box<RawDistTable>),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistTable {
    pub(super) dist: String,
    pub(super) value: Option<f64>,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
    pub(super) mean: Option<f64>,
    pub(super) median: Option<f64>,
    pub(super) sigma: Option<f64>,
    pub(super) values: Option<Vec<f64>>,
    pub(super) weights: Option<Vec<f64>>,
    pub(super) alpha: Option<f64>,
    pub(super) percentiles: Option<Vec<f64>>,
    /// `empirical`'s interpolation: `linear` (default) or `log`.
    pub(super) scale: Option<String>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number or a distribution table such as { dist = \"uniform\", min = 1, max = 2 }",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}
