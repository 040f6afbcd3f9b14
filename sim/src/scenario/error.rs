//! Located errors: a scenario error names the file, line, column and field, and the checks
//! on numbers every table of a scenario shares.

use super::*;

/// A scenario that cannot be used, located in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The field's path, e.g. `hosts[0].cpu_milli`; empty when the error is not about a field.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            // Spaces by hand: `format!`'s width panics past 65,535 columns.
            let gutter = " ".repeat(gutter);
            let caret = " ".repeat(self.column.saturating_sub(1));
            write!(
                f,
                "\n{gutter} |\n{} | {}\n{gutter} | {caret}^",
                self.line, self.source_line,
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

pub(crate) struct Locator<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl Locator<'_> {
    pub(crate) fn error(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: String,
    ) -> ScenarioError {
        let offset = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        let source_line = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message,
            source_line,
        }
    }
}

/// Reads `loc.text` as TOML into `T`, an error naming the field's path and position.
pub(crate) fn deserialize_located<T: serde::de::DeserializeOwned>(
    loc: &Locator,
) -> Result<T, ScenarioError> {
    let de = toml::Deserializer::new(loc.text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // Spanned<T> shows up in the path as a private wrapper field; users never wrote it.
        let path = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let field = if path == "." { String::new() } else { path };
        loc.error(inner.span(), &field, plain_message(inner.message()))
    })
}

/// Puts serde's type names in user terms and keeps the message on one line.
pub(crate) fn plain_message(msg: &str) -> String {
    msg.trim()
        .lines()
        .collect::<Vec<_>>()
        .join("; ")
        .replace("expected i64", "expected an integer")
        .replace("expected i32", "expected an integer")
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected f64", "expected a number")
        .replace("expected a string", "expected a string (in quotes)")
}

pub(crate) fn positive(
    v: &Spanned<i64>,
    field: &str,
    unit: &str,
    loc: &Locator,
) -> Result<u64, ScenarioError> {
    let x = *v.get_ref();
    if x <= 0 {
        return Err(loc.error(
            Some(v.span()),
            field,
            format!("expected a positive integer ({unit}), found {x}"),
        ));
    }
    Ok(x as u64)
}

pub(crate) fn non_negative(
    v: &Spanned<i64>,
    field: &str,
    unit: &str,
    loc: &Locator,
) -> Result<u64, ScenarioError> {
    let x = *v.get_ref();
    if x < 0 {
        return Err(loc.error(
            Some(v.span()),
            field,
            format!("expected a non-negative integer ({unit}), found {x}"),
        ));
    }
    Ok(x as u64)
}

/// The index of the workload `name` names among `names`, or an error at its place listing
/// them (for tables that refer to a workload: upgrades, autoscalers).
pub(crate) fn workload_index<'a>(
    loc: &Locator,
    field: &str,
    name: &Spanned<String>,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Result<usize, ScenarioError> {
    names
        .clone()
        .position(|n| n == name.get_ref())
        .ok_or_else(|| {
            loc.error(
                Some(name.span()),
                field,
                format!(
                    "expected the name of a workload ({}), found `{}`",
                    names.collect::<Vec<_>>().join(", "),
                    name.get_ref()
                ),
            )
        })
}

pub(crate) fn positive_secs(
    v: &Spanned<f64>,
    field: &str,
    loc: &Locator,
) -> Result<SimDuration, ScenarioError> {
    let d = non_negative_secs(v, field, loc)?;
    if d == SimDuration::ZERO {
        return Err(loc.error(
            Some(v.span()),
            field,
            format!(
                "expected a positive number of seconds, found {}",
                v.get_ref()
            ),
        ));
    }
    Ok(d)
}

pub(crate) fn non_negative_secs(
    v: &Spanned<f64>,
    field: &str,
    loc: &Locator,
) -> Result<SimDuration, ScenarioError> {
    non_negative_scaled(v, field, 1.0, loc)
}

/// A non-negative amount of time given in a unit of `scale` seconds.
pub(crate) fn non_negative_scaled(
    v: &Spanned<f64>,
    field: &str,
    scale: f64,
    loc: &Locator,
) -> Result<SimDuration, ScenarioError> {
    let x = *v.get_ref();
    SimDuration::try_from_secs_f64(x * scale).ok_or_else(|| {
        loc.error(
            Some(v.span()),
            field,
            format!(
                "expected a non-negative time of at most {:.0} (about 584 years: simulated time is 64-bit nanoseconds), found {x}",
                u64::MAX as f64 / 1e9 / scale
            ),
        )
    })
}
