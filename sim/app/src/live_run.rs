//! `live run`: a scenario simulated, then the pods it submitted run on real node agents —
//! placed by the same scheduler on the nodes the agents report, with faults done to them —
//! and both runs' tables written side by side with the simulator's columns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use orchsim_live::LiveError;
use orchsim_report::{Cell, Table};

use crate::error::Error;
use crate::render::View;

/// A CSV table's header and its rows, column → text.
type Rows = (Vec<String>, Vec<BTreeMap<String, String>>);

/// `live run`'s request.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// A scenario file or embedded name; default the quickstart.
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// Start an agent per node in namespaces of this machine.
    pub local: bool,
    /// Remote agents: `node=host:port`, one per node of the scenario.
    pub agents: Vec<String>,
    /// The shared token of remote agents.
    pub token_file: Option<PathBuf>,
    /// Wall seconds per scenario second.
    pub time_scale: f64,
    pub out: Option<PathBuf>,
    /// `kill-agent:NODE@SECONDS` or `cut-link:NODE@SECONDS` (scenario time).
    pub faults: Vec<String>,
    /// The program every pod runs with its run time in seconds (`sleep`).
    pub command: String,
    /// This orchsim binary, which local agents run.
    pub exe: PathBuf,
}

fn parse_fault(s: &str) -> Result<orchsim_live::controller::Fault, Error> {
    use orchsim_live::controller::{Fault, FaultKind};
    let bad = || {
        Error::bad_input(format!(
            "--fault: expected kill-agent:NODE@SECONDS or cut-link:NODE@SECONDS, found `{s}`"
        ))
    };
    let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
    let kind = match kind {
        "kill-agent" => FaultKind::KillAgent,
        "cut-link" => FaultKind::CutLink,
        _ => return Err(bad()),
    };
    let (node, at) = rest.split_once('@').ok_or_else(bad)?;
    let at: f64 = at
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(bad)?;
    Ok(Fault {
        node: node.to_string(),
        at_ms: at * 1000.0,
        kind,
    })
}

/// A CSV table of `bytes` as rows of column → text.
fn csv_rows(bytes: &[u8]) -> Result<Rows, Error> {
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .map_err(Error::internal)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(Error::internal)?;
        rows.push(
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok((header, rows))
}

fn ms(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

/// `live run`: the scenario simulated, then run on real agents with the same scheduler;
/// both sets of tables written side by side.
pub fn run(r: &RunRequest, progress: &mut dyn FnMut(&str)) -> Result<View, Error> {
    use orchsim_live::controller::{self, Plan, PodPlan};
    if !(r.time_scale > 0.0 && r.time_scale <= 10.0) {
        return Err(Error::bad_input(format!(
            "--time-scale: expected wall seconds per scenario second above 0, at most 10, found {}",
            r.time_scale
        )));
    }
    if r.local != r.agents.is_empty() {
        return Err(Error::bad_input(
            "live run: give either --local (agents in namespaces of this machine) or --agents NODE=HOST:PORT,…",
        ));
    }
    let faults = r
        .faults
        .iter()
        .map(|f| parse_fault(f))
        .collect::<Result<Vec<_>, _>>()?;
    if !faults.is_empty() && !r.local {
        return Err(Error::bad_input(
            "--fault: faults are done to local agents only (--local); on remote machines, do them by hand",
        ));
    }
    let source = crate::Source::resolve(r.scenario.as_deref())?;
    let mut scenario = source.simulation("live run")?;
    if let Some(seed) = r.seed {
        scenario.seed = seed;
    }
    let unsupported = [
        (
            !scenario.control_plane.schedulers.is_empty()
                || scenario.control_plane.kind.name() != "monolithic",
            "a control plane other than one monolithic scheduler",
        ),
        (scenario.provisioning.is_some(), "[provisioning]"),
        (scenario.api_server.is_some(), "[api_server]"),
        (!scenario.upgrades.is_empty(), "[[upgrades]]"),
        (!scenario.autoscalers.is_empty(), "[[autoscalers]]"),
        (!scenario.faults.is_empty(), "[[faults]] (use --fault)"),
        (
            scenario.workloads.iter().any(|w| w.job.is_some()),
            "Jobs (job = {…})",
        ),
        (
            scenario.hosts.iter().any(|h| h.gpu_model.is_some()),
            "GPU hosts",
        ),
        (
            scenario.workloads.iter().any(|w| !w.constraints.is_empty()),
            "Marathon constraints",
        ),
        (
            scenario
                .workloads
                .windows(2)
                .any(|w| w[0].priority != w[1].priority),
            "workloads of different priorities (preemption)",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(Error::bad_input(format!(
            "live run: scenario `{}` uses {what}, which live mode does not run yet",
            scenario.name
        )));
    }
    let nodes = scenario.nodes();
    if let Some(f) = faults
        .iter()
        .find(|f| !nodes.iter().any(|n| n.name == f.node))
    {
        return Err(Error::bad_input(format!(
            "--fault: scenario `{}` has no node `{}` (its nodes: {})",
            scenario.name,
            f.node,
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    progress(&format!(
        "simulating {} first (the pods it submits are the ones live mode runs)",
        scenario.name
    ));
    let sim = crate::run::run(
        &source,
        &crate::RunOptions {
            seed: r.seed,
            ..Default::default()
        },
        &|_| {},
    )?;
    let file = |name: &str| {
        sim.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_slice())
            .ok_or_else(|| Error::internal(format!("the simulation wrote no {name}")))
    };
    let (pod_cols, sim_pods) = csv_rows(file("pods.csv")?)?;
    let (sum_cols, sim_summary) = csv_rows(file("summary.csv")?)?;
    let num =
        |row: &BTreeMap<String, String>, k: &str| row.get(k).and_then(|v| v.parse::<f64>().ok());
    let mut pods = Vec::new();
    for row in &sim_pods {
        let name = row["pod"].clone();
        let w = scenario
            .workloads
            .iter()
            .find(|w| w.name == row["workload"]);
        let mut spec = orchsim_sched::PodSpec::new(
            name,
            orchsim_sched::Resources {
                cpu_milli: num(row, "cpu_milli").unwrap_or(0.0) as u64,
                memory_bytes: (num(row, "memory_mib").unwrap_or(0.0) as u64) << 20,
                pods: 1,
                ..orchsim_sched::Resources::ZERO
            },
        );
        if let Some(w) = w {
            spec.labels = w.labels.clone();
            spec.node_selector = w.node_selector.clone();
            // The pod's own draw (pods.csv), its workload's when there is one value.
            spec.priority = num(row, "priority")
                .map(|p| p as i32)
                .unwrap_or(w.priority.values[0]);
            spec.owner = w.name.clone();
        }
        // The pod holds its node from bind to finish in the simulation (start latency and
        // run time); live, its process starts at once and holds it as long.
        let run_ms = match (
            row["kind"].as_str(),
            num(row, "bind_ms"),
            num(row, "finish_ms"),
        ) {
            ("batch", Some(b), Some(f)) => Some(f - b),
            _ => None,
        };
        pods.push(PodPlan {
            spec,
            submit_ms: num(row, "submit_ms").unwrap_or(0.0),
            run_ms,
        });
    }
    let duration_ms = scenario.duration.as_nanos() as f64 / 1e6;
    let scheduler = orchsim_sim::scheduler_for(&scenario).map_err(Error::bad_input)?;
    let plan = Plan {
        scheduler,
        nodes: nodes.clone(),
        pods,
        duration_ms,
        time_scale: r.time_scale,
        faults,
        // A heartbeat every 100 ms of scenario time (10–200 ms of wall time), so a pod's end
        // is seen about when the simulator sees it; a node silent for ten of them, and at
        // least a second, has failed.
        heartbeat: Duration::from_secs_f64((0.1 * r.time_scale).clamp(0.01, 0.2)),
        fail_after: Duration::from_secs_f64((1.0 * r.time_scale).clamp(1.0, 5.0)),
        command: r.command.clone(),
    };
    orchsim_live::lab::install_interrupt_handler();
    let wall = duration_ms / 1000.0 * r.time_scale;
    let (results, node_results) = if r.local {
        progress(&format!("starting {} local agents", nodes.len()));
        let cluster = orchsim_live::local::LocalCluster::start(&r.exe, &nodes, &r.command)?;
        progress(&format!(
            "running {} pods for {wall:.1} s of wall time",
            plan.pods.len()
        ));
        let token = cluster.token.clone();
        controller::run(plan, cluster.links(), &token, progress)?
    } else {
        let path = r.token_file.as_ref().ok_or_else(|| {
            Error::bad_input("--agents needs --token-file (the agents' shared token)")
        })?;
        let token = orchsim_live::agent::read_token(path)?;
        let mut links = Vec::new();
        for a in &r.agents {
            let (node, addr) = a.split_once('=').ok_or_else(|| {
                Error::bad_input(format!("--agents: expected NODE=HOST:PORT, found `{a}`"))
            })?;
            let addr: std::net::SocketAddr = addr.parse().map_err(|_| {
                Error::bad_input(format!(
                    "--agents: `{addr}` is not an address such as 198.18.0.1:7070"
                ))
            })?;
            let name = node.to_string();
            links.push(orchsim_live::controller::AgentLink {
                node: name.clone(),
                connect: Box::new(move || {
                    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(
                        |e| LiveError::Traffic {
                            test: format!("agent {name}"),
                            message: e.to_string(),
                        },
                    )
                }),
                fault: Box::new(|_| Ok(())),
            });
        }
        progress(&format!(
            "running {} pods for {wall:.1} s of wall time",
            plan.pods.len()
        ));
        controller::run(plan, links, &token, progress)?
    };

    // The same tables as the simulator's, filled with what live mode measured.
    let out = r
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-live", scenario.name)));
    let sim_dir = out.join("sim");
    sim.write(&sim_dir)?;
    let mut pods_csv = csv::Writer::from_writer(Vec::new());
    pods_csv.write_record(&pod_cols).map_err(Error::internal)?;
    let mut same = 0;
    let mut both = 0;
    let mut waits = Vec::new();
    for (row, res) in sim_pods.iter().zip(&results) {
        if let (Some(a), Some(b)) = (row.get("node").filter(|n| !n.is_empty()), &res.node) {
            both += 1;
            same += usize::from(a == b);
        }
        let wait = res.bind_ms.map(|b| b - res.submit_ms);
        if let Some(w) = wait {
            waits.push(w);
        }
        let rec: Vec<String> = pod_cols
            .iter()
            .map(|c| match c.as_str() {
                "state" => res.state.to_string(),
                "node" => res.node.clone().unwrap_or_default(),
                "submit_ms" => ms(Some(res.submit_ms)),
                "bind_ms" => ms(res.bind_ms),
                "start_ms" => ms(res.start_ms),
                "finish_ms" => ms(res.finish_ms),
                "wait_ms" => ms(wait),
                "attempts" => res.attempts.to_string(),
                "evictions" => res.evictions.to_string(),
                "last_failure" => res.last_failure.clone().unwrap_or_default(),
                // What the scenario gave the pod is the simulation's.
                "pod" | "workload" | "kind" | "priority" | "cpu_milli" | "memory_mib"
                | "gpu_milli" | "job" | "version" => row.get(c).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        pods_csv.write_record(&rec).map_err(Error::internal)?;
    }
    waits.sort_by(f64::total_cmp);
    let q = |p: f64| {
        (!waits.is_empty())
            .then(|| waits[((p * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1])
    };
    let count = |s: &str| results.iter().filter(|r| r.state == s).count().to_string();
    // Requested CPU and memory against capacity over the run, from each pod's bind to its
    // finish (or the end), as the simulator's utilisation columns are.
    let capacity = |f: fn(&orchsim_sched::Resources) -> u64| {
        nodes.iter().map(|n| f(&n.allocatable)).sum::<u64>() as f64
    };
    let util = |f: fn(&orchsim_sched::Resources) -> u64,
                req: &dyn Fn(&BTreeMap<String, String>) -> f64| {
        let mut steps: Vec<(f64, f64)> = Vec::new();
        for (row, res) in sim_pods.iter().zip(&results) {
            if let Some(b) = res.bind_ms {
                steps.push((b, req(row)));
                steps.push((res.finish_ms.unwrap_or(duration_ms), -req(row)));
            }
        }
        steps.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (mut level, mut peak, mut area, mut t) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for (at, d) in steps {
            area += level * (at - t);
            t = at;
            level += d;
            peak = peak.max(level);
        }
        area += level * (duration_ms - t).max(0.0);
        let cap = capacity(f);
        (area / duration_ms / cap * 100.0, peak / cap * 100.0)
    };
    let (cpu_mean, cpu_peak) = util(|r| r.cpu_milli, &|row| num(row, "cpu_milli").unwrap_or(0.0));
    let (mem_mean, mem_peak) = util(|r| r.memory_bytes >> 20, &|row| {
        num(row, "memory_mib").unwrap_or(0.0)
    });
    let sim_row = sim_summary.first().cloned().unwrap_or_default();
    let mut sum_csv = csv::Writer::from_writer(Vec::new());
    sum_csv.write_record(&sum_cols).map_err(Error::internal)?;
    let rec: Vec<String> = sum_cols
        .iter()
        .map(|c| match c.as_str() {
            "scenario" | "seed" | "algorithm" | "datapath" | "pod_mtu_bytes" | "hosts"
            | "sim_time_s" => sim_row.get(c).cloned().unwrap_or_default(),
            "pods_submitted" => results.len().to_string(),
            "pods_scheduled" => results
                .iter()
                .filter(|r| r.bind_ms.is_some())
                .count()
                .to_string(),
            "pods_finished" => count("finished"),
            "pods_running" => count("running"),
            "pods_pending" => count("pending"),
            "pods_unschedulable" => count("unschedulable"),
            "evictions" => results
                .iter()
                .map(|r| r.evictions as u64)
                .sum::<u64>()
                .to_string(),
            "wait_p50_ms" => ms(q(0.5)),
            "wait_p95_ms" => ms(q(0.95)),
            "wait_p99_ms" => ms(q(0.99)),
            "wait_max_ms" => ms(waits.last().copied()),
            "cpu_util_mean_pct" => format!("{cpu_mean:.3}"),
            "cpu_util_peak_pct" => format!("{cpu_peak:.3}"),
            "mem_util_mean_pct" => format!("{mem_mean:.3}"),
            "mem_util_peak_pct" => format!("{mem_peak:.3}"),
            // Mechanisms live mode does not run happened zero times.
            "pods_starting"
            | "pods_abandoned"
            | "pods_lost"
            | "pod_losses"
            | "pods_deleted"
            | "jobs_succeeded"
            | "jobs_failed"
            | "crashes"
            | "crash_reschedules"
            | "pods_drained"
            | "ip_exhaustions"
            | "ips_reused"
            | "upgrades_unfinished"
            | "restarts_in_place"
            | "restarts_completed"
            | "image_pulls"
            | "autoscale_actions"
            | "hosts_launched"
            | "hosts_removed"
            | "spot_interruptions" => "0".into(),
            _ => String::new(),
        })
        .collect();
    sum_csv.write_record(&rec).map_err(Error::internal)?;
    let pods_bytes = pods_csv
        .into_inner()
        .map_err(|e| Error::internal(e.to_string()))?;
    let sum_bytes = sum_csv
        .into_inner()
        .map_err(|e| Error::internal(e.to_string()))?;
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("pods.csv"), &pods_bytes)?;
    std::fs::write(out.join("summary.csv"), &sum_bytes)?;
    let mut nodes_t = Table::new(["node", "failed_ms"]);
    for n in &node_results {
        nodes_t.push(vec![
            n.name.clone().into(),
            n.failed_ms.map_or(Cell::Empty, |v| Cell::Float(v, 1)),
        ])?;
    }
    std::fs::write(out.join("nodes.csv"), nodes_t.to_csv())?;

    let (_, live_summary) = csv_rows(&sum_bytes)?;
    let live_row = live_summary.first().cloned().unwrap_or_default();
    let mut t = Table::new(["metric", "simulated", "live"]);
    for m in [
        "pods_submitted",
        "pods_scheduled",
        "pods_finished",
        "pods_running",
        "pods_pending",
        "pods_unschedulable",
        "evictions",
        "wait_p50_ms",
        "wait_p99_ms",
        "wait_max_ms",
    ] {
        t.push(vec![
            m.into(),
            sim_row.get(m).cloned().unwrap_or_default().into(),
            live_row.get(m).cloned().unwrap_or_default().into(),
        ])?;
    }
    let mut view = View::of(t);
    view.before.push(format!(
        "live run: {} on {} agent(s), scheduler {}, {} pods, time ×{}",
        scenario.name,
        nodes.len(),
        scenario.scheduler.algorithm,
        results.len(),
        r.time_scale
    ));
    view.after.push(format!(
        "placements: {same} of {both} pods bound in both runs are on the same node (the same scheduler; they differ where real timing reorders arrivals and releases)"
    ));
    for n in node_results.iter().filter(|n| n.failed_ms.is_some()) {
        view.after.push(format!(
            "node {} failed at {:.0} ms; its pods were rescheduled",
            n.name,
            n.failed_ms.unwrap_or_default()
        ));
    }
    view.after.push(format!(
        "wrote {}/pods.csv, summary.csv, nodes.csv and the simulation's tables in {}; compare with: orchsim compare {}/summary.csv {}/summary.csv",
        out.display(),
        sim_dir.display(),
        sim_dir.display(),
        out.display()
    ));
    view.json = Some(serde_json::json!({
        "scenario": scenario.name,
        "agents": nodes.len(),
        "pods": results.len(),
        "same_node": same,
        "bound_in_both": both,
        "failed_nodes": node_results.iter().filter_map(|n| n.failed_ms.map(|t| serde_json::json!({"node": n.name, "failed_ms": t}))).collect::<Vec<_>>(),
        "out_dir": out.display().to_string(),
    }));
    Ok(view)
}
