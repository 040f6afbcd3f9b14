//! Result tables and their renderings (CSV files, JSON, aligned terminal text), and baseline
//! comparison of tables for regression checks ([`compare`]).
//!
//! Simulators produce [`Table`]s; this crate turns them into bytes. Cells carry their own
//! formatting (a float keeps a fixed number of decimals) so that the same table always renders
//! to the same bytes, which the determinism tests compare.

pub mod charts;
pub mod compare;
pub mod report;

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// One value in a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Int(i64),
    UInt(u64),
    /// A float rendered with a fixed number of decimals.
    Float(f64, usize),
    /// Pre-formatted exact decimal (e.g. nanosecond times as milliseconds); a number in JSON.
    Decimal(String),
    Str(String),
    /// Missing value: empty in CSV, `null` in JSON.
    Empty,
}

impl Cell {
    /// The cell as CSV/terminal text.
    pub fn text(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::UInt(v) => v.to_string(),
            Cell::Float(v, d) => format!("{v:.d$}", d = *d),
            Cell::Decimal(s) | Cell::Str(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Int(v) => Value::from(*v),
            Cell::UInt(v) => Value::from(*v),
            Cell::Float(v, d) => {
                // Round through the same text as CSV so both renderings agree.
                let t = format!("{v:.d$}", d = *d);
                t.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
            Cell::Decimal(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(s.clone())),
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Empty => Value::Null,
        }
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::UInt(v)
    }
}
impl From<usize> for Cell {
    fn from(v: usize) -> Self {
        Cell::UInt(v as u64)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Str(v.to_string())
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Str(v)
    }
}

/// A named table with fixed columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A row whose length differs from the table's column count.
#[derive(Debug)]
pub struct RowWidthError {
    pub expected: usize,
    pub got: usize,
}

impl std::fmt::Display for RowWidthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a row of {} cells in a table of {} columns",
            self.got, self.expected
        )
    }
}

impl std::error::Error for RowWidthError {}

impl Table {
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Table {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<Cell>) -> Result<(), RowWidthError> {
        if row.len() != self.columns.len() {
            return Err(RowWidthError {
                expected: self.columns.len(),
                got: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// CSV with a header row, `\n` line endings.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&self.columns);
        for row in &self.rows {
            let _ = w.write_record(row.iter().map(Cell::text));
        }
        w.into_inner().unwrap_or_default()
    }

    pub fn write_csv(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.to_csv())
    }

    /// Rows as JSON objects keyed by column name, in column order.
    pub fn to_json_rows(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let mut m = serde_json::Map::new();
                    for (c, v) in self.columns.iter().zip(row) {
                        m.insert(c.clone(), v.json());
                    }
                    serde_json::Value::Object(m)
                })
                .collect(),
        )
    }

    /// Aligned plain text: a header, a rule, then rows. Numbers are right-aligned.
    pub fn to_text(&self) -> String {
        let texts: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::text).collect())
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                texts
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.columns[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String], numeric: &[bool]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(numeric)
                .map(|((c, w), num)| pad(c, *w, *num))
                .collect();
            let _ = writeln!(out, "{}", parts.join("  ").trim_end());
        };
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|i| {
                !self.rows.is_empty() && self.rows.iter().all(|r| !matches!(r[i], Cell::Str(_)))
            })
            .collect();
        line(&mut out, &self.columns, &numeric);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule, &vec![false; widths.len()]);
        for r in &texts {
            line(&mut out, r, &numeric);
        }
        out
    }
}

/// `text` padded with spaces to `width` characters, on the left when `right` (numbers). By
/// hand rather than with `format!`'s width, which panics past 65,535.
fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.chars().count()));
    if right {
        fill + text
    } else {
        format!("{text}{fill}")
    }
}

/// A two-column key/value rendering of a one-row table, for human summaries.
pub fn key_value_text(table: &Table) -> String {
    let Some(row) = table.rows.first() else {
        return String::new();
    };
    let w = table.columns.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (c, v) in table.columns.iter().zip(row) {
        let _ = writeln!(out, "{}  {}", pad(c, w, false), v.text());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(["name", "wait_ms", "util_pct", "note"]);
        t.push(vec![
            "a".into(),
            Cell::Decimal("12.500000".into()),
            Cell::Float(0.123456, 2),
            Cell::Empty,
        ])
        .unwrap();
        t.push(vec![
            "b,c".into(),
            Cell::Decimal("3.000000".into()),
            Cell::Float(99.999, 2),
            "x".into(),
        ])
        .unwrap();
        t
    }

    #[test]
    fn csv_quotes_and_formats_fixed_decimals() {
        let csv = String::from_utf8(sample().to_csv()).unwrap();
        assert_eq!(
            csv,
            "name,wait_ms,util_pct,note\na,12.500000,0.12,\n\"b,c\",3.000000,100.00,x\n"
        );
    }

    #[test]
    fn json_rows_use_numbers_and_nulls() {
        let j = sample().to_json_rows();
        assert_eq!(j[0]["wait_ms"], serde_json::json!(12.5));
        assert_eq!(j[0]["util_pct"], serde_json::json!(0.12));
        assert_eq!(j[0]["note"], serde_json::Value::Null);
        assert_eq!(j[1]["name"], serde_json::json!("b,c"));
    }

    #[test]
    fn rows_must_match_columns() {
        let mut t = Table::new(["a", "b"]);
        let e = t.push(vec![Cell::UInt(1)]).unwrap_err();
        assert_eq!((e.expected, e.got), (2, 1));
    }

    #[test]
    fn text_aligns_columns() {
        let txt = sample().to_text();
        let lines: Vec<&str> = txt.lines().collect();
        assert_eq!(lines[0], "name    wait_ms  util_pct  note");
        assert_eq!(lines[2], "a     12.500000      0.12");
    }

    /// A cell wider than `format!`'s 65,535-character width limit renders (it used to panic).
    #[test]
    fn very_long_cells_render() {
        let long = "x".repeat(70_000);
        let mut t = Table::new(["name", "n"]);
        t.push(vec![long.as_str().into(), Cell::UInt(1)]).unwrap();
        t.push(vec!["short".into(), Cell::UInt(22)]).unwrap();
        let text = t.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[2].starts_with(&long) && lines[2].ends_with("   1"),
            "aligned"
        );
        assert_eq!(lines[3].len(), lines[2].len(), "padded to the long cell");
        assert!(key_value_text(&t).contains(&long));
    }
}
