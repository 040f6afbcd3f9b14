//! Files of model values, each with its unit and its upstream source: the orchestrator presets
//! and the API server's defaults. A file names what it describes and the versions read, then
//! one `[values.<key>]` table per key with `value`, `unit` and `source`; a key unknown to the
//! reader, missing, of the wrong unit or without a source is refused with its location.

use std::collections::BTreeMap;

use orchsim_kernel::SimDuration;
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{deserialize_located, Locator, ScenarioError};

/// What a value measures: checked against the `unit` a file writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Milliseconds,
    /// A rate; a negative one means "no limit" (client-go's QPS < 0 disables rate limiting).
    PerSecond,
    /// A whole number of at least 1.
    Count,
    /// A number of replicas, or a percentage of the desired count as a string (`"25%"`), as
    /// Kubernetes' IntOrString.
    Replicas,
    Factor,
    /// A share between 0 and 1 inclusive.
    Fraction,
    Bool,
    Algorithm,
    /// A word from a list the reader checks (an expander, a policy).
    Word,
    /// Thousandths of a CPU core, 0 or more.
    Millicores,
    /// Mebibytes of memory, 0 or more.
    Mebibytes,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Milliseconds => "ms",
            Unit::PerSecond => "1/s",
            Unit::Count => "count",
            Unit::Replicas => "replicas",
            Unit::Factor => "factor",
            Unit::Fraction => "fraction",
            Unit::Bool => "bool",
            Unit::Algorithm => "algorithm",
            Unit::Word => "word",
            Unit::Millicores => "mCPU",
            Unit::Mebibytes => "MiB",
        }
    }
}

/// A key a reader knows: its name, unit and what it means.
pub(crate) type Key = (&'static str, Unit, &'static str);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// The system the values describe, as a sentence's subject.
    #[serde(alias = "orchestrator")]
    system: String,
    /// The upstream versions its values were read at.
    version: String,
    values: BTreeMap<String, Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    value: Spanned<toml::Value>,
    unit: Spanned<String>,
    source: Spanned<String>,
}

/// A file checked: every key present once with its unit and a source.
#[derive(Clone, Debug)]
pub struct ValuesFile {
    pub name: String,
    /// What the values describe.
    pub system: String,
    pub version: String,
    /// Key → (value, source), in key order.
    pub values: BTreeMap<String, (toml::Value, String)>,
}

/// Reads and checks a values file against `keys`; `file` names it in errors.
pub(crate) fn parse(
    name: &str,
    file: &str,
    text: &str,
    keys: &[Key],
) -> Result<ValuesFile, ScenarioError> {
    let loc = Locator { file, text };
    let raw: RawFile = deserialize_located(&loc)?;
    let mut values = BTreeMap::new();
    for (key, entry) in &raw.values {
        let field = format!("values.{key}");
        let Some(&(_, unit, _)) = keys.iter().find(|k| k.0 == key) else {
            return Err(loc.error(
                Some(entry.span()),
                &field,
                format!("unknown key; expected one of {}", key_list(keys)),
            ));
        };
        let e = entry.get_ref();
        if e.unit.get_ref() != unit.name() {
            return Err(loc.error(
                Some(e.unit.span()),
                &format!("{field}.unit"),
                format!(
                    "expected unit `{}`, found `{}`",
                    unit.name(),
                    e.unit.get_ref()
                ),
            ));
        }
        if e.source.get_ref().trim().is_empty() {
            return Err(loc.error(
                Some(e.source.span()),
                &format!("{field}.source"),
                "expected where the value comes from (upstream file and version, or a paper)"
                    .into(),
            ));
        }
        check_value(&loc, key, unit, &e.value, &format!("{field}.value"))?;
        values.insert(
            key.clone(),
            (e.value.get_ref().clone(), e.source.get_ref().clone()),
        );
    }
    if let Some((key, ..)) = keys.iter().find(|k| !values.contains_key(k.0)) {
        return Err(loc.error(
            None,
            "values",
            format!("expected a value for every key; `{key}` is missing"),
        ));
    }
    Ok(ValuesFile {
        name: name.to_string(),
        system: raw.system,
        version: raw.version,
        values,
    })
}

/// The keys as a list for messages.
pub(crate) fn key_list(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| format!("`{}`", k.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a value's type and range for its unit.
pub(crate) fn check_value(
    loc: &Locator,
    key: &str,
    unit: Unit,
    v: &Spanned<toml::Value>,
    field: &str,
) -> Result<(), ScenarioError> {
    let bad = |what: String| Err(loc.error(Some(v.span()), field, what));
    let secs = |x: f64| x.is_finite() && x >= 0.0 && SimDuration::try_from_secs_f64(x).is_some();
    match (unit, v.get_ref()) {
        (Unit::Seconds, value) => match number(value) {
            Some(x) if secs(x) => Ok(()),
            _ => bad(format!(
                "expected a non-negative number of seconds for `{key}`, found {value}"
            )),
        },
        (Unit::Milliseconds, value) => match number(value) {
            Some(x) if secs(x / 1e3) => Ok(()),
            _ => bad(format!(
                "expected a non-negative number of milliseconds for `{key}`, found {value}"
            )),
        },
        (Unit::PerSecond, value) => match number(value) {
            // Below a billionth per second a token would come after the end of time.
            Some(x) if x.is_finite() && !(0.0..1e-9).contains(&x) => Ok(()),
            _ => bad(format!(
                "expected a rate per second for `{key}` (a negative one: no limit, as client-go reads QPS < 0; client-go would turn 0 into its default of 5), found {value}"
            )),
        },
        (Unit::Count, toml::Value::Integer(i)) if (1..=i64::from(u32::MAX)).contains(i) => Ok(()),
        (Unit::Count, value) => bad(format!(
            "expected a whole number of at least 1 for `{key}`, found {value}"
        )),
        (Unit::Replicas, value) => match Replicas::from_value(value) {
            Some(_) => Ok(()),
            None => bad(format!(
                "expected a number of replicas (0 or more) or a percentage such as \"25%\" for `{key}`, found {value}"
            )),
        },
        (Unit::Factor, value) => match number(value) {
            Some(x) if x.is_finite() && x >= 1.0 => Ok(()),
            _ => bad(format!(
                "expected a factor of at least 1 for `{key}` (1: the delay never grows), found {value}"
            )),
        },
        (Unit::Fraction, value) => match number(value) {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(()),
            _ => bad(format!(
                "expected a fraction between 0 and 1 for `{key}`, found {value}"
            )),
        },
        (Unit::Millicores | Unit::Mebibytes, value) => match number(value) {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(()),
            _ => bad(format!(
                "expected a non-negative amount in {} for `{key}`, found {value}",
                unit.name()
            )),
        },
        (Unit::Bool, toml::Value::Boolean(_)) => Ok(()),
        (Unit::Word, toml::Value::String(_)) => Ok(()),
        (Unit::Word, value) => bad(format!("expected a word in quotes for `{key}`, found {value}")),
        (Unit::Bool, value) => bad(format!("expected true or false for `{key}`, found {value}")),
        (Unit::Algorithm, toml::Value::String(s)) => match orchsim_sched::by_name(s, 0) {
            Ok(_) => Ok(()),
            Err(e) => bad(e.to_string()),
        },
        (Unit::Algorithm, value) => bad(format!(
            "expected a scheduler name (in quotes) for `{key}`, found {value}"
        )),
    }
}

/// A number of replicas, or a percentage of a desired count (Kubernetes' IntOrString).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replicas {
    Count(u64),
    Percent(u64),
}

impl Replicas {
    /// A whole number ≥ 0, or a string of one followed by `%`.
    pub fn from_value(v: &toml::Value) -> Option<Replicas> {
        match v {
            toml::Value::Integer(i) if *i >= 0 => Some(Replicas::Count(*i as u64)),
            toml::Value::String(s) => {
                let digits = s.strip_suffix('%')?;
                (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse().ok().map(Replicas::Percent))
                    .flatten()
            }
            _ => None,
        }
    }

    /// Of `desired` replicas, rounding a percentage up or down (apimachinery
    /// `intstr.GetScaledValueFromIntOrPercent`).
    pub fn of(self, desired: u64, round_up: bool) -> u64 {
        match self {
            Replicas::Count(n) => n,
            Replicas::Percent(p) => {
                let x = u128::from(desired) * u128::from(p);
                let v = if round_up { x.div_ceil(100) } else { x / 100 };
                v.min(u128::from(u64::MAX)) as u64
            }
        }
    }
}

impl std::fmt::Display for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Replicas::Count(n) => write!(f, "{n}"),
            Replicas::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// A TOML number as `f64`.
pub(crate) fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A checked number of seconds (`Unit::Seconds`) as a duration.
pub(crate) fn seconds(v: &toml::Value) -> SimDuration {
    SimDuration::try_from_secs_f64(number(v).unwrap_or(0.0)).unwrap_or_default()
}

/// A checked number of milliseconds (`Unit::Milliseconds`) as a duration.
pub(crate) fn millis(v: &toml::Value) -> SimDuration {
    SimDuration::try_from_secs_f64(number(v).unwrap_or(0.0) / 1e3).unwrap_or_default()
}
