//! Orchestrator presets: the timing and policy of a node's and a container's life that differ
//! between Kubernetes, Swarm and Mesos + Marathon — failure detection, eviction, replacement,
//! restart back-off, restart in place — and the default scheduler of each.
//!
//! Each preset is a TOML file in `sim/presets/` (compiled in); every value there carries its
//! unit and its upstream source with the version read. A scenario names one and may override
//! any value:
//!
//! ```toml
//! [orchestrator]
//! preset = "kubernetes"        # or "swarm", "mesos-marathon", or a preset file's path
//! [orchestrator.override]
//! eviction_delay_s = 60        # e.g. pods tolerate an unreachable node for 60 s, not 300 s
//! ```
//!
//! A node is declared failed at the first check of the control plane (every
//! `monitor_interval_s`; 0: a timer per node that fires at once) at which `failure_grace_s`
//! has passed since its last heartbeat (heartbeats every `heartbeat_interval_s` from time 0).
//! `eviction_delay_s` later its pods are given up, and `replacement_delay_s` after that each
//! replacement enters its scheduler's queue.

use std::collections::BTreeMap;
use std::fmt;

use orchsim_kernel::{SimDuration, SimTime};
use toml::Spanned;

use crate::scenario::{Locator, ScenarioError, ScenarioFiles};
use crate::values_file::{self, check_value, key_list, number, Key, Replicas, Unit, ValuesFile};

/// The compiled-in presets, by name.
pub const PRESETS: &[(&str, &str)] = &[
    ("kubernetes", include_str!("../presets/kubernetes.toml")),
    ("swarm", include_str!("../presets/swarm.toml")),
    (
        "mesos-marathon",
        include_str!("../presets/mesos-marathon.toml"),
    ),
];

/// Every preset key, its unit and what it means (the messages list them).
const KEYS: &[Key] = &[
    (
        "heartbeat_interval_s",
        Unit::Seconds,
        "a node reports to the control plane this often",
    ),
    (
        "failure_grace_s",
        Unit::Seconds,
        "a node is declared failed this long after its last heartbeat",
    ),
    (
        "monitor_interval_s",
        Unit::Seconds,
        "the control plane checks heartbeats this often (0: a timer per node)",
    ),
    (
        "eviction_delay_s",
        Unit::Seconds,
        "from a node declared failed to its pods given up",
    ),
    (
        "replacement_delay_s",
        Unit::Seconds,
        "from a pod given up to its replacement queued for the scheduler",
    ),
    (
        "restart_first_immediately",
        Unit::Bool,
        "a container's first exit restarts it at once, the back-off starting from the second",
    ),
    (
        "restart_delay_s",
        Unit::Seconds,
        "the first restart delay of the back-off",
    ),
    (
        "restart_backoff_factor",
        Unit::Factor,
        "each further exit multiplies the restart delay by this",
    ),
    (
        "restart_delay_max_s",
        Unit::Seconds,
        "the restart delay never exceeds this",
    ),
    (
        "restart_reset_s",
        Unit::Seconds,
        "a container that ran this long starts its back-off over",
    ),
    (
        "restart_in_place",
        Unit::Bool,
        "an exited container restarts on its node (true) or a new one is scheduled (false)",
    ),
    (
        "scheduler",
        Unit::Algorithm,
        "the scheduler a scenario gets when it names none",
    ),
    (
        "upgrade_max_surge",
        Unit::Replicas,
        "a rolling upgrade runs at most this many pods above the desired count",
    ),
    (
        "upgrade_max_unavailable",
        Unit::Replicas,
        "a rolling upgrade keeps at least the desired count minus this many pods ready",
    ),
];

/// A preset resolved with a scenario's overrides: what the world runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    /// The preset's name (`kubernetes`, …, or the file it was read from).
    pub preset: String,
    pub heartbeat_interval: SimDuration,
    pub failure_grace: SimDuration,
    pub monitor_interval: SimDuration,
    pub eviction_delay: SimDuration,
    pub replacement_delay: SimDuration,
    pub restart_first_immediately: bool,
    pub restart_delay: SimDuration,
    pub restart_backoff_factor: f64,
    pub restart_delay_max: SimDuration,
    pub restart_reset: SimDuration,
    pub restart_in_place: bool,
    pub scheduler: String,
    pub upgrade_max_surge: Replicas,
    pub upgrade_max_unavailable: Replicas,
}

impl Lifecycle {
    /// When a node that failed at `failed` is declared failed: its last heartbeat is the
    /// latest multiple of the heartbeat interval before the failure (a node failing at a
    /// heartbeat's instant does not send it); a timer per node fires
    /// at that heartbeat + the grace period, a periodic check declares it at the first tick
    /// strictly after (kube-controller-manager tests `now.After(probe + grace)`).
    pub fn detected_at(&self, failed: SimTime) -> SimTime {
        let t = failed.since(SimTime::ZERO).as_nanos();
        let hb = self.heartbeat_interval.as_nanos().max(1);
        let last = if t > 0 && t.is_multiple_of(hb) {
            t - hb
        } else {
            t / hb * hb
        };
        let deadline = last.saturating_add(self.failure_grace.as_nanos());
        let detected = match self.monitor_interval.as_nanos() {
            0 => deadline,
            m => (deadline / m).saturating_add(1).saturating_mul(m),
        };
        // A node is never declared failed before it failed (a grace shorter than the time
        // since its last heartbeat).
        SimTime::ZERO + SimDuration(detected.max(t))
    }

    /// The delay before the `n`-th restart (1-based) of a container since its back-off last
    /// reset: `min(restart_delay × factor^(k−1), restart_delay_max)` for the k-th delayed
    /// restart (every restart, or all but the first with `restart_first_immediately`).
    pub fn restart_backoff(&self, n: u32) -> SimDuration {
        let k = if self.restart_first_immediately {
            if n <= 1 {
                return SimDuration::ZERO;
            }
            n - 1
        } else {
            n.max(1)
        };
        let base = self.restart_delay.as_nanos() as f64;
        // Past a thousand doublings the cap has long won; the bound keeps the exponent an i32.
        let grown = base * self.restart_backoff_factor.powi((k - 1).min(1000) as i32);
        let capped = grown.min(self.restart_delay_max.as_nanos() as f64);
        SimDuration(capped.round() as u64)
    }
}

/// A preset file checked: every key present once with its unit and a source.
pub type Preset = ValuesFile;

/// Reads and checks a preset file; `file` names it in errors.
pub fn parse_preset(name: &str, file: &str, text: &str) -> Result<Preset, ScenarioError> {
    values_file::parse(name, file, text, KEYS)
}

/// A compiled-in preset by name.
pub fn builtin(name: &str) -> Option<Preset> {
    PRESETS.iter().find(|p| p.0 == name).map(|(n, text)| {
        parse_preset(n, &format!("presets/{n}.toml"), text)
            .unwrap_or_else(|e| panic!("compiled-in preset {n} is broken: {e}"))
    })
}

/// The `[orchestrator]` keys this module reads.
pub(crate) struct RawChoice<'a> {
    pub(crate) preset: Option<&'a Spanned<String>>,
    pub(crate) overrides: &'a BTreeMap<String, Spanned<toml::Value>>,
}

/// Resolves a scenario's preset and overrides into a [`Lifecycle`]; `None` when the scenario
/// names no preset (and then it may override nothing).
pub(crate) fn resolve(
    loc: &Locator,
    choice: RawChoice,
    files: &dyn ScenarioFiles,
) -> Result<Option<Lifecycle>, ScenarioError> {
    let Some(name) = choice.preset else {
        if let Some((key, v)) = choice.overrides.iter().next() {
            return Err(loc.error(
                Some(v.span()),
                &format!("orchestrator.override.{key}"),
                "an override needs a preset to override: expected `[orchestrator] preset = \"kubernetes\"` (or \"swarm\", \"mesos-marathon\")".into(),
            ));
        }
        return Ok(None);
    };
    let preset = match builtin(name.get_ref()) {
        Some(p) => p,
        None if name.get_ref().ends_with(".toml") => {
            let (shown, text) = files
                .read(name.get_ref())
                .map_err(|e| loc.error(Some(name.span()), "orchestrator.preset", e))?;
            parse_preset(name.get_ref(), &shown, &text)?
        }
        None => {
            return Err(loc.error(
                Some(name.span()),
                "orchestrator.preset",
                format!(
                    "expected one of {} or a preset file ending in .toml, found `{}`",
                    PRESETS
                        .iter()
                        .map(|p| format!("`{}`", p.0))
                        .collect::<Vec<_>>()
                        .join(", "),
                    name.get_ref()
                ),
            ))
        }
    };
    let mut values: BTreeMap<String, toml::Value> = preset
        .values
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    for (key, v) in choice.overrides {
        let field = format!("orchestrator.override.{key}");
        let Some(&(k, unit, _)) = KEYS.iter().find(|k| k.0 == key) else {
            return Err(loc.error(
                Some(v.span()),
                &field,
                format!("unknown preset key; expected one of {}", key_list(KEYS)),
            ));
        };
        check_value(loc, key, unit, v, &field)?;
        values.insert(k.to_string(), v.get_ref().clone());
    }
    Ok(Some(Lifecycle::from_values(&preset.name, &values)))
}

impl Lifecycle {
    /// A compiled-in preset as it stands, without overrides.
    pub fn builtin(name: &str) -> Option<Lifecycle> {
        let p = builtin(name)?;
        let values = p
            .values
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        Some(Lifecycle::from_values(&p.name, &values))
    }

    /// From checked values (every key present, each of its unit's type).
    fn from_values(preset: &str, values: &BTreeMap<String, toml::Value>) -> Lifecycle {
        let secs = |k: &str| values_file::seconds(&values[k]);
        Lifecycle {
            preset: preset.to_string(),
            heartbeat_interval: secs("heartbeat_interval_s"),
            failure_grace: secs("failure_grace_s"),
            monitor_interval: secs("monitor_interval_s"),
            eviction_delay: secs("eviction_delay_s"),
            replacement_delay: secs("replacement_delay_s"),
            restart_first_immediately: values["restart_first_immediately"]
                .as_bool()
                .unwrap_or(false),
            restart_delay: secs("restart_delay_s"),
            restart_backoff_factor: number(&values["restart_backoff_factor"]).unwrap_or(1.0),
            restart_delay_max: secs("restart_delay_max_s"),
            restart_reset: secs("restart_reset_s"),
            restart_in_place: values["restart_in_place"].as_bool().unwrap_or(false),
            scheduler: values["scheduler"]
                .as_str()
                .unwrap_or("first-fit")
                .to_string(),
            upgrade_max_surge: Replicas::from_value(&values["upgrade_max_surge"])
                .unwrap_or(Replicas::Count(0)),
            upgrade_max_unavailable: Replicas::from_value(&values["upgrade_max_unavailable"])
                .unwrap_or(Replicas::Count(1)),
        }
    }
}

impl fmt::Display for ValuesFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}), {}", self.name, self.system, self.version)?;
        for (key, (value, source)) in &self.values {
            writeln!(f, "  {key} = {value}    # {source}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_preset_loads_with_every_key_sourced() {
        for (name, _) in PRESETS {
            let p = builtin(name).unwrap();
            assert_eq!(p.values.len(), KEYS.len(), "{name}");
            for (key, (_, source)) in &p.values {
                assert!(
                    source.len() > 20,
                    "{name}.{key}: source too short: {source}"
                );
            }
        }
    }

    fn lifecycle(hb: f64, grace: f64, monitor: f64) -> Lifecycle {
        let s = |x: f64| SimDuration::try_from_secs_f64(x).unwrap();
        Lifecycle {
            preset: "test".into(),
            heartbeat_interval: s(hb),
            failure_grace: s(grace),
            monitor_interval: s(monitor),
            eviction_delay: s(0.0),
            replacement_delay: s(0.0),
            restart_first_immediately: true,
            restart_delay: s(10.0),
            restart_backoff_factor: 2.0,
            restart_delay_max: s(300.0),
            restart_reset: s(600.0),
            restart_in_place: true,
            scheduler: "kubernetes".into(),
            upgrade_max_surge: Replicas::Percent(25),
            upgrade_max_unavailable: Replicas::Percent(25),
        }
    }

    #[test]
    fn detection_follows_the_last_heartbeat_and_the_monitor_grid() {
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        // Heartbeats at 600 and 610; failed at 607: last heartbeat 600, deadline 640, and the
        // first 5 s tick strictly after it.
        let l = lifecycle(10.0, 40.0, 5.0);
        assert_eq!(l.detected_at(at(607)), at(645));
        // A 7 s monitor period: the first tick after 640 is 644.
        let l = lifecycle(10.0, 40.0, 7.0);
        assert_eq!(l.detected_at(at(607)), at(644));
        // A timer per node fires at the deadline itself.
        let l = lifecycle(5.0, 15.0, 0.0);
        assert_eq!(l.detected_at(at(607)), at(620));
        // Failing at a heartbeat's instant, it never sent that one.
        assert_eq!(l.detected_at(at(610)), at(620));
    }

    #[test]
    fn restart_backoff_doubles_to_its_cap() {
        let l = lifecycle(10.0, 40.0, 5.0);
        let secs: Vec<u64> = (1..=8)
            .map(|n| l.restart_backoff(n).as_nanos() / 1_000_000_000)
            .collect();
        // kubelet: the first exit restarts at once, then 10, 20, 40, … capped at 300 s.
        assert_eq!(secs, [0, 10, 20, 40, 80, 160, 300, 300]);
        let l = Lifecycle {
            restart_first_immediately: false,
            restart_delay: SimDuration::from_secs(1),
            restart_backoff_factor: 1.15,
            ..l
        };
        // Marathon: 1 s, then × 1.15 each failure.
        assert_eq!(l.restart_backoff(1), SimDuration::from_secs(1));
        assert_eq!(l.restart_backoff(3).as_nanos(), 1_322_500_000);
    }

    #[test]
    fn a_preset_missing_a_key_or_a_source_is_refused() {
        let text = builtin_text("swarm").replace("[values.restart_reset_s]", "[values.ignored]");
        let e = parse_preset("x", "x.toml", &text).unwrap_err();
        assert!(e.to_string().contains("unknown key"), "{e}");
        let text = builtin_text("swarm");
        let start = text.find("[values.restart_reset_s]").unwrap();
        let end = start + text[start..].find("\n\n").unwrap();
        let text = format!("{}{}", &text[..start], &text[end..]);
        let e = parse_preset("x", "x.toml", &text).unwrap_err();
        assert!(
            e.to_string().contains("`restart_reset_s` is missing"),
            "{e}"
        );
    }

    fn builtin_text(name: &str) -> String {
        PRESETS.iter().find(|p| p.0 == name).unwrap().1.to_string()
    }
}
