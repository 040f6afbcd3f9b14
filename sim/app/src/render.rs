//! The one renderer: every command's result is a [`View`] (a table, optionally with the
//! lines a person reads around it or a JSON document of its own), and [`View::render`] turns it
//! into the three formats. Writing goes through [`write_stdout`], so a reader that closes the
//! pipe ends the command quietly instead of panicking.

use std::io::Write;

use orchsim_report::Table;

use crate::error::Result;

/// An output format a command prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a person.
    #[default]
    Table,
    /// Pretty-printed JSON.
    Json,
    /// CSV with a header row.
    Csv,
}

/// What a command prints.
///
/// - CSV is always the table.
/// - JSON is [`View::json_text`] or [`View::json`] when the command has a documented JSON
///   document, else the table's rows as objects.
/// - Text is [`View::text`] when the command writes its own prose, else `before`, the
///   aligned table (unless it is empty and `empty` says what to print instead), and `after`.
#[derive(Clone, Debug)]
pub struct View {
    pub table: Table,
    pub json: Option<serde_json::Value>,
    /// A JSON document already rendered (a serialised struct whose field order is its
    /// contract); used before `json`.
    pub json_text: Option<String>,
    pub text: Option<String>,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// Printed instead of an empty table in text.
    pub empty: Option<String>,
}

impl View {
    /// A view of `table` alone.
    pub fn of(table: Table) -> Self {
        View {
            table,
            json: None,
            json_text: None,
            text: None,
            before: Vec::new(),
            after: Vec::new(),
            empty: None,
        }
    }

    /// The bytes of this view in `format`.
    pub fn render(&self, format: Format) -> Result<Vec<u8>> {
        Ok(match format {
            Format::Csv => self.table.to_csv(),
            Format::Json => {
                let doc = match (&self.json_text, &self.json) {
                    (Some(t), _) => t.clone(),
                    (None, Some(v)) => serde_json::to_string_pretty(v)?,
                    (None, None) => serde_json::to_string_pretty(&self.table.to_json_rows())?,
                };
                format!("{doc}\n").into_bytes()
            }
            Format::Table => {
                if let Some(t) = &self.text {
                    return Ok(t.clone().into_bytes());
                }
                let mut o = String::new();
                for l in &self.before {
                    o += l;
                    o.push('\n');
                }
                match &self.empty {
                    Some(e) if self.table.rows.is_empty() => {
                        o += e;
                        o.push('\n');
                    }
                    _ => o += &self.table.to_text(),
                }
                for l in &self.after {
                    o += l;
                    o.push('\n');
                }
                o.into_bytes()
            }
        })
    }
}

/// Writes `bytes` to standard output and flushes. A closed pipe is an
/// [`crate::ErrorKind::BrokenPipe`] error, never a panic.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Renders `view` in `format` on standard output.
pub fn print(view: &View, format: Format) -> Result<()> {
    write_stdout(&view.render(format)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchsim_report::Cell;

    fn view() -> View {
        let mut t = Table::new(["name", "n"]);
        t.push(vec!["a".into(), Cell::UInt(1)]).unwrap();
        let mut v = View::of(t);
        v.before.push("head".into());
        v.after.push("tail".into());
        v
    }

    #[test]
    fn three_formats_of_one_view() {
        let v = view();
        assert_eq!(v.render(Format::Csv).unwrap(), b"name,n\na,1\n");
        let text = String::from_utf8(v.render(Format::Table).unwrap()).unwrap();
        assert!(
            text.starts_with("head\n") && text.ends_with("tail\n"),
            "{text}"
        );
        assert!(text.contains("name"), "{text}");
        let json: serde_json::Value =
            serde_json::from_slice(&v.render(Format::Json).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!([{"name": "a", "n": 1}]));
    }

    #[test]
    fn own_json_and_text_replace_the_table_and_empty_says_so() {
        let mut v = view();
        v.json = Some(serde_json::json!({"answer": 3}));
        let json: serde_json::Value =
            serde_json::from_slice(&v.render(Format::Json).unwrap()).unwrap();
        assert_eq!(json["answer"], 3);
        v.table.rows.clear();
        v.empty = Some("nothing".into());
        assert_eq!(v.render(Format::Table).unwrap(), b"head\nnothing\ntail\n");
        v.text = Some("prose\n".into());
        assert_eq!(v.render(Format::Table).unwrap(), b"prose\n");
    }
}
