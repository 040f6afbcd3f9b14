//! Marathon placement constraints, as Marathon defines and validates them.
//!
//! A constraint is `[field, OPERATOR]` or `[field, OPERATOR, value]`. The field `hostname`
//! (or `@hostname`) is the agent's host name, `@region` and `@zone` its fault domain; any other
//! field is an agent attribute. Semantics follow mesosphere/marathon's
//! `src/main/scala/mesosphere/mesos/Constraints.scala` (v1.10) and its documentation
//! (`docs/docs/constraints.md`); validation messages are those of
//! `SchedulingValidation.scala`.

use std::collections::BTreeMap;
use std::fmt;

/// A constraint operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Unique,
    Cluster,
    GroupBy,
    Like,
    Unlike,
    MaxPer,
    Is,
}

/// A validated constraint.
#[derive(Clone, Debug)]
pub struct Constraint {
    pub field: String,
    pub op: Operator,
    pub value: Option<String>,
    /// LIKE/UNLIKE: the value compiled as a whole-string match (Java's `String.matches`).
    regex: Option<regex::Regex>,
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Self) -> bool {
        (&self.field, self.op, &self.value) == (&other.field, other.op, &other.value)
    }
}

impl Eq for Constraint {}

/// A constraint Marathon would reject, with Marathon's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintError(pub String);

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConstraintError {}

/// What a constraint can see of an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentInfo {
    pub hostname: String,
    pub region: Option<String>,
    pub zone: Option<String>,
    /// Attribute values as Mesos formats them (text as is; scalars like `0.8`).
    pub attributes: BTreeMap<String, String>,
}

impl AgentInfo {
    /// The value a constraint on `field` reads (`readerForField`).
    pub fn field(&self, field: &str) -> Option<&str> {
        match field {
            "hostname" | "@hostname" => Some(&self.hostname),
            "@region" => self.region.as_deref(),
            "@zone" => self.zone.as_deref(),
            other => self.attributes.get(other).map(String::as_str),
        }
    }
}

impl Constraint {
    /// Validates `[field, operator]` or `[field, operator, value]` as Marathon's app
    /// validation does. Operators are upper case: Marathon's validator upper-cases them, but
    /// its conversion (`Operator.valueOf`) then refuses any other spelling.
    pub fn parse(parts: &[&str]) -> Result<Self, ConstraintError> {
        let err = |m: &str| Err(ConstraintError(m.to_string()));
        if parts.len() != 2 && parts.len() != 3 {
            return err("Each constraint must have either 2 or 3 fields");
        }
        let field = parts[0];
        if field.is_empty() {
            return err("illegal constraint specification");
        }
        let op = match parts[1] {
            "UNIQUE" => Operator::Unique,
            "CLUSTER" => Operator::Cluster,
            "GROUP_BY" => Operator::GroupBy,
            "LIKE" => Operator::Like,
            "UNLIKE" => Operator::Unlike,
            "MAX_PER" => Operator::MaxPer,
            "IS" => Operator::Is,
            _ => {
                return err(
                    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS",
                )
            }
        };
        let value = parts.get(2).map(|v| v.to_string());
        let mut regex = None;
        match op {
            Operator::Unique if value.is_some() => return err("UNIQUE does not accept a value"),
            Operator::GroupBy if value.as_ref().is_some_and(|v| v.parse::<i64>().is_err()) => {
                return err("GROUP BY must define an integer value or else no value at all")
            }
            Operator::MaxPer if value.as_ref().is_none_or(|v| v.parse::<i64>().is_err()) => {
                return err("MAX_PER requires an integer value")
            }
            Operator::Like | Operator::Unlike => {
                let Some(v) = value.as_ref().filter(|v| !v.is_empty()) else {
                    return err("LIKE and UNLIKE require a non-empty, regular expression value");
                };
                regex = Some(regex::Regex::new(&format!("^(?:{v})$")).map_err(|_| {
                    ConstraintError(format!("'{v}' is not a valid regular expression"))
                })?);
            }
            // Marathon's validation lets a missing IS value through and then compares with
            // ""; a missing value here is the mistake it almost always is.
            Operator::Is if value.is_none() => return err("IS requires a value"),
            Operator::Is
                if !value.as_ref().is_some_and(|v| {
                    v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_/.-".contains(c))
                }) =>
            {
                return err("IS only supports Mesos text and float values (see http://mesos.apache.org/documentation/latest/attributes-resources/)");
            }
            _ => {}
        }
        Ok(Constraint {
            field: field.to_string(),
            op,
            value,
            regex,
        })
    }

    /// Whether an agent meets this constraint for an app with `instances` desired instances
    /// whose other placed instances read `placed` for this field (in launch order; `None`
    /// where the agent lacks the field).
    pub fn meets(&self, agent: &AgentInfo, placed: &[Option<&str>], instances: u32) -> bool {
        let Some(v) = agent.field(&self.field) else {
            // A missing field satisfies only UNLIKE.
            return self.op == Operator::Unlike;
        };
        let count = |x: &str| placed.iter().filter(|p| **p == Some(x)).count() as u64;
        match self.op {
            Operator::Unique => count(v) == 0,
            Operator::Cluster => match &self.value {
                Some(want) if !want.is_empty() => v == want,
                _ => placed.first().is_none_or(|first| *first == Some(v)),
            },
            Operator::Like => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            Operator::Unlike => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            Operator::MaxPer => {
                let max: i64 = self
                    .value
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                (count(v) as i64) < max
            }
            Operator::Is => v == normalize_is(self.value.as_deref().unwrap_or("")),
            Operator::GroupBy => group_by(self.value.as_deref(), v, placed, instances),
        }
    }
}

/// IS compares numbers as Mesos formats scalars (`DecimalFormat("0.###")`, half-even).
fn normalize_is(value: &str) -> String {
    let numeric = {
        let mut parts = value.splitn(2, '.');
        let int_ok = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        let frac_ok = parts
            .next()
            .is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        int_ok && frac_ok
    };
    if !numeric {
        return value.to_string();
    }
    let Ok(x) = value.parse::<f64>() else {
        return value.to_string();
    };
    // Round half to even at the thousandths, then drop trailing zeros.
    let scaled = (x * 1000.0).round_ties_even() / 1000.0;
    let s = format!("{scaled:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// GROUP_BY. With a count (Marathon ≥ 1.10.x): the app's instances are spread over that many
/// values; a value already used may take another instance while it is below its even share
/// (or at it, while the remainder lasts); a new value is accepted while fewer values are in
/// use than the count. Without a count, Marathon's current code divides by zero; this
/// follows its earlier, documented behaviour: a new value, or the value with the fewest
/// instances.
fn group_by(value: Option<&str>, v: &str, placed: &[Option<&str>], instances: u32) -> bool {
    let mut groups: BTreeMap<&str, u64> = BTreeMap::new();
    for p in placed.iter().flatten() {
        *groups.entry(p).or_default() += 1;
    }
    let Some(want) = value.and_then(|s| s.parse::<i64>().ok()) else {
        return match groups.get(v) {
            None => true,
            Some(&c) => groups.values().all(|&other| c <= other),
        };
    };
    let desired_groups = want.max(0) as u64;
    let desired = u64::from(instances.max(1));
    match groups.get(v) {
        None => (groups.len() as u64) < desired_groups,
        Some(&c) => {
            if desired_groups == 0 {
                return false;
            }
            let per_group = desired / desired_groups;
            let remainder = desired % desired_groups;
            let consumed: u64 = groups.values().map(|&g| g.saturating_sub(per_group)).sum();
            c < per_group || (c == per_group && consumed < remainder)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(host: &str, attrs: &[(&str, &str)]) -> AgentInfo {
        AgentInfo {
            hostname: host.into(),
            region: Some("eu".into()),
            zone: Some("eu-1".into()),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn c(parts: &[&str]) -> Constraint {
        Constraint::parse(parts).unwrap()
    }

    /// One row per documented behaviour (docs/docs/constraints.md and Constraints.scala).
    #[test]
    fn operators_as_marathon_documents_them() {
        let a = agent("a.example", &[("rack_id", "rack-1"), ("gpu", "0.8")]);
        let none: &[Option<&str>] = &[];
        #[allow(clippy::type_complexity)]
        let cases: &[(&[&str], &[Option<&str>], u32, bool, &str)] = &[
            (
                &["hostname", "UNIQUE"],
                none,
                3,
                true,
                "UNIQUE: first instance",
            ),
            (
                &["hostname", "UNIQUE"],
                &[Some("b.example")],
                3,
                true,
                "UNIQUE: other host",
            ),
            (
                &["hostname", "UNIQUE"],
                &[Some("a.example")],
                3,
                false,
                "UNIQUE: host taken",
            ),
            (
                &["@hostname", "UNIQUE"],
                &[Some("a.example")],
                3,
                false,
                "@hostname is hostname",
            ),
            (
                &["rack_id", "CLUSTER", "rack-1"],
                none,
                3,
                true,
                "CLUSTER value: match",
            ),
            (
                &["rack_id", "CLUSTER", "rack-2"],
                none,
                3,
                false,
                "CLUSTER value: mismatch",
            ),
            (
                &["rack_id", "CLUSTER"],
                none,
                3,
                true,
                "CLUSTER no value: first picks",
            ),
            (
                &["rack_id", "CLUSTER"],
                &[Some("rack-1")],
                3,
                true,
                "CLUSTER follows first",
            ),
            (
                &["rack_id", "CLUSTER"],
                &[Some("rack-2")],
                3,
                false,
                "CLUSTER other value",
            ),
            (
                &["rack_id", "LIKE", "rack-[1-3]"],
                none,
                3,
                true,
                "LIKE matches",
            ),
            (
                &["rack_id", "LIKE", "rack"],
                none,
                3,
                false,
                "LIKE is anchored",
            ),
            (
                &["rack_id", "UNLIKE", "rack-[1-3]"],
                none,
                3,
                false,
                "UNLIKE matches → no",
            ),
            (
                &["rack_id", "UNLIKE", "rack"],
                none,
                3,
                true,
                "UNLIKE anchored",
            ),
            (
                &["missing", "UNLIKE", "x"],
                none,
                3,
                true,
                "UNLIKE accepts a missing field",
            ),
            (
                &["missing", "LIKE", ".*"],
                none,
                3,
                false,
                "LIKE refuses a missing field",
            ),
            (
                &["missing", "UNIQUE"],
                none,
                3,
                false,
                "UNIQUE refuses a missing field",
            ),
            (
                &["rack_id", "MAX_PER", "2"],
                &[Some("rack-1")],
                3,
                true,
                "MAX_PER below",
            ),
            (
                &["rack_id", "MAX_PER", "2"],
                &[Some("rack-1"), Some("rack-1")],
                3,
                false,
                "MAX_PER at",
            ),
            (&["gpu", "IS", "0.8"], none, 3, true, "IS scalar"),
            (&["gpu", "IS", "0.80"], none, 3, true, "IS 0.80 = 0.8"),
            (
                &["gpu", "IS", "0.8001"],
                none,
                3,
                true,
                "IS rounds to thousandths",
            ),
            (&["gpu", "IS", "0.9"], none, 3, false, "IS other"),
            (&["rack_id", "IS", "rack-1"], none, 3, true, "IS text"),
            (&["@zone", "IS", "eu-1"], none, 3, true, "@zone"),
            (&["@region", "CLUSTER", "us"], none, 3, false, "@region"),
            // GROUP_BY with a count: 4 instances over 2 values → 2 each.
            (
                &["rack_id", "GROUP_BY", "2"],
                none,
                4,
                true,
                "GROUP_BY: first value",
            ),
            (
                &["rack_id", "GROUP_BY", "2"],
                &[Some("rack-1")],
                4,
                true,
                "GROUP_BY: below share",
            ),
            (
                &["rack_id", "GROUP_BY", "2"],
                &[Some("rack-1"), Some("rack-1")],
                4,
                false,
                "GROUP_BY: at share",
            ),
            (
                &["rack_id", "GROUP_BY", "2"],
                &[Some("rack-2"), Some("rack-3")],
                4,
                false,
                "GROUP_BY: no third value",
            ),
            // 3 over 2: shares 1 each plus one remainder.
            (
                &["rack_id", "GROUP_BY", "2"],
                &[Some("rack-1"), Some("rack-2")],
                3,
                true,
                "GROUP_BY: remainder",
            ),
            (
                &["rack_id", "GROUP_BY", "2"],
                &[Some("rack-1"), Some("rack-2"), Some("rack-2")],
                3,
                false,
                "GROUP_BY: remainder used",
            ),
            // Without a count: a new value, or the least-used one.
            (
                &["rack_id", "GROUP_BY"],
                &[Some("rack-2")],
                4,
                true,
                "GROUP_BY: new value",
            ),
            (
                &["rack_id", "GROUP_BY"],
                &[Some("rack-1"), Some("rack-2"), Some("rack-2")],
                4,
                true,
                "GROUP_BY: least used",
            ),
            (
                &["rack_id", "GROUP_BY"],
                &[Some("rack-1"), Some("rack-1"), Some("rack-2")],
                4,
                false,
                "GROUP_BY: most used",
            ),
        ];
        for (parts, placed, instances, want, what) in cases {
            assert_eq!(c(parts).meets(&a, placed, *instances), *want, "{what}");
        }
    }

    #[test]
    fn malformed_constraints_get_marathons_messages() {
        let e = |p: &[&str]| Constraint::parse(p).unwrap_err().0;
        assert_eq!(
            e(&["hostname"]),
            "Each constraint must have either 2 or 3 fields"
        );
        assert_eq!(e(&["", "UNIQUE"]), "illegal constraint specification");
        assert!(
            e(&["hostname", "UNIQE"]).starts_with("operator must be one of the following UNIQUE")
        );
        assert_eq!(
            e(&["hostname", "UNIQUE", "x"]),
            "UNIQUE does not accept a value"
        );
        assert_eq!(
            e(&["rack", "GROUP_BY", "two"]),
            "GROUP BY must define an integer value or else no value at all"
        );
        assert_eq!(e(&["rack", "MAX_PER"]), "MAX_PER requires an integer value");
        assert_eq!(
            e(&["rack", "LIKE"]),
            "LIKE and UNLIKE require a non-empty, regular expression value"
        );
        assert_eq!(
            e(&["rack", "UNLIKE", ""]),
            "LIKE and UNLIKE require a non-empty, regular expression value"
        );
        assert_eq!(
            e(&["rack", "LIKE", "rack-[1"]),
            "'rack-[1' is not a valid regular expression"
        );
        assert_eq!(e(&["rack", "IS"]), "IS requires a value");
        assert!(
            e(&["rack", "IS", "a b"]).starts_with("IS only supports Mesos text and float values")
        );
        assert!(
            e(&["hostname", "unique"]).starts_with("operator must be one of"),
            "upper case only"
        );
    }
}
