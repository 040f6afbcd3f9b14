//! Reading a `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`) as users write it
//! for kube-scheduler, into a [`Profile`].
//!
//! Modeled: `percentageOfNodesToScore` (global and per profile), `plugins.<point>.enabled /
//! disabled` (weights, `"*"`), and `pluginConfig` args of NodeResourcesFit (`scoringStrategy`),
//! NodeResourcesBalancedAllocation (`resources`), PodTopologySpread (`defaultConstraints`,
//! `defaultingType`) and InterPodAffinity (`hardPodAffinityWeight`). Everything else is
//! returned as a note naming the field, never dropped silently. Unknown plugin names and
//! wrong values are errors naming the field.

use std::fmt;

use serde_yaml_ng::{Mapping, Value};

use super::yaml::{get, join};

use crate::model::{InclusionPolicy, TopologySpreadConstraint, WhenUnsatisfiable};

use super::plugins::Plugin;
use super::profile::{Profile, ResourceName, ScoringType};

/// Upstream plugins that orchsim accepts in a configuration but does not model (volumes,
/// queueing, binding, DRA): enabling or disabling them changes nothing here, and a note says so.
const UNMODELED_PLUGINS: &[&str] = &[
    "SchedulingGates",
    "PrioritySort",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "DefaultBinder",
    "DynamicResources",
];

/// A configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// YAML position for syntax errors (1-based), when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Path of the offending field, e.g. `profiles[0].pluginConfig[1].args.scoringStrategy.type`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A loaded profile and the notes about what it contained that orchsim does not model.
#[derive(Clone, Debug)]
pub struct LoadedProfile {
    pub profile: Profile,
    pub notes: Vec<String>,
}

fn err(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        line: None,
        column: None,
        field: field.to_string(),
        message: message.into(),
    }
}

struct Ctx {
    notes: Vec<String>,
}

impl Ctx {
    fn unmodeled(&mut self, field: &str) {
        self.notes.push(format!(
            "`{field}` is not modeled by orchsim and was ignored"
        ));
    }

    /// Notes every key of `map` not in `known`.
    fn rest(&mut self, map: &Mapping, known: &[&str], path: &str) {
        for k in map.keys() {
            let name = k.as_str().unwrap_or("?");
            if !known.contains(&name) {
                self.unmodeled(&join(path, name));
            }
        }
    }
}

fn as_map<'a>(v: &'a Value, field: &str) -> Result<&'a Mapping, ConfigError> {
    v.as_mapping()
        .ok_or_else(|| err(field, "expected a mapping"))
}

fn as_seq<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, ConfigError> {
    v.as_sequence().ok_or_else(|| err(field, "expected a list"))
}

fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, ConfigError> {
    v.as_str().ok_or_else(|| err(field, "expected a string"))
}

fn as_int(v: &Value, field: &str, lo: i64, hi: i64) -> Result<i64, ConfigError> {
    let x = v
        .as_i64()
        .ok_or_else(|| err(field, format!("expected an integer between {lo} and {hi}")))?;
    if !(lo..=hi).contains(&x) {
        return Err(err(
            field,
            format!("expected an integer between {lo} and {hi}, found {x}"),
        ));
    }
    Ok(x)
}

/// Parses a KubeSchedulerConfiguration document. `scheduler_name` picks the profile
/// (`default-scheduler` if `None`).
pub fn parse(text: &str, scheduler_name: Option<&str>) -> Result<LoadedProfile, ConfigError> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let loc = e.location();
        ConfigError {
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            field: String::new(),
            message: format!("invalid YAML: {e}"),
        }
    })?;
    let root = as_map(&doc, "")?;
    let mut ctx = Ctx { notes: Vec::new() };
    match get(root, "apiVersion").and_then(Value::as_str) {
        Some("kubescheduler.config.k8s.io/v1") => {}
        Some(other) => {
            return Err(err(
                "apiVersion",
                format!("expected `kubescheduler.config.k8s.io/v1`, found `{other}`"),
            ))
        }
        None => {
            return Err(err(
                "apiVersion",
                "expected `kubescheduler.config.k8s.io/v1`",
            ))
        }
    }
    match get(root, "kind").and_then(Value::as_str) {
        Some("KubeSchedulerConfiguration") => {}
        other => {
            return Err(err(
                "kind",
                format!("expected `KubeSchedulerConfiguration`, found {other:?}"),
            ))
        }
    }
    ctx.rest(
        root,
        &["apiVersion", "kind", "percentageOfNodesToScore", "profiles"],
        "",
    );
    let mut profile = Profile::default();
    if let Some(v) = get(root, "percentageOfNodesToScore") {
        profile.percentage_of_nodes_to_score =
            as_int(v, "percentageOfNodesToScore", 0, 100)? as u32;
    }
    let wanted = scheduler_name.unwrap_or("default-scheduler");
    if let Some(list) = get(root, "profiles") {
        let list = as_seq(list, "profiles")?;
        let mut found = false;
        for (i, p) in list.iter().enumerate() {
            let path = format!("profiles[{i}]");
            let pm = as_map(p, &path)?;
            let name = match get(pm, "schedulerName") {
                Some(v) => as_str(v, &join(&path, "schedulerName"))?,
                None => "default-scheduler",
            };
            if name != wanted {
                ctx.notes.push(format!(
                    "profile `{name}` ({path}) is not `{wanted}` and was not used"
                ));
                continue;
            }
            found = true;
            apply_profile(&mut profile, pm, &path, &mut ctx)?;
            profile.name = name.to_string();
        }
        if !found {
            return Err(err(
                "profiles",
                format!("no profile with schedulerName `{wanted}`"),
            ));
        }
    }
    Ok(LoadedProfile {
        profile,
        notes: ctx.notes,
    })
}

fn plugin_by_name(name: &str, field: &str, ctx: &mut Ctx) -> Result<Option<Plugin>, ConfigError> {
    if let Some(p) = Plugin::from_name(name) {
        return Ok(Some(p));
    }
    if name == "DefaultPreemption" {
        return Ok(None);
    }
    if UNMODELED_PLUGINS.contains(&name) {
        ctx.notes.push(format!("`{field}`: plugin {name} is not modeled by orchsim (no volumes, queue or binder) and was ignored"));
        return Ok(None);
    }
    let valid: Vec<&str> = Plugin::ALL.iter().map(|p| p.name()).collect();
    Err(err(
        field,
        format!(
            "unknown plugin `{name}`; modeled plugins: {}, DefaultPreemption",
            valid.join(", ")
        ),
    ))
}

fn apply_profile(
    profile: &mut Profile,
    pm: &Mapping,
    path: &str,
    ctx: &mut Ctx,
) -> Result<(), ConfigError> {
    ctx.rest(
        pm,
        &[
            "schedulerName",
            "percentageOfNodesToScore",
            "plugins",
            "pluginConfig",
        ],
        path,
    );
    if let Some(v) = get(pm, "percentageOfNodesToScore") {
        profile.percentage_of_nodes_to_score =
            as_int(v, &join(path, "percentageOfNodesToScore"), 0, 100)? as u32;
    }
    if let Some(plugins) = get(pm, "plugins") {
        let ppath = join(path, "plugins");
        let points = as_map(plugins, &ppath)?;
        for (point, set) in points {
            let point = point.as_str().unwrap_or("?");
            let spath = join(&ppath, point);
            let set = as_map(set, &spath)?;
            ctx.rest(set, &["enabled", "disabled"], &spath);
            let modeled = matches!(point, "multiPoint" | "filter" | "score" | "postFilter");
            if !modeled {
                ctx.unmodeled(&spath);
                continue;
            }
            if let Some(d) = get(set, "disabled") {
                for (k, e) in as_seq(d, &join(&spath, "disabled"))?.iter().enumerate() {
                    let epath = format!("{spath}.disabled[{k}]");
                    let name = as_str(
                        get(as_map(e, &epath)?, "name")
                            .ok_or_else(|| err(&epath, "expected `name`"))?,
                        &join(&epath, "name"),
                    )?;
                    disable(profile, point, name, &epath, ctx)?;
                }
            }
            if let Some(en) = get(set, "enabled") {
                let mut seen: Vec<&str> = Vec::new();
                for (k, e) in as_seq(en, &join(&spath, "enabled"))?.iter().enumerate() {
                    let epath = format!("{spath}.enabled[{k}]");
                    let em = as_map(e, &epath)?;
                    let name = as_str(
                        get(em, "name").ok_or_else(|| err(&epath, "expected `name`"))?,
                        &join(&epath, "name"),
                    )?;
                    // kube-scheduler refuses it too ("plugin already registered"): which
                    // weight would count is not for us to guess.
                    if seen.contains(&name) {
                        return Err(err(
                            &join(&epath, "name"),
                            format!(
                                "expected each plugin once per list, `{name}` is enabled twice"
                            ),
                        ));
                    }
                    seen.push(name);
                    let weight = match get(em, "weight") {
                        Some(w) => Some(as_int(w, &join(&epath, "weight"), 0, 100)?),
                        None => None,
                    };
                    enable(profile, point, name, weight, &epath, ctx)?;
                }
            }
        }
    }
    if let Some(configs) = get(pm, "pluginConfig") {
        let cpath = join(path, "pluginConfig");
        let mut seen: Vec<&str> = Vec::new();
        for (k, c) in as_seq(configs, &cpath)?.iter().enumerate() {
            let epath = format!("{cpath}[{k}]");
            let cm = as_map(c, &epath)?;
            ctx.rest(cm, &["name", "args"], &epath);
            let name = as_str(
                get(cm, "name").ok_or_else(|| err(&epath, "expected `name`"))?,
                &join(&epath, "name"),
            )?;
            // Upstream validation rejects a duplicate pluginConfig entry.
            if seen.contains(&name) {
                return Err(err(
                    &join(&epath, "name"),
                    format!("expected one pluginConfig entry per plugin, `{name}` has two"),
                ));
            }
            seen.push(name);
            let Some(args) = get(cm, "args") else {
                continue;
            };
            let apath = join(&epath, "args");
            let args = as_map(args, &apath)?;
            plugin_args(profile, name, args, &apath, ctx)?;
        }
    }
    Ok(())
}

fn disable(
    profile: &mut Profile,
    point: &str,
    name: &str,
    field: &str,
    ctx: &mut Ctx,
) -> Result<(), ConfigError> {
    let all = name == "*";
    let plugin = if all {
        None
    } else {
        plugin_by_name(name, field, ctx)?
    };
    if (all || name == "DefaultPreemption") && matches!(point, "multiPoint" | "postFilter") {
        profile.preemption = false;
    }
    let hit = |p: &Plugin| all || Some(*p) == plugin;
    if matches!(point, "multiPoint" | "filter") {
        profile.filters.retain(|p| !hit(p));
    }
    if matches!(point, "multiPoint" | "score") {
        profile.scores.retain(|(p, _)| !hit(p));
    }
    Ok(())
}

fn enable(
    profile: &mut Profile,
    point: &str,
    name: &str,
    weight: Option<i64>,
    field: &str,
    ctx: &mut Ctx,
) -> Result<(), ConfigError> {
    if name == "DefaultPreemption" {
        profile.preemption = true;
        return Ok(());
    }
    let Some(plugin) = plugin_by_name(name, field, ctx)? else {
        return Ok(());
    };
    if matches!(point, "multiPoint" | "filter")
        && plugin.has_filter()
        && !profile.filters.contains(&plugin)
    {
        profile.filters.push(plugin);
        // Keep upstream's execution order whatever order the user enabled them in.
        profile.filters.sort();
    }
    if matches!(point, "multiPoint" | "score") && plugin.has_score() {
        // The user's entry replaces the default one (weight included); framework.go turns an
        // unset or zero weight into 1.
        let w = weight.filter(|w| *w > 0).unwrap_or(1);
        match profile.scores.iter_mut().find(|(p, _)| *p == plugin) {
            Some(entry) => entry.1 = w,
            None => profile.scores.push((plugin, w)),
        }
    }
    if point == "filter" && !plugin.has_filter() {
        ctx.notes.push(format!("`{field}`: {name} has no filter"));
    }
    Ok(())
}

fn resources(v: &Value, field: &str) -> Result<Vec<(ResourceName, i64)>, ConfigError> {
    let mut out = Vec::new();
    for (k, r) in as_seq(v, field)?.iter().enumerate() {
        let rpath = format!("{field}[{k}]");
        let rm = as_map(r, &rpath)?;
        let name = as_str(
            get(rm, "name").ok_or_else(|| err(&rpath, "expected `name`"))?,
            &join(&rpath, "name"),
        )?;
        // defaults.go: a resource weight of 0 is set to 1.
        let weight = match get(rm, "weight") {
            Some(w) => as_int(w, &join(&rpath, "weight"), 0, 100)?.max(1),
            None => 1,
        };
        out.push((ResourceName::parse(name), weight));
    }
    Ok(out)
}

fn plugin_args(
    profile: &mut Profile,
    name: &str,
    args: &Mapping,
    path: &str,
    ctx: &mut Ctx,
) -> Result<(), ConfigError> {
    match name {
        "NodeResourcesFit" => {
            ctx.rest(args, &["scoringStrategy"], path);
            let Some(ss) = get(args, "scoringStrategy") else {
                return Ok(());
            };
            let spath = join(path, "scoringStrategy");
            let ss = as_map(ss, &spath)?;
            ctx.rest(
                ss,
                &["type", "resources", "requestedToCapacityRatio"],
                &spath,
            );
            if let Some(r) = get(ss, "resources") {
                profile.fit.resources = resources(r, &join(&spath, "resources"))?;
            }
            if let Some(t) = get(ss, "type") {
                let tpath = join(&spath, "type");
                profile.fit.kind = match as_str(t, &tpath)? {
                    "LeastAllocated" => ScoringType::LeastAllocated,
                    "MostAllocated" => ScoringType::MostAllocated,
                    "RequestedToCapacityRatio" => {
                        let rpath = join(&spath, "requestedToCapacityRatio");
                        let r = get(ss, "requestedToCapacityRatio")
                            .ok_or_else(|| err(&rpath, "expected `shape` for RequestedToCapacityRatio"))?;
                        let r = as_map(r, &rpath)?;
                        let shape_path = join(&rpath, "shape");
                        let shape = get(r, "shape").ok_or_else(|| err(&shape_path, "expected a list of {utilization, score}"))?;
                        let mut points = Vec::new();
                        for (k, pt) in as_seq(shape, &shape_path)?.iter().enumerate() {
                            let ppath = format!("{shape_path}[{k}]");
                            let pm = as_map(pt, &ppath)?;
                            let u = as_int(get(pm, "utilization").unwrap_or(&Value::Null), &join(&ppath, "utilization"), 0, 100)?;
                            let s = as_int(get(pm, "score").unwrap_or(&Value::Null), &join(&ppath, "score"), 0, 10)?;
                            // MaxCustomPriorityScore 10 scaled to MaxNodeScore 100.
                            points.push((u, s * 10));
                        }
                        if points.is_empty() || points.windows(2).any(|w| w[0].0 >= w[1].0) {
                            return Err(err(&shape_path, "expected at least one point, utilizations strictly increasing"));
                        }
                        ScoringType::RequestedToCapacityRatio { shape: points }
                    }
                    other => {
                        return Err(err(
                            &tpath,
                            format!("expected LeastAllocated, MostAllocated or RequestedToCapacityRatio, found `{other}`"),
                        ))
                    }
                };
            }
        }
        "NodeResourcesBalancedAllocation" => {
            ctx.rest(args, &["resources"], path);
            if let Some(r) = get(args, "resources") {
                profile.balanced_resources = resources(r, &join(path, "resources"))?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect();
            }
        }
        "PodTopologySpread" => {
            ctx.rest(args, &["defaultConstraints", "defaultingType"], path);
            let kind = match get(args, "defaultingType") {
                Some(v) => as_str(v, &join(path, "defaultingType"))?,
                None => "System",
            };
            match kind {
                "System" => profile.default_spread = None,
                "List" => {
                    let mut list = Vec::new();
                    if let Some(cs) = get(args, "defaultConstraints") {
                        let cpath = join(path, "defaultConstraints");
                        for (k, c) in as_seq(cs, &cpath)?.iter().enumerate() {
                            let epath = format!("{cpath}[{k}]");
                            let cm = as_map(c, &epath)?;
                            ctx.rest(cm, &["maxSkew", "topologyKey", "whenUnsatisfiable"], &epath);
                            let when = match as_str(
                                get(cm, "whenUnsatisfiable").unwrap_or(&Value::Null),
                                &join(&epath, "whenUnsatisfiable"),
                            )? {
                                "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
                                "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
                                other => {
                                    return Err(err(
                                        &join(&epath, "whenUnsatisfiable"),
                                        format!(
                                        "expected DoNotSchedule or ScheduleAnyway, found `{other}`"
                                    ),
                                    ))
                                }
                            };
                            list.push(TopologySpreadConstraint {
                                max_skew: as_int(
                                    get(cm, "maxSkew").unwrap_or(&Value::Null),
                                    &join(&epath, "maxSkew"),
                                    1,
                                    i64::from(i32::MAX),
                                )? as i32,
                                topology_key: as_str(
                                    get(cm, "topologyKey").unwrap_or(&Value::Null),
                                    &join(&epath, "topologyKey"),
                                )?
                                .to_string(),
                                when_unsatisfiable: when,
                                // Replaced per pod by its owner's selector, as upstream does
                                // (plugins/spread.rs owner_selector).
                                selector: None,
                                min_domains: 1,
                                node_affinity_policy: InclusionPolicy::Honor,
                                node_taints_policy: InclusionPolicy::Ignore,
                            });
                        }
                    }
                    profile.default_spread = Some(list);
                }
                other => {
                    return Err(err(
                        &join(path, "defaultingType"),
                        format!("expected System or List, found `{other}`"),
                    ))
                }
            }
        }
        "InterPodAffinity" => {
            ctx.rest(args, &["hardPodAffinityWeight"], path);
            if let Some(w) = get(args, "hardPodAffinityWeight") {
                profile.hard_pod_affinity_weight =
                    as_int(w, &join(path, "hardPodAffinityWeight"), 0, 100)?;
            }
        }
        other => {
            if Plugin::from_name(other).is_none()
                && other != "DefaultPreemption"
                && !UNMODELED_PLUGINS.contains(&other)
            {
                return Err(err(
                    &join(path, ""),
                    format!("pluginConfig for unknown plugin `{other}`"),
                ));
            }
            ctx.unmodeled(path);
        }
    }
    Ok(())
}
