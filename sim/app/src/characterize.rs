//! `characterize` on a scenario that replays a trace: the trace's measured shape as a view
//! (per class and quantity: mean and percentiles; the daily cycle), its JSON, and the
//! `[[workloads]]` generators that draw from it (`orchsim_sim::characterize`).

use std::path::Path;

use orchsim_report::{Cell, Table};
use orchsim_sim::characterize::{self, Measured, Shape};

/// The cycle fitted unless told otherwise: a day, in s.
pub use orchsim_sim::characterize::DAY_S;

use crate::error::{Error, Result};
use crate::render::View;
use crate::source::Source;

/// Measures the trace `source` replays, fitting a cycle of `period_s`.
pub fn measure(source: &Source, period_s: f64) -> Result<Shape> {
    if !(3600.0..=characterize::MAX_PERIOD_S).contains(&period_s) {
        return Err(Error::bad_input(format!(
            "--period-s: expected a cycle from 3600 s to a year ({} s); a day is 86400, found {period_s}",
            characterize::MAX_PERIOD_S
        )));
    }
    let scenario = source.simulation("characterize")?;
    let Some(trace) = &scenario.trace else {
        return Err(Error::bad_input(format!(
            "{}: expected a scenario with a [trace] table (characterize measures a replayed trace; a scenario's [[workloads]] already are generators)",
            source.origin
        )));
    };
    if trace.pods.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: the trace has no pods to measure",
            source.origin
        )));
    }
    let shape = characterize::measure(&source.origin, &trace.pods, period_s);
    if shape.span_s <= 0.0 {
        return Err(Error::bad_input(format!(
            "{}: every pod of the trace arrives at the same time: no arrival rate can be measured",
            source.origin
        )));
    }
    Ok(shape)
}

/// Writes the generators of `shape` to `out`.
pub fn write_workloads(shape: &Shape, out: &Path) -> Result<()> {
    std::fs::write(out, shape.workloads_toml())
        .map_err(|e| Error::bad_input(format!("--out: cannot write {}: {e}", out.display())))
}

/// The shape as a table (one row per class and quantity), with the cycle and the
/// generators' file around it.
pub fn view(shape: &Shape, out: Option<&Path>) -> Result<View> {
    let mut t = Table::new([
        "class", "quantity", "unit", "pods", "mean", "p1", "p10", "p50", "p90", "p99", "max",
    ]);
    // Indexes of p1, p10, p50, p90, p99 and the maximum in PERCENTILES.
    const SHOWN: [usize; 6] = [1, 3, 5, 7, 9, 10];
    let float = |x: f64| {
        Cell::Float(
            x,
            if x.fract() == 0.0 || x.abs() >= 100.0 {
                0
            } else {
                3
            },
        )
    };
    for c in &shape.classes {
        let mut row = |quantity: &str, unit: &str, m: &Measured| -> Result<()> {
            let mut cells = vec![
                c.kind.into(),
                quantity.into(),
                unit.into(),
                Cell::UInt(c.pods),
                float(m.mean),
            ];
            cells.extend(SHOWN.iter().map(|&i| float(m.percentiles[i])));
            t.push(cells)?;
            Ok(())
        };
        row("cpu_milli", "millicores", &c.cpu_milli)?;
        row("memory_mib", "MiB", &c.memory_mib)?;
        if let Some(g) = &c.gpu_milli {
            row("gpu_milli", "milli-GPU", g)?;
        }
        if let Some(d) = &c.duration_s {
            row("duration_s", "s", d)?;
        }
    }
    let mut v = View::of(t);
    v.json = Some(serde_json::to_value(shape)?);
    v.before.push(format!(
        "{}: {} pods arriving over {:.1} days",
        shape.source,
        shape.pods,
        shape.span_s / characterize::DAY_S
    ));
    for c in &shape.classes {
        let cycle = match c.cycle {
            Some(cy) if cy.significant() => format!(
                "±{:.0}% over {:.0} s, peak at {:.0} s{} of the cycle",
                cy.amplitude * 100.0,
                shape.period_s,
                cy.peak_s,
                if shape.period_s == characterize::DAY_S {
                    format!(" ({})", clock(cy.peak_s))
                } else {
                    String::new()
                }
            ),
            Some(cy) => format!(
                "no significant cycle over {:.0} s (±{:.0}%, Rayleigh p = {:.2})",
                shape.period_s,
                cy.amplitude * 100.0,
                cy.p_value
            ),
            None => "no cycle fitted (less than one period of arrivals)".into(),
        };
        let bands: Vec<String> = c
            .priorities
            .iter()
            .map(|(p, n)| format!("{p}: {:.1}%", 100.0 * *n as f64 / c.pods as f64))
            .collect();
        v.after.push(format!(
            "{}: {} pods, {} per second ({:.1} per hour); {cycle}; priorities {}",
            c.kind,
            c.pods,
            characterize::num(c.rate_per_s),
            c.rate_per_s * 3600.0,
            bands.join(", ")
        ));
    }
    v.after.push(match out {
        Some(p) => format!("generators written to {}", p.display()),
        None => "write them as [[workloads]] generators with --out FILE".into(),
    });
    Ok(v)
}

/// Seconds into a day as hh:mm.
fn clock(s: f64) -> String {
    let m = (s / 60.0).round() as u64;
    format!("{:02}:{:02}", (m / 60) % 24, m % 60)
}
