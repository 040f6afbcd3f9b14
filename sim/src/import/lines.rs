//! Headerless CSV tables read line by line from any number of inputs, each field located
//! (file, line, column) for error messages; malformed lines skipped and counted, or fatal
//! when strict.

use std::io::BufRead;

use super::{ImportError, Summary};

/// One input table: a name for messages and its lines.
pub struct Input<'a> {
    pub name: String,
    pub reader: Box<dyn BufRead + 'a>,
}

impl<'a> Input<'a> {
    pub fn text(name: impl Into<String>, text: &'a str) -> Self {
        Input {
            name: name.into(),
            reader: Box::new(text.as_bytes()),
        }
    }
}

/// The most fields a table has.
const MAX_COLUMNS: usize = 16;

/// One line's fields, with where each starts (for error columns); `count` may exceed the
/// fields kept, for a line with too many.
pub(crate) struct Line<'b> {
    pub(crate) file: &'b str,
    pub(crate) line: u64,
    fields: [(&'b str, u64); MAX_COLUMNS],
    count: usize,
}

impl<'b> Line<'b> {
    fn new(file: &'b str, line: u64, text: &'b str) -> Self {
        let mut fields = [("", 0); MAX_COLUMNS];
        let mut count = 0;
        let mut col = 1u64;
        for f in text.split(',') {
            if let Some(slot) = fields.get_mut(count) {
                *slot = (f, col);
            }
            count += 1;
            col += f.len() as u64 + 1;
        }
        Line {
            file,
            line,
            fields,
            count,
        }
    }

    pub(crate) fn error(&self, i: usize, field: &str, message: String) -> ImportError {
        ImportError::Malformed {
            file: self.file.to_string(),
            line: self.line,
            column: self.fields.get(i).map_or(1, |f| f.1.max(1)),
            field: field.to_string(),
            message,
        }
    }

    pub(crate) fn int(&self, i: usize, field: &str, max: u64) -> Result<u64, ImportError> {
        let v = self.fields[i].0;
        match v.parse::<u64>() {
            Ok(x) if x <= max => Ok(x),
            Ok(x) => Err(self.error(i, field, format!("expected at most {max}, found {x}"))),
            Err(_) => Err(self.error(
                i,
                field,
                format!("expected a non-negative integer, found `{v}`"),
            )),
        }
    }

    pub(crate) fn opt_int(
        &self,
        i: usize,
        field: &str,
        max: u64,
    ) -> Result<Option<u64>, ImportError> {
        if self.fields[i].0.is_empty() {
            return Ok(None);
        }
        self.int(i, field, max).map(Some)
    }

    /// The field's text.
    pub(crate) fn text(&self, i: usize) -> &'b str {
        self.fields[i].0
    }

    /// An optional number in `lo..=hi` (`what` says what was expected).
    pub(crate) fn opt_float(
        &self,
        i: usize,
        field: &str,
        lo: f64,
        hi: f64,
        what: &str,
    ) -> Result<Option<f64>, ImportError> {
        let v = self.fields[i].0;
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<f64>() {
            Ok(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
            _ => Err(self.error(i, field, format!("expected {what}, found `{v}`"))),
        }
    }
}

/// Calls `each` with every line of every input (without its line ending), numbered from 1.
/// A line that is not UTF-8 or has the wrong number of fields is an error or a skip.
pub(crate) fn for_each_line(
    inputs: Vec<Input>,
    columns: usize,
    strict: bool,
    summary: &mut Summary,
    progress: &mut dyn FnMut(u64),
    mut each: impl FnMut(&Line, &mut Summary) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    for_each_text_line(
        inputs,
        strict,
        summary,
        progress,
        |file, line, text, summary| {
            let l = Line::new(file, line, text);
            if l.count != columns {
                return Err(l.error(
                    0,
                    "line",
                    format!(
                        "expected {columns} comma-separated columns, found {}",
                        l.count
                    ),
                ));
            }
            each(&l, summary)
        },
    )
}

/// Calls `each` with the text of every non-empty line of every input (file name, line
/// number from 1, text without its line ending); what `each` refuses, or a line that is not
/// UTF-8, is skipped and counted, or with `strict` ends the reading.
pub(crate) fn for_each_text_line(
    inputs: Vec<Input>,
    strict: bool,
    summary: &mut Summary,
    progress: &mut dyn FnMut(u64),
    mut each: impl FnMut(&str, u64, &str, &mut Summary) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut buf = Vec::new();
    for mut input in inputs {
        let mut line = 0u64;
        loop {
            buf.clear();
            let n = input
                .reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| ImportError::Io {
                    file: input.name.clone(),
                    message: e.to_string(),
                })?;
            if n == 0 {
                break;
            }
            line += 1;
            summary.records += 1;
            if summary.records.is_multiple_of(1 << 20) {
                progress(summary.records);
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(t) => t.trim_end_matches(['\n', '\r']),
                Err(e) => {
                    let err = ImportError::Malformed {
                        file: input.name.clone(),
                        line,
                        column: e.valid_up_to() as u64 + 1,
                        field: "line".into(),
                        message: "expected UTF-8 text".into(),
                    };
                    skip_or_fail(err, strict, summary)?;
                    continue;
                }
            };
            if text.is_empty() {
                continue;
            }
            if let Err(e) = each(&input.name, line, text, summary) {
                skip_or_fail(e, strict, summary)?;
            }
        }
    }
    Ok(())
}

fn skip_or_fail(e: ImportError, strict: bool, summary: &mut Summary) -> Result<(), ImportError> {
    if strict {
        return Err(e);
    }
    if let ImportError::Malformed {
        file,
        line,
        column,
        field,
        message,
    } = &e
    {
        summary.skip(
            file,
            *line,
            "malformed record",
            format!("column {column}, {field}: {message}"),
        );
    }
    Ok(())
}
