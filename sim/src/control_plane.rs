//! The `[control_plane]` of a scenario: how pods reach nodes — one scheduler (monolithic),
//! the Mesos allocator offering to frameworks (two-level), or several schedulers committing
//! optimistic transactions against shared cluster state (Omega) — and which scheduler serves
//! which workload.
//!
//! ```toml
//! [control_plane]
//! kind = "two-level"           # or "monolithic" (default) or "shared-state"
//! allocation_interval_s = 1    # two-level: Mesos --allocation_interval
//! refuse_s = 5                 # two-level: Filters.refuse_seconds of a decline
//! accept_refuse_s = 0          # two-level: refusal of an accepted offer's unused rest
//! offers = "per-agent"         # or "whole-cell" (the Omega simulator's Mesos model)
//! conflict = "coarse"          # shared-state: or "fine"
//! transaction = "incremental"  # shared-state: or "all-or-nothing"
//!
//! [[control_plane.schedulers]] # two-level: frameworks; shared-state: schedulers
//! name = "marathon"
//! algorithm = "marathon"
//! workloads = ["web"]          # every workload (and "trace") has exactly one
//! cost = { t_job_ms = 100, t_task_ms = 5 }
//! ```

use std::ops::Range;

use orchsim_kernel::SimDuration;
use orchsim_sched::mesos::allocator::{DEFAULT_ALLOCATION_INTERVAL_NS, DEFAULT_REFUSE_NS};
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{
    non_negative_scaled, non_negative_secs, positive_secs, DecisionCost, Locator, ScenarioError,
};

/// Shared-state conflict detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictMode {
    /// Any placement on the node since the snapshot is a conflict (Omega's sequence numbers).
    Coarse,
    /// A conflict only if the node no longer has room.
    Fine,
}

/// Shared-state commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transaction {
    /// Any conflict rolls the whole job back (gang scheduling).
    AllOrNothing,
    /// Placements that do not conflict are kept.
    Incremental,
}

/// Two-level (Mesos) settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwoLevel {
    pub allocation_interval: SimDuration,
    /// Refusal filter of a declined offer.
    pub refuse: SimDuration,
    /// Refusal filter of the unused rest of an accepted offer (Marathon accepts with 0).
    pub accept_refuse: SimDuration,
    /// Everything free to one framework at a time (the Omega simulator's model of Mesos)
    /// instead of Mesos' whole agents one at a time in DRF order.
    pub whole_cell: bool,
    /// An offer not answered within this time is rescinded (Mesos `--offer_timeout`).
    pub offer_timeout: Option<SimDuration>,
}

/// Shared-state (Omega) settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedState {
    pub conflict: ConflictMode,
    pub transaction: Transaction,
}

/// The kind of control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPlaneKind {
    Monolithic,
    TwoLevel(TwoLevel),
    SharedState(SharedState),
}

impl ControlPlaneKind {
    pub fn name(&self) -> &'static str {
        match self {
            ControlPlaneKind::Monolithic => "monolithic",
            ControlPlaneKind::TwoLevel(_) => "two-level",
            ControlPlaneKind::SharedState(_) => "shared-state",
        }
    }
}

/// One scheduler of a two-level or shared-state control plane (a framework, in Mesos'
/// terms) and the workloads it serves.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerSpec {
    pub name: String,
    pub algorithm: String,
    pub profile: Option<orchsim_sched::kube::Profile>,
    pub cost: DecisionCost,
    /// Names of the workloads (and `trace`) it serves.
    pub workloads: Vec<String>,
}

/// The validated `[control_plane]`. A monolithic one has no `schedulers`: the scenario's
/// `[scheduler]` serves every workload.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlane {
    pub kind: ControlPlaneKind,
    pub schedulers: Vec<SchedulerSpec>,
}

impl Default for ControlPlane {
    fn default() -> Self {
        ControlPlane {
            kind: ControlPlaneKind::Monolithic,
            schedulers: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControlPlane {
    kind: Option<Spanned<String>>,
    allocation_interval_s: Option<Spanned<f64>>,
    refuse_s: Option<Spanned<f64>>,
    accept_refuse_s: Option<Spanned<f64>>,
    offers: Option<Spanned<String>>,
    offer_timeout_s: Option<Spanned<f64>>,
    conflict: Option<Spanned<String>>,
    transaction: Option<Spanned<String>>,
    #[serde(default)]
    schedulers: Vec<RawSchedulerSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedulerSpec {
    name: Spanned<String>,
    algorithm: Spanned<String>,
    cost: Option<RawCost>,
    workloads: Spanned<Vec<Spanned<String>>>,
}

/// `{ t_job_ms, t_task_ms, t_node_us }`, as in `[scheduler.cost]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCost {
    t_job_ms: Spanned<f64>,
    t_task_ms: Spanned<f64>,
    t_node_us: Option<Spanned<f64>>,
}

impl RawCost {
    pub(crate) fn validate(
        &self,
        field: &str,
        loc: &Locator,
    ) -> Result<DecisionCost, ScenarioError> {
        Ok(DecisionCost {
            t_job: non_negative_scaled(&self.t_job_ms, &format!("{field}.t_job_ms"), 1e-3, loc)?,
            t_task: non_negative_scaled(&self.t_task_ms, &format!("{field}.t_task_ms"), 1e-3, loc)?,
            t_node: match &self.t_node_us {
                Some(t) => non_negative_scaled(t, &format!("{field}.t_node_us"), 1e-6, loc)?,
                None => SimDuration::ZERO,
            },
        })
    }
}

/// Fields of one kind that another kind does not read are refused, so a typo'd kind cannot
/// silently drop them.
fn refuse_foreign(
    loc: &Locator,
    kind: &str,
    fields: &[(&str, Option<Range<usize>>)],
) -> Result<(), ScenarioError> {
    for (name, span) in fields {
        if let Some(span) = span {
            return Err(loc.error(
                Some(span.clone()),
                &format!("control_plane.{name}"),
                format!("`{name}` does not apply to kind = \"{kind}\""),
            ));
        }
    }
    Ok(())
}

fn choice<T: Copy>(
    loc: &Locator,
    v: &Option<Spanned<String>>,
    field: &str,
    options: &[(&str, T)],
    default: T,
) -> Result<T, ScenarioError> {
    let Some(v) = v else { return Ok(default) };
    options
        .iter()
        .find(|(n, _)| *n == v.get_ref())
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
            loc.error(
                Some(v.span()),
                &format!("control_plane.{field}"),
                format!(
                    "expected one of {}, found `{}`",
                    names.join(", "),
                    v.get_ref()
                ),
            )
        })
}

/// Validates `raw` against the scenario's workload names (`trace` included when it has one).
pub(crate) fn validate(
    loc: &Locator,
    raw: &RawControlPlane,
    workloads: &[String],
) -> Result<ControlPlane, ScenarioError> {
    let kind_name = raw
        .kind
        .as_ref()
        .map_or("monolithic", |k| k.get_ref().as_str());
    let span = |v: &Option<Spanned<f64>>| v.as_ref().map(|s| s.span());
    let sspan = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.span());
    let two_level_fields = [
        ("allocation_interval_s", span(&raw.allocation_interval_s)),
        ("refuse_s", span(&raw.refuse_s)),
        ("accept_refuse_s", span(&raw.accept_refuse_s)),
        ("offers", sspan(&raw.offers)),
        ("offer_timeout_s", span(&raw.offer_timeout_s)),
    ];
    let shared_fields = [
        ("conflict", sspan(&raw.conflict)),
        ("transaction", sspan(&raw.transaction)),
    ];
    let secs = |v: &Option<Spanned<f64>>, field: &str, default_ns: u64| match v {
        Some(s) => non_negative_secs(s, &format!("control_plane.{field}"), loc),
        None => Ok(SimDuration(default_ns)),
    };
    let kind = match kind_name {
        "monolithic" => {
            refuse_foreign(loc, kind_name, &two_level_fields)?;
            refuse_foreign(loc, kind_name, &shared_fields)?;
            if let Some(s) = raw.schedulers.first() {
                return Err(loc.error(
                    Some(s.name.span()),
                    "control_plane.schedulers",
                    "a monolithic control plane has one scheduler, `[scheduler]`; expected kind = \"two-level\" or \"shared-state\" for several".into(),
                ));
            }
            ControlPlaneKind::Monolithic
        }
        "two-level" => {
            refuse_foreign(loc, kind_name, &shared_fields)?;
            let allocation_interval = match &raw.allocation_interval_s {
                Some(s) => positive_secs(s, "control_plane.allocation_interval_s", loc)?,
                None => SimDuration(DEFAULT_ALLOCATION_INTERVAL_NS),
            };
            ControlPlaneKind::TwoLevel(TwoLevel {
                allocation_interval,
                refuse: secs(&raw.refuse_s, "refuse_s", DEFAULT_REFUSE_NS)?,
                accept_refuse: secs(&raw.accept_refuse_s, "accept_refuse_s", 0)?,
                whole_cell: choice(
                    loc,
                    &raw.offers,
                    "offers",
                    &[("per-agent", false), ("whole-cell", true)],
                    false,
                )?,
                offer_timeout: match &raw.offer_timeout_s {
                    Some(s) => Some(positive_secs(s, "control_plane.offer_timeout_s", loc)?),
                    None => None,
                },
            })
        }
        "shared-state" => {
            refuse_foreign(loc, kind_name, &two_level_fields)?;
            ControlPlaneKind::SharedState(SharedState {
                conflict: choice(
                    loc,
                    &raw.conflict,
                    "conflict",
                    &[
                        ("coarse", ConflictMode::Coarse),
                        ("fine", ConflictMode::Fine),
                    ],
                    ConflictMode::Coarse,
                )?,
                transaction: choice(
                    loc,
                    &raw.transaction,
                    "transaction",
                    &[
                        ("incremental", Transaction::Incremental),
                        ("all-or-nothing", Transaction::AllOrNothing),
                    ],
                    Transaction::Incremental,
                )?,
            })
        }
        other => {
            let span = raw.kind.as_ref().map(|k| k.span());
            return Err(loc.error(
                span,
                "control_plane.kind",
                format!("expected `monolithic`, `two-level` or `shared-state`, found `{other}`"),
            ));
        }
    };
    if kind == ControlPlaneKind::Monolithic {
        return Ok(ControlPlane::default());
    }
    if raw.schedulers.is_empty() {
        return Err(loc.error(
            raw.kind.as_ref().map(|k| k.span()),
            "control_plane.schedulers",
            format!(
                "expected at least one `[[control_plane.schedulers]]` for kind = \"{kind_name}\""
            ),
        ));
    }
    let mut schedulers = Vec::new();
    let mut served: Vec<Option<String>> = vec![None; workloads.len()];
    for (i, s) in raw.schedulers.iter().enumerate() {
        let f = |k: &str| format!("control_plane.schedulers[{i}].{k}");
        let name = s.name.get_ref().trim().to_string();
        if name.is_empty() || schedulers.iter().any(|o: &SchedulerSpec| o.name == name) {
            return Err(loc.error(
                Some(s.name.span()),
                &f("name"),
                format!(
                    "expected a non-empty name no other scheduler has, found {:?}",
                    s.name.get_ref()
                ),
            ));
        }
        if let Err(e) = orchsim_sched::by_name(s.algorithm.get_ref(), 0) {
            return Err(loc.error(Some(s.algorithm.span()), &f("algorithm"), e.to_string()));
        }
        if s.workloads.get_ref().is_empty() {
            return Err(loc.error(
                Some(s.workloads.span()),
                &f("workloads"),
                "expected the names of the workloads this scheduler serves".into(),
            ));
        }
        for (k, w) in s.workloads.get_ref().iter().enumerate() {
            let Some(at) = workloads.iter().position(|n| n == w.get_ref()) else {
                return Err(loc.error(
                    Some(w.span()),
                    &f(&format!("workloads[{k}]")),
                    format!(
                        "expected one of the scenario's workloads ({}), found `{}`",
                        workloads.join(", "),
                        w.get_ref()
                    ),
                ));
            };
            if let Some(other) = &served[at] {
                return Err(loc.error(
                    Some(w.span()),
                    &f(&format!("workloads[{k}]")),
                    format!("workload `{}` is already served by scheduler `{other}`; expected each workload on exactly one", w.get_ref()),
                ));
            }
            served[at] = Some(name.clone());
        }
        schedulers.push(SchedulerSpec {
            name,
            algorithm: s.algorithm.get_ref().clone(),
            profile: None,
            cost: match &s.cost {
                Some(c) => c.validate(&f("cost"), loc)?,
                None => DecisionCost::default(),
            },
            workloads: s
                .workloads
                .get_ref()
                .iter()
                .map(|w| w.get_ref().clone())
                .collect(),
        });
    }
    if let Some(at) = served.iter().position(Option::is_none) {
        return Err(loc.error(
            raw.kind.as_ref().map(|k| k.span()),
            "control_plane.schedulers",
            format!("workload `{}` has no scheduler; expected every workload in exactly one scheduler's `workloads`", workloads[at]),
        ));
    }
    Ok(ControlPlane { kind, schedulers })
}
