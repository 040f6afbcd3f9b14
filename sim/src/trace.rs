//! Trace readers: published cluster traces → nodes and tasks.
//!
//! One format so far: Alibaba's GPU cluster trace v2023 (`cluster-trace-gpu-v2023` in the
//! alibaba/clusterdata repository), whose README defines the columns. Columns are found by
//! header name, extra columns are ignored, and every error names the file, line, column and
//! field. A general importer (`orchsim import`) is meant to absorb this module.

use orchsim_sched::gpu::{GpuDemand, GpuNode, GpuTask, ModelId, Models};

use crate::scenario::ScenarioError;

const MIB: u64 = 1024 * 1024;
/// Bounds that keep every later sum and signed difference far from overflow: a billion
/// cores, and a pebibyte of memory, per row.
const MAX_CPU_MILLI: u64 = 1 << 40;
const MAX_MEMORY_MIB: u64 = 1 << 30;
/// Trace times in seconds: a thousand years is far past any trace and far from overflow in
/// nanoseconds.
const MAX_TIME_S: u64 = 1000 * 365 * 86_400;

/// Interns a model name, refusing more distinct names than ids exist.
fn intern(
    models: &mut Models,
    name: &str,
    row: &Row,
    column: usize,
) -> Result<ModelId, ScenarioError> {
    if models.get(name).is_none() && models.names().len() >= usize::from(u16::MAX) {
        return Err(row.error(
            column,
            format!("too many distinct GPU models (at most {})", u16::MAX),
        ));
    }
    Ok(models.intern(name))
}

/// One task row of a trace, with its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedTask {
    pub name: String,
    pub task: GpuTask,
    /// `creation_time` and `deletion_time` (seconds from the trace's start), when the file has
    /// them and the row fills them in.
    pub created_s: Option<u64>,
    pub deleted_s: Option<u64>,
}

/// Reads the node list (`openb_node_list_*.csv`): `sn`, `cpu_milli`, `memory_mib`, `gpu`,
/// `model` (empty for a node without GPUs).
pub fn alibaba_gpu_nodes(
    file: &str,
    text: &str,
    models: &mut Models,
) -> Result<Vec<GpuNode>, ScenarioError> {
    let mut rows = Rows::new(
        file,
        text,
        &["sn", "cpu_milli", "memory_mib", "gpu", "model"],
    )?;
    let mut nodes = Vec::new();
    while let Some(row) = rows.next_row()? {
        let name = row.text(0)?.to_string();
        let cpu_milli = row.bounded(1, MAX_CPU_MILLI)?;
        let memory_bytes = row.bounded(2, MAX_MEMORY_MIB)? * MIB;
        let gpus = row.int(3)?;
        let model = row.text(4)?;
        if gpus > orchsim_sched::gpu::MAX_DEVICES as u64 {
            return Err(row.error(
                3,
                format!(
                    "expected at most {} GPUs per node, found {gpus}",
                    orchsim_sched::gpu::MAX_DEVICES
                ),
            ));
        }
        let model = match (gpus, model.is_empty()) {
            (0, _) => None,
            (_, false) => Some(intern(models, model, &row, 4)?),
            (_, true) => {
                return Err(row.error(4, "expected the GPU model of a node with GPUs".into()))
            }
        };
        nodes.push(GpuNode {
            name,
            cpu_milli,
            memory_bytes,
            model,
            gpus: gpus as u32,
        });
    }
    Ok(nodes)
}

/// Reads the task list (`openb_pod_list_*.csv`): `name`, `cpu_milli`, `memory_mib`,
/// `num_gpu`, `gpu_milli` and, if present, `gpu_spec` (acceptable models joined by `|`),
/// `creation_time` and `deletion_time` (seconds).
pub fn alibaba_gpu_tasks(
    file: &str,
    text: &str,
    models: &mut Models,
) -> Result<Vec<NamedTask>, ScenarioError> {
    let mut rows = Rows::new(
        file,
        text,
        &["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"],
    )?;
    let spec_col = rows.optional("gpu_spec");
    let created_col = rows.optional("creation_time");
    let deleted_col = rows.optional("deletion_time");
    let mut tasks = Vec::new();
    while let Some(row) = rows.next_row()? {
        let name = row.text(0)?.to_string();
        let cpu_milli = row.bounded(1, MAX_CPU_MILLI)?;
        let memory_bytes = row.bounded(2, MAX_MEMORY_MIB)? * MIB;
        let count = row.int(3)?;
        let milli = row.int(4)?;
        let gpu = if count == 0 {
            GpuDemand::None
        } else {
            let count = u32::try_from(count)
                .map_err(|_| row.error(3, format!("expected a GPU count, found {count}")))?;
            let milli = u32::try_from(milli)
                .map_err(|_| row.error(4, format!("expected milli-GPU, found {milli}")))?;
            GpuDemand::new(count, milli).map_err(|e| row.error(4, e.to_string()))?
        };
        // Kept as written (empty parts dropped, order and repeats kept): the study keys its
        // typical task shapes on the spec string.
        let mut accepted = Vec::new();
        if let Some(c) = spec_col {
            if gpu != GpuDemand::None {
                for m in row.text(c)?.split('|').filter(|m| !m.is_empty()) {
                    accepted.push(intern(models, m, &row, c)?);
                }
            }
        }
        let time = |col: Option<usize>| -> Result<Option<u64>, ScenarioError> {
            match col {
                Some(c) if !row.text(c)?.is_empty() => Ok(Some(row.bounded(c, MAX_TIME_S)?)),
                _ => Ok(None),
            }
        };
        let (created_s, deleted_s) = (time(created_col)?, time(deleted_col)?);
        tasks.push(NamedTask {
            name,
            task: GpuTask {
                cpu_milli,
                memory_bytes,
                gpu,
                models: accepted,
            },
            created_s,
            deleted_s,
        });
    }
    Ok(tasks)
}

/// CSV rows with the wanted columns located by header name.
struct Rows<'a> {
    file: &'a str,
    text: &'a str,
    reader: csv::Reader<&'a [u8]>,
    header: Vec<String>,
    /// Position in the header of each wanted column.
    wanted: Vec<usize>,
    record: csv::StringRecord,
}

impl<'a> Rows<'a> {
    fn new(file: &'a str, text: &'a str, columns: &[&str]) -> Result<Self, ScenarioError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| located(file, text, 1, 1, "", format!("unreadable CSV header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut wanted = Vec::new();
        for c in columns {
            match header.iter().position(|h| h == c) {
                Some(i) => wanted.push(i),
                None => {
                    return Err(located(
                        file,
                        text,
                        1,
                        1,
                        c,
                        format!(
                            "expected a column `{c}` in the header; found: {}",
                            header.join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(Rows {
            file,
            text,
            reader,
            header,
            wanted,
            record: csv::StringRecord::new(),
        })
    }

    /// Adds an optional column; returns its index for [`Row::text`].
    fn optional(&mut self, column: &str) -> Option<usize> {
        let at = self.header.iter().position(|h| h == column)?;
        self.wanted.push(at);
        Some(self.wanted.len() - 1)
    }

    fn next_row(&mut self) -> Result<Option<Row<'_>>, ScenarioError> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(Row { rows: self })),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                Err(located(
                    self.file,
                    self.text,
                    line,
                    1,
                    "",
                    format!("malformed CSV row: {e}"),
                ))
            }
        }
    }
}

struct Row<'r> {
    rows: &'r Rows<'r>,
}

impl Row<'_> {
    fn line(&self) -> usize {
        self.rows.record.position().map_or(0, |p| p.line() as usize)
    }

    fn text(&self, wanted: usize) -> Result<&str, ScenarioError> {
        let at = self.rows.wanted[wanted];
        self.rows
            .record
            .get(at)
            .map(str::trim)
            .ok_or_else(|| self.error(wanted, "expected a value".into()))
    }

    fn int(&self, wanted: usize) -> Result<u64, ScenarioError> {
        let v = self.text(wanted)?;
        v.parse().map_err(|_| {
            self.error(
                wanted,
                format!("expected a non-negative integer, found `{v}`"),
            )
        })
    }

    fn bounded(&self, wanted: usize, max: u64) -> Result<u64, ScenarioError> {
        let v = self.int(wanted)?;
        if v > max {
            return Err(self.error(wanted, format!("expected at most {max}, found {v}")));
        }
        Ok(v)
    }

    fn error(&self, wanted: usize, message: String) -> ScenarioError {
        let at = self.rows.wanted[wanted];
        // The column of the field in the line: the trace files are unquoted, so the fields
        // before it and their commas give it exactly.
        let column = 1 + self
            .rows
            .record
            .iter()
            .take(at)
            .map(|f| f.chars().count() + 1)
            .sum::<usize>();
        located(
            self.rows.file,
            self.rows.text,
            self.line(),
            column,
            &self.rows.header[at],
            message,
        )
    }
}

fn located(
    file: &str,
    text: &str,
    line: usize,
    column: usize,
    field: &str,
    message: String,
) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line,
        column,
        field: field.to_string(),
        message,
        source_line: text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model\n\
                         n0,32000,262144,0,\n\
                         n1,96000,393216,8,G2\n";

    #[test]
    fn reads_nodes_and_tasks() {
        let mut models = Models::default();
        let nodes = alibaba_gpu_nodes("nodes.csv", NODES, &mut models).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].model, None);
        assert_eq!(nodes[1].gpus, 8);
        assert_eq!(models.name(nodes[1].model.unwrap()), "G2");
        assert_eq!(nodes[1].memory_bytes, 393216 * MIB);
        let tasks = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n\
                     t0,6000,12288,1,460,,LS\n\
                     t1,88000,327680,8,1000,,BE\n\
                     t2,4000,100,0,0,,BE\n\
                     t3,16000,32768,1,1000,V100M16|V100M32,LS\n";
        let t = alibaba_gpu_tasks("tasks.csv", tasks, &mut models).unwrap();
        assert_eq!(t[0].task.gpu, GpuDemand::Shared(460));
        assert_eq!(t[1].task.gpu, GpuDemand::Whole(8));
        assert_eq!(t[2].task.gpu, GpuDemand::None);
        assert_eq!(t[3].task.models.len(), 2);
        assert_eq!(models.name(t[3].task.models[0]), "V100M16");
        // Specs are kept as written: order and repeats matter to the typical shapes.
        let spec = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\nt,1,1,1,1000,B||A|B\n";
        let t = alibaba_gpu_tasks("t.csv", spec, &mut models).unwrap();
        let names: Vec<&str> = t[0].task.models.iter().map(|&m| models.name(m)).collect();
        assert_eq!(names, vec!["B", "A", "B"]);
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let mut models = Models::default();
        let bad = "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,lots,0,\n";
        let e = alibaba_gpu_nodes("nodes.csv", bad, &mut models).unwrap_err();
        assert_eq!((e.line, e.column, e.field.as_str()), (2, 10, "memory_mib"));
        assert!(
            e.to_string().starts_with(
                "nodes.csv:2:10: `memory_mib`: expected a non-negative integer, found `lots`"
            ),
            "{e}"
        );

        let missing = "sn,cpu_milli,gpu,model\n";
        let e = alibaba_gpu_nodes("nodes.csv", missing, &mut models).unwrap_err();
        assert!(e.message.contains("`memory_mib`"), "{e}");

        let shared_multi = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nt0,1000,10,2,500\n";
        let e = alibaba_gpu_tasks("t.csv", shared_multi, &mut models).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "gpu_milli"));
        assert!(e.message.contains("only one device can be shared"), "{e}");

        let no_model = "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,2,\n";
        let e = alibaba_gpu_nodes("nodes.csv", no_model, &mut models).unwrap_err();
        assert_eq!(e.field, "model");

        let huge = "sn,cpu_milli,memory_mib,gpu,model\nn0,18446744073709551615,1,0,\n";
        let e = alibaba_gpu_nodes("nodes.csv", huge, &mut models).unwrap_err();
        assert_eq!(e.field, "cpu_milli");

        let ragged = "sn,cpu_milli,memory_mib,gpu,model\nn0,1,1\n";
        let e = alibaba_gpu_nodes("nodes.csv", ragged, &mut models).unwrap_err();
        assert_eq!(e.line, 2);
    }
}
