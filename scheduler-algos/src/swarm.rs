//! Docker Swarm (swarmkit) placement: constraint expressions, the filter pipeline, and the
//! spread choice with placement preferences.
//!
//! Followed: moby/swarmkit `manager/constraint/constraint.go` (grammar, matching) and
//! `manager/scheduler/` (filters, nodeinfo ordering, decision tree).

use std::fmt;

/// `==` or `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintOp {
    Eq,
    NotEq,
}

/// One parsed constraint, e.g. `node.labels.zone == east`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub key: String,
    pub op: ConstraintOp,
    pub value: String,
}

/// A constraint expression that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintError {
    pub expression: String,
    pub message: String,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "constraint `{}`: {}", self.expression, self.message)
    }
}

impl std::error::Error for ConstraintError {}

/// constraint.go `alphaNumeric`: `^(?i)[a-z_][a-z0-9\-_.]+$`.
fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// constraint.go `valuePattern`: `^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`.
fn valid_value(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric() || c.is_whitespace() || ":-_.*()?+[]\\^$|/".contains(c)
        })
}

impl Constraint {
    /// Parses one expression (constraint.go `Parse`): the first `==` or `!=` splits it; key and
    /// value are trimmed and checked against upstream's patterns.
    pub fn parse(expr: &str) -> Result<Constraint, ConstraintError> {
        let e = |m: &str| ConstraintError {
            expression: expr.to_string(),
            message: m.to_string(),
        };
        let (pos, op) = [("==", ConstraintOp::Eq), ("!=", ConstraintOp::NotEq)]
            .into_iter()
            .filter_map(|(s, op)| expr.find(s).map(|p| (p, op)))
            .min_by_key(|(p, _)| *p)
            .ok_or_else(|| e("invalid expression: expected `key==value` or `key!=value`"))?;
        let key = expr[..pos].trim();
        let value = expr[pos + 2..].trim();
        if !valid_key(key) {
            return Err(e(&format!("key '{key}' is invalid")));
        }
        if !valid_value(value) {
            return Err(e(&format!("value '{value}' is invalid")));
        }
        Ok(Constraint {
            key: key.to_string(),
            op,
            value: value.to_string(),
        })
    }

    /// constraint.go `Match`: case-insensitive comparison against any of `candidates`.
    pub fn matches(&self, candidates: &[&str]) -> bool {
        let hit = candidates
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&self.value));
        match self.op {
            ConstraintOp::Eq => hit,
            ConstraintOp::NotEq => !hit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_forms() {
        let c = Constraint::parse("node.labels.zone == east").unwrap();
        assert_eq!(
            (c.key.as_str(), c.op, c.value.as_str()),
            ("node.labels.zone", ConstraintOp::Eq, "east")
        );
        let c = Constraint::parse("node.role!=manager").unwrap();
        assert_eq!(c.op, ConstraintOp::NotEq);
        assert!(Constraint::parse("node.role").is_err());
        assert!(Constraint::parse("==x").is_err());
        assert!(Constraint::parse("node.role==").is_err());
        assert!(Constraint::parse("node.labels.a==b;c").is_err());
    }

    #[test]
    fn matching_ignores_case() {
        let c = Constraint::parse("node.hostname==Worker-1").unwrap();
        assert!(c.matches(&["worker-1"]));
        assert!(!c.matches(&["worker-2"]));
        let c = Constraint::parse("node.hostname!=worker-1").unwrap();
        assert!(!c.matches(&["WORKER-1"]));
    }
}
