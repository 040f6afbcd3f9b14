//! `live net` and `live clean`: the real datapaths measured on this machine beside the model's
//! prediction (the columns of `net compare`, one `live` and one `model` row per datapath), an
//! optional profile fitted to them (then a `calibrated` row too), the files and the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orchsim_live::bench::{self, Measured, Measurements, Plan};
use orchsim_live::calibrate::{self, Calibration};
use orchsim_live::datapath::Shaping;
use orchsim_live::LiveError;
use orchsim_net::compare::{Comparison, Row};
use orchsim_net::profile::Underlay;
use orchsim_net::{Datapath, Platform, Profile};
use orchsim_report::charts::{self, Chart, Series, Style};
use orchsim_report::{Cell, Table};
use serde_json::json;

use crate::error::Error;
use crate::net::load_profile;
use crate::render::View;

impl From<LiveError> for Error {
    fn from(e: LiveError) -> Self {
        Error::bad_input(e)
    }
}

/// `live net`'s request.
#[derive(Clone, Debug)]
pub struct NetRequest {
    /// `all` or a comma-separated list of datapaths.
    pub datapaths: String,
    /// The stream test's length, e.g. `10s` or `500ms`.
    pub duration: String,
    pub flows: u32,
    /// Bytes per write in the stream test.
    pub write_size: u32,
    /// Bytes per request and per response.
    pub msg_size: u32,
    pub repeat: u32,
    /// The profile the model predicts with; default the compiled-in one.
    pub profile: Option<PathBuf>,
    /// Its platform; default the profile's own when it is a veth underlay, else `local-vm`.
    pub platform: Option<String>,
    /// Where `live-net.csv`, `live-net.json` and the report go.
    pub out: PathBuf,
    /// Fit a profile to the measurements and write it here.
    pub write_profile: Option<PathBuf>,
    /// Also write report.html with the measured-vs-modeled charts.
    pub report: bool,
    /// One-way delay of each host's underlay link, e.g. `1ms` (netem).
    pub underlay_delay: Option<String>,
    /// Rate of each host's underlay link, e.g. `1gbit` or `500mbit`.
    pub underlay_rate: Option<String>,
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    parse_time("--duration", s)
}

/// `1gbit`, `500mbit` or a bare number of Mbit/s, in Mbit/s (1 to 100,000).
fn parse_rate(s: &str) -> Result<u32, Error> {
    let t = s.trim().to_ascii_lowercase();
    let (num, scale) = if let Some(n) = t.strip_suffix("gbit") {
        (n.to_string(), 1000.0)
    } else if let Some(n) = t.strip_suffix("mbit") {
        (n.to_string(), 1.0)
    } else {
        (t.clone(), 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if (1.0..=100_000.0).contains(&(v * scale)) => Ok((v * scale).round() as u32),
        _ => Err(Error::bad_input(format!(
            "--underlay-rate: expected a rate from 1mbit to 100gbit such as 1gbit or 500mbit, found `{s}`"
        ))),
    }
}

/// The underlay shaping `r` asks for.
fn shaping(r: &NetRequest) -> Result<Shaping, Error> {
    let delay_us = match &r.underlay_delay {
        None => 0,
        Some(s) => {
            let d = parse_time("--underlay-delay", s)?;
            u32::try_from(d.as_micros())
                .ok()
                .filter(|&us| (1..=10_000_000).contains(&us))
                .ok_or_else(|| {
                    Error::bad_input(format!(
                        "--underlay-delay: expected 1µs to 10s, found `{s}`"
                    ))
                })?
        }
    };
    let rate_mbit = r
        .underlay_rate
        .as_deref()
        .map(parse_rate)
        .transpose()?
        .unwrap_or(0);
    Ok(Shaping {
        delay_us,
        rate_mbit,
    })
}

fn parse_time(flag: &str, s: &str) -> Result<Duration, Error> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Duration::try_from_secs_f64(v * scale)
            .map_err(|_| Error::bad_input(format!("{flag}: `{s}` is too long"))),
        _ => Err(Error::bad_input(format!(
            "{flag}: expected a time such as 10s, 500ms or 2m, found `{s}`"
        ))),
    }
}

fn datapaths(list: &str) -> Result<Vec<Datapath>, Error> {
    if list.trim() == "all" {
        return Ok(Datapath::all().collect());
    }
    let mut out: Vec<Datapath> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let d: Datapath = name
            .parse()
            .map_err(|e| Error::bad_input(format!("--datapaths: {e}")))?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.is_empty() {
        return Err(Error::bad_input(
            "--datapaths: expected `all` or at least one datapath",
        ));
    }
    Ok(out)
}

/// The platform the model uses for live measurements: the one named, else the profile's
/// default when hosts are namespaces on veth there, else `local-vm`.
fn platform(profile: &Profile, name: Option<&str>) -> Result<Platform, Error> {
    let p = match name {
        Some(n) => profile.platform(n).map_err(Error::bad_input)?,
        None => {
            let own = profile
                .platform(&profile.default_platform)
                .map_err(Error::bad_input)?;
            if own.underlay == Underlay::Veth {
                own
            } else {
                profile.platform("local-vm").map_err(|_| {
                    Error::bad_input(format!(
                        "--platform: profile `{}` has no veth platform to set beside namespaces on this machine; name one",
                        profile.name
                    ))
                })?
            }
        }
    };
    if p.underlay != Underlay::Veth {
        return Err(Error::bad_input(format!(
            "--platform: `{}` models hosts joined by a physical NIC; live mode's hosts are namespaces joined by veth, so pick a veth platform (e.g. local-vm)",
            p.name
        )));
    }
    Ok(p.clone())
}

fn opt(x: Option<f64>, d: usize) -> Cell {
    match x {
        Some(v) if v.is_finite() => Cell::Float(v, d),
        _ => Cell::Empty,
    }
}

/// `net compare`'s columns with `source` (live, model, calibrated) after the datapath, then
/// what only a measurement has.
fn columns() -> Vec<&'static str> {
    let (first, rest) = crate::net::COMPARE_COLUMNS.split_at(1);
    first
        .iter()
        .chain(&["source"])
        .chain(rest)
        .chain(&[
            "runs",
            "goodput_min_gbps",
            "goodput_max_gbps",
            "udp_gbps",
            "udp_loss",
            "goodput_error_pct",
            "cpu_error_pct",
        ])
        .copied()
        .collect()
}

fn measured_row(m: &Measured, host: &Measured) -> Vec<Cell> {
    let ok = m.unavailable.is_none();
    let some = |v: f64| ok.then_some(v);
    let (lo, hi) = m.goodput_min_max();
    vec![
        m.name.clone().into(),
        "live".into(),
        if ok { "yes" } else { "no" }.into(),
        opt(some(m.goodput_gbps()), 3),
        opt(some(m.goodput_gbps() / host.goodput_gbps()), 3),
        opt(some(m.p50_us()), 1),
        opt(some(m.p99_us()), 1),
        opt(some(m.p999_us()), 1),
        opt(some(m.p50_us() / host.p50_us()), 3),
        opt(some(m.cpu_s_per_gbit()), 4),
        opt(some(m.cpu_s_per_gbit() / host.cpu_s_per_gbit()), 2),
        Cell::UInt(m.mtu as u64),
        Cell::Empty,
        Cell::Empty,
        Cell::UInt(m.runs.len() as u64),
        opt(some(lo), 3),
        opt(some(hi), 3),
        opt(some(m.udp_gbps()), 3),
        opt(some(m.udp_loss()), 4),
        Cell::Empty,
        Cell::Empty,
    ]
}

fn model_row(source: &str, r: &Row, m: &Measured) -> Vec<Cell> {
    let ok = m.unavailable.is_none();
    let err = |measured: f64, model: Option<f64>| {
        opt(
            model.filter(|_| ok).map(|v| (measured / v - 1.0) * 100.0),
            1,
        )
    };
    let lat = r.latency_us.as_ref();
    vec![
        r.name.clone().into(),
        source.into(),
        if r.supported { "yes" } else { "no" }.into(),
        opt(r.goodput_gbps, 3),
        opt(r.goodput_ratio_to_host, 3),
        opt(lat.map(|l| l.p50), 1),
        opt(lat.map(|l| l.p99), 1),
        opt(lat.map(|l| l.p999), 1),
        opt(r.latency_ratio_to_host, 3),
        opt(r.cpu_s_per_gbit, 4),
        opt(r.cpu_ratio_to_host, 2),
        Cell::UInt(r.mtu as u64),
        r.bottleneck.clone().map_or(Cell::Empty, Cell::from),
        opt(r.flow_level_goodput_gbps, 3),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        err(m.goodput_gbps(), r.goodput_gbps),
        err(m.cpu_s_per_gbit(), r.cpu_s_per_gbit),
    ]
}

fn row_of<'a>(c: &'a Comparison, name: &str) -> &'a Row {
    c.datapaths
        .iter()
        .find(|r| r.name == name)
        .expect("the model was asked for every measured datapath")
}

/// The side-by-side table: per datapath its `live` row, the `model` row and, when a profile
/// was fitted, the `calibrated` row.
pub fn table(
    m: &Measurements,
    model: &Comparison,
    cal: Option<&Comparison>,
) -> Result<Table, Error> {
    let mut t = Table::new(columns());
    let host = &m.datapaths[0];
    for d in &m.datapaths {
        t.push(measured_row(d, host))?;
        t.push(model_row("model", row_of(model, &d.name), d))?;
        if let Some(c) = cal {
            t.push(model_row("calibrated", row_of(c, &d.name), d))?;
        }
    }
    Ok(t)
}

fn json_doc(
    m: &Measurements,
    profile: &Profile,
    platform: &Platform,
    model: &Comparison,
    cal: Option<(&Calibration, &Path)>,
) -> serde_json::Value {
    let host = &m.datapaths[0];
    let rows: Vec<serde_json::Value> = m
        .datapaths
        .iter()
        .map(|d| {
            let ok = d.unavailable.is_none();
            let err = |measured: f64, model: Option<f64>| {
                model.filter(|_| ok).map(|v| measured / v - 1.0)
            };
            let (lo, hi) = d.goodput_min_max();
            let mr = row_of(model, &d.name);
            let mut v = json!({
                "name": d.name,
                "unavailable": d.unavailable,
                "mtu": d.mtu,
                "measured": ok.then(|| json!({
                    "goodput_gbps": d.goodput_gbps(),
                    "goodput_min_gbps": lo,
                    "goodput_max_gbps": hi,
                    "goodput_ratio_to_host": d.goodput_gbps() / host.goodput_gbps(),
                    "latency_us": {"p50": d.p50_us(), "p99": d.p99_us(), "p999": d.p999_us()},
                    "latency_ratio_to_host": d.p50_us() / host.p50_us(),
                    "cpu_s_per_gbit": d.cpu_s_per_gbit(),
                    "cpu_ratio_to_host": d.cpu_s_per_gbit() / host.cpu_s_per_gbit(),
                    "udp_gbps": d.udp_gbps(),
                    "udp_loss": d.udp_loss(),
                })),
                "runs": d.runs,
                "model": mr,
                "goodput_error": err(d.goodput_gbps(), mr.goodput_gbps),
                "cpu_error": err(d.cpu_s_per_gbit(), mr.cpu_s_per_gbit),
            });
            if let Some((c, _)) = cal {
                let cr = row_of(&c.prediction, &d.name);
                v["calibrated"] = json!(cr);
                v["calibrated_goodput_error"] = json!(err(d.goodput_gbps(), cr.goodput_gbps));
                v["calibrated_cpu_error"] = json!(err(d.cpu_s_per_gbit(), cr.cpu_s_per_gbit));
            }
            v
        })
        .collect();
    json!({
        "machine": m.machine,
        "profile": profile.name,
        "platform": platform.name,
        "duration_s": m.duration_s,
        "flows": m.flows,
        "write_size": m.write_size,
        "msg_size": m.rr_size,
        "repeat": m.repeat,
        "underlay_shaping": m.shaping,
        "datapaths": rows,
        "calibration": cal.map(|(c, path)| json!({
            "file": path.display().to_string(),
            "profile": c.profile.name,
            "fitted": c.fitted,
            "warnings": c.warnings,
        })),
    })
}

/// A quantity both live mode and the model give: chart name, what, unit, and how to read it.
struct Metric {
    name: &'static str,
    what: &'static str,
    unit: &'static str,
    model: fn(&Row) -> Option<f64>,
    measured: fn(&Measured) -> f64,
}

const GOODPUT: Metric = Metric {
    name: "live-goodput",
    what: "goodput",
    unit: "Gb/s",
    model: |r| r.goodput_gbps,
    measured: Measured::goodput_gbps,
};

const CPU: Metric = Metric {
    name: "live-cpu",
    what: "CPU per gigabit",
    unit: "CPU s/Gbit",
    model: |r| r.cpu_s_per_gbit,
    measured: Measured::cpu_s_per_gbit,
};

/// Measured against modeled, one point per datapath, with the line where they agree and ±10 %.
fn parity_chart(k: &Metric, m: &Measurements, model: &Comparison, source: &str) -> Chart {
    let Metric {
        name,
        what,
        unit,
        model: get,
        measured,
    } = *k;
    let mut series = Vec::new();
    let mut max: f64 = 0.0;
    for d in m.datapaths.iter().filter(|d| d.unavailable.is_none()) {
        let Some(x) = get(row_of(model, &d.name)) else {
            continue;
        };
        let y = measured(d);
        max = max.max(x).max(y);
        series.push(Series {
            label: d.name.clone(),
            points: vec![(x, y)],
            band: Vec::new(),
            style: Style::Points,
        });
    }
    let top = max * 1.1;
    series.push(Series::line(
        "measured = model",
        vec![(0.0, 0.0), (top, top)],
    ));
    for (label, k) in [("+10 %", 1.1), ("−10 %", 0.9)] {
        series.push(Series {
            label: label.into(),
            points: vec![(0.0, 0.0), (top, top * k)],
            band: Vec::new(),
            style: Style::Limit,
        });
    }
    Chart::new(
        name,
        format!("{what}: measured on this machine vs the {source} profile"),
        format!("{what} predicted by the model ({unit})"),
        format!("{what} measured ({unit})"),
        series,
    )
}

/// `live net`: measure, compare, optionally fit and write a profile, write the files.
pub fn net(r: &NetRequest, progress: &mut dyn FnMut(&str)) -> Result<View, Error> {
    let profile = load_profile(r.profile.as_deref())?;
    let plat = platform(&profile, r.platform.as_deref())?;
    let plan = Plan {
        datapaths: datapaths(&r.datapaths)?,
        duration: parse_duration(&r.duration)?,
        flows: r.flows,
        write_size: r.write_size,
        rr_size: r.msg_size,
        repeat: r.repeat,
        shaping: shaping(r)?,
    };
    if plan.shaping != Shaping::default() && r.write_profile.is_some() {
        return Err(Error::bad_input(
            "--write-profile: calibrate on an unshaped underlay (no --underlay-delay or --underlay-rate): a shaped link hides the CPU costs the fit needs",
        ));
    }
    // Where the results go is checked before minutes of measuring, not after.
    std::fs::create_dir_all(&r.out).map_err(|e| {
        Error::bad_input(format!(
            "{}: cannot create the output directory: {e}",
            r.out.display()
        ))
    })?;
    if let Some(path) = &r.write_profile {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            return Err(Error::bad_input(format!(
                "--write-profile: {}: the directory does not exist",
                path.display()
            )));
        }
    }
    orchsim_live::lab::install_interrupt_handler();
    let m = bench::measure(&plan, progress)?;
    let model = bench::model(&profile, &plat, &m);
    let cal = match &r.write_profile {
        Some(path) => {
            let c = calibrate::fit(&profile, &plat, &m)?;
            std::fs::write(path, calibrate::profile_file(&c, &m)).map_err(|e| {
                Error::bad_input(format!("{}: cannot write the profile: {e}", path.display()))
            })?;
            Some((c, path.as_path()))
        }
        None => None,
    };
    let table = table(&m, &model, cal.as_ref().map(|(c, _)| &c.prediction))?;
    let doc = json_doc(
        &m,
        &profile,
        &plat,
        &model,
        cal.as_ref().map(|(c, p)| (c, *p)),
    );
    let json_text = serde_json::to_string_pretty(&doc)?;
    std::fs::write(r.out.join("live-net.csv"), table.to_csv())?;
    std::fs::write(r.out.join("live-net.json"), format!("{json_text}\n"))?;
    let mut wrote = vec![r.out.join("live-net.csv"), r.out.join("live-net.json")];
    if r.report {
        let (pred, source) = match &cal {
            Some((c, _)) => (&c.prediction, "calibrated"),
            None => (&model, profile.name.as_str()),
        };
        let charts = vec![
            parity_chart(&GOODPUT, &m, pred, source),
            parity_chart(&CPU, &m, pred, source),
        ];
        let mut machine = Table::new(["what", "value"]);
        let mc = &m.machine;
        let facts = [
            ("kernel".to_string(), mc.kernel.clone()),
            ("cpu".into(), format!("{} ({} CPUs)", mc.cpu_model, mc.cpus)),
            ("date".into(), mc.date.clone()),
            (
                "profile".into(),
                format!("{} (platform {})", profile.name, plat.name),
            ),
        ];
        let offloads = mc
            .offloads
            .iter()
            .map(|(k, v)| (format!("offload {k}"), v.clone()));
        for (k, v) in facts.into_iter().chain(offloads) {
            machine.push(vec![k.into(), v.into()])?;
        }
        let html = charts::html(
            "orchsim live net: measured vs modeled",
            &[("machine", &machine), ("datapaths", &table)],
            &charts,
            &json_text,
        )
        .map_err(|e| Error::internal(e.0))?;
        for c in &charts {
            charts::write(c, &r.out).map_err(|e| Error::internal(e.0))?;
        }
        std::fs::write(r.out.join("report.html"), html)?;
        wrote.push(r.out.join("report.html"));
    }

    let mut text = String::new();
    let mc = &m.machine;
    writeln!(
        text,
        "live: {} ({} CPUs), Linux {}, {}; {} flow(s) of {}-byte writes, {}-byte request/response, {} run(s) of {} s per datapath",
        mc.cpu_model, mc.cpus, mc.kernel, mc.date, m.flows, m.write_size, m.rr_size, m.repeat, m.duration_s
    )?;
    writeln!(
        text,
        "model: profile {}, platform {} (CPU ×{:.4}, {} threads, veth underlay)",
        profile.name, plat.name, plat.cpu_factor, plat.threads
    )?;
    let sh = m.shaping;
    if sh != Shaping::default() {
        let mut parts = Vec::new();
        if sh.delay_us > 0 {
            parts.push(format!("delays by {} µs", sh.delay_us));
        }
        if sh.rate_mbit > 0 {
            parts.push(format!("sends at most {} Mbit/s", sh.rate_mbit));
        }
        writeln!(
            text,
            "underlay: each host's link {} ({}); the model's link has the same rate and propagation",
            parts.join(" and "),
            if sh.delay_us > 0 { "netem" } else { "tbf" }
        )?;
    }
    write!(text, "{}", table.to_text())?;
    for d in m.datapaths.iter().filter(|d| d.unavailable.is_some()) {
        writeln!(
            text,
            "{}: not measured: {}",
            d.name,
            d.unavailable.as_deref().unwrap_or_default()
        )?;
    }
    let offl: Vec<String> = mc
        .offloads
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    writeln!(text, "veth offloads: {}", offl.join(", "))?;
    writeln!(
        text,
        "goodput_error_pct / cpu_error_pct: measured / predicted − 1; CPU is every CPU's busy time (/proc/stat) during the stream test"
    )?;
    if let Some((c, path)) = &cal {
        let fitted: Vec<String> = c.fitted.iter().map(|f| f.describe()).collect();
        writeln!(
            text,
            "calibrated profile written to {} ({}); predict with: orchsim net compare --profile {}",
            path.display(),
            fitted.join("; "),
            path.display()
        )?;
        for w in &c.warnings {
            writeln!(text, "calibration: {w}")?;
        }
    }
    writeln!(
        text,
        "wrote {}",
        wrote
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let mut view = View::of(table);
    view.json_text = Some(json_text);
    view.text = Some(text);
    Ok(view)
}

/// `live clean`: remove the namespaces of live runs that are gone (`all`: every one) and the
/// cgroups of agents that are gone (with any workload still in them).
pub fn clean(all: bool) -> Result<View, Error> {
    let removed = orchsim_live::lab::clean(all)?;
    let cgroups = orchsim_live::agent::clean_stale_cgroups();
    let mut t = Table::new(["removed"]);
    for n in &removed {
        t.push(vec![format!("namespace {n}").into()])?;
    }
    for c in &cgroups {
        t.push(vec![format!("cgroup {}", c.display()).into()])?;
    }
    let mut view = View::of(t);
    view.empty =
        Some("nothing to remove: no live-mode namespace or agent cgroup is left over".into());
    Ok(view)
}
