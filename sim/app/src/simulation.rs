//! `run` on a simulation scenario: the world's result tables as files, the summary a person
//! reads, and the report's charts.

use std::time::Instant;

use orchsim_kernel::SimDuration;
use orchsim_sim::{Scenario, Summary};

use crate::error::{Error, Result};
use crate::render::View;
use crate::run::{OnProgress, Outcome, Progress, Report, RunOptions};
use crate::source::Source;

/// Parses `source` and applies the options that change a simulation scenario.
pub fn scenario(source: &Source, opts: &RunOptions) -> Result<Scenario> {
    let mut scenario = source.simulation("this command")?;
    if let Some(seed) = opts.seed {
        scenario.seed = seed;
    }
    if let Some(algorithm) = &opts.scheduler {
        if !scenario.control_plane.schedulers.is_empty() {
            return Err(Error::bad_input(format!(
                "--scheduler replaces the one scheduler of a monolithic control plane; {} has a {} control plane, whose schedulers are in [[control_plane.schedulers]]",
                source.origin,
                scenario.control_plane.kind.name()
            )));
        }
        orchsim_sched::by_name(algorithm, 0)
            .map_err(|e| Error::bad_input(format!("--scheduler: {e}")))?;
        // A kube-scheduler profile configures `kubernetes` only.
        if algorithm != "kubernetes" {
            scenario.scheduler.profile = None;
        }
        scenario.scheduler.algorithm = algorithm.clone();
    }
    Ok(scenario)
}

pub(crate) fn run(source: &Source, opts: &RunOptions, progress: OnProgress) -> Result<Outcome> {
    let scenario = scenario(source, opts)?;
    progress(Progress::Start {
        total: scenario.duration.as_secs_f64().ceil() as u64,
        unit: "simulated s",
    });
    let started = Instant::now();
    let result = orchsim_sim::run_with_progress(&scenario, &mut |now| {
        progress(Progress::At(now.as_secs_f64() as u64));
    })?;
    let wall = started.elapsed().as_secs_f64();
    if let Some(e) = &result.audit_error {
        return Err(Error::internal(format!("the end-of-run audit found {e}")));
    }

    let summary = result.summary.table();
    let pods = opts.report.then(|| result.pods_table());
    let mut files: Vec<(&'static str, Vec<u8>)> = vec![
        ("summary.csv", summary.to_csv()),
        (
            "pods.csv",
            pods.as_ref()
                .map_or_else(|| result.pods_table().to_csv(), |p| p.to_csv()),
        ),
        ("timeseries.csv", result.timeseries.to_csv()),
        ("workloads.csv", result.workloads_table.to_csv()),
        ("schedulers.csv", result.schedulers_table.to_csv()),
    ];
    if let Some(f) = &result.fragmentation {
        files.push(("fragmentation.csv", f.to_csv()));
    }
    if let Some(f) = &result.shares {
        files.push(("shares.csv", f.to_csv()));
    }
    if scenario.faults.iter().any(|f| f.is_host_fault()) {
        files.push(("faults.csv", result.faults_table().to_csv()));
    }
    if let Some(t) = result.api_table() {
        files.push(("api.csv", t.to_csv()));
    }
    if !result.traffic.is_empty() {
        files.push(("traffic.csv", result.traffic_table().to_csv()));
    }
    if !result.links.is_empty() {
        files.push(("links.csv", result.links_table().to_csv()));
    }
    if !result.autoscalers.is_empty() {
        files.push(("autoscale.csv", result.autoscale_table().to_csv()));
    }
    if scenario.ipam.is_some() {
        files.push(("ipam.csv", result.ipam_table().to_csv()));
    }
    if !result.upgrades.is_empty() {
        files.push(("upgrades.csv", result.upgrades_table().to_csv()));
    }
    if result.provisioning.is_some() {
        files.push(("provisioning.csv", result.provisioning_table().to_csv()));
    }
    files.push(("digest.txt", format!("{}\n", result.digest()).into_bytes()));

    let report = pods.map(|pods| Report {
        title: format!("orchsim run: {} (seed {})", scenario.name, scenario.seed),
        charts: orchsim_report::report::run_charts(
            &pods,
            &result.timeseries,
            result.fragmentation.as_ref(),
        ),
        tables: vec![("Summary".into(), summary.clone())],
    });
    let s = &result.summary;
    let events_per_s = if wall > 0.0 {
        s.events as f64 / wall
    } else {
        0.0
    };
    let mut json = summary.to_json_rows()[0].clone();
    if let Some(m) = json.as_object_mut() {
        m.insert("wall_s".into(), serde_json::json!(round3(wall)));
        m.insert(
            "events_per_s".into(),
            serde_json::json!(events_per_s.round()),
        );
    }
    let mut headline = View::of(summary);
    headline.json = Some(json);
    headline.text = Some(human_summary(
        s,
        &result.upgrades,
        &scenario,
        wall,
        events_per_s,
    ));
    Ok(Outcome {
        name: scenario.name.clone(),
        files,
        headline,
        digest: result.digest().to_string(),
        report,
        source_text: source.text.clone(),
        warnings: Vec::new(),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Option<SimDuration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_millis_f64()))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}%"))
}

/// The summary a person reads, one line per aspect.
fn human_summary(
    s: &Summary,
    upgrades: &[orchsim_sim::RolloutRecord],
    sc: &Scenario,
    wall: f64,
    events_per_s: f64,
) -> String {
    let mut o = format!(
        "orchsim run: {} (seed {}): {} on {} hosts, datapath {} (pod MTU {})\n",
        s.scenario, s.seed, s.algorithm, s.hosts, s.datapath, s.pod_mtu
    );
    if !sc.description.is_empty() {
        o += &format!("           {}\n", sc.description);
    }
    o += &format!(
        "pods       {} submitted: {} scheduled ({} finished, {} running, {} starting), {} pending, {} unschedulable\n",
        s.pods_submitted,
        s.pods_scheduled,
        s.pods_finished,
        s.pods_running,
        s.pods_starting,
        s.pods_pending,
        s.pods_unschedulable
    );
    if s.pods_abandoned > 0 {
        o += &format!(
            "abandoned  {} pods of jobs given up after the retry limits\n",
            s.pods_abandoned
        );
    }
    if s.pods_deleted > 0 {
        o += &format!(
            "deleted    {} pods deleted (by an upgrade, an autoscaler, a Job's end or an event log)\n",
            s.pods_deleted
        );
    }
    o += &format!(
        "wait       p50 {}, p95 {}, p99 {}, max {} (queued to bind)\n",
        ms(s.wait_p50),
        ms(s.wait_p95),
        ms(s.wait_p99),
        ms(s.wait_max)
    );
    o += &format!(
        "cpu        mean {}, peak {} of allocatable requested\n",
        pct(s.cpu_util_mean_pct),
        pct(s.cpu_util_peak_pct)
    );
    o += &format!(
        "memory     mean {}, peak {}\n",
        pct(s.mem_util_mean_pct),
        pct(s.mem_util_peak_pct)
    );
    if s.gpu_util_mean_pct.is_some() {
        o += &format!(
            "gpu        mean {}, peak {}\n",
            pct(s.gpu_util_mean_pct),
            pct(s.gpu_util_peak_pct)
        );
    }
    if sc.control_plane.schedulers.is_empty() {
        o += &format!("scheduler  busy {:.2}% of the time\n", s.scheduler_busy_pct);
    } else {
        o += &format!(
            "schedulers {} control plane, the busiest busy {:.2}% of the time (per scheduler: schedulers.csv)\n",
            sc.control_plane.kind.name(),
            s.scheduler_busy_pct
        );
    }
    if s.evictions > 0 {
        o += &format!("preemption {} evictions (victims re-queued)\n", s.evictions);
    }
    for u in upgrades {
        o += &format!(
            "upgrade    {} ({}): {}; ready replicas never below {} of {}, below desired for {:.1} s; {} created, {} deleted, {} rebuilt in place{} (upgrades.csv)\n",
            u.workload,
            match u.strategy {
                orchsim_sim::upgrades::Strategy::Rolling => "rolling",
                orchsim_sim::upgrades::Strategy::RebuildInPlace => "rebuild in place",
            },
            match (u.started, u.finished) {
                (Some(s), Some(f)) => format!("done in {:.1} s", f.since(s).as_secs_f64()),
                (Some(_), None) => "not finished by the end".into(),
                _ => "not started by the end".into(),
            },
            if u.started.is_some() { u.min_ready } else { 0 },
            u.desired,
            u.below_desired_ns as f64 / 1e9,
            u.created,
            u.deleted,
            u.rebuilt,
            if u.volume_copies > 0 {
                format!(", {:.1} GiB of volumes copied", u.copied_gib)
            } else {
                String::new()
            }
        );
    }
    if let (Some(actions), Some(mean), Some(over)) =
        (s.autoscale_actions, s.replicas_mean, s.overloaded)
    {
        o += &format!(
            "autoscale  {actions} scalings, {mean:.1} ready replicas on average (all autoscaled services), demand above the ready replicas' requests for {:.0} s (autoscale.csv)\n",
            over.as_secs_f64()
        );
    }
    if let (Some(rps), Some(served)) = (s.net_requests_per_s, s.net_served_pct) {
        o += &format!(
            "traffic    {rps:.0} requests/s offered, {served:.2} % served, {} % across hosts, p99 {} µs (traffic.csv)\n",
            s.net_cross_host_pct.map_or("-".into(), |v| format!("{v:.1}")),
            s.net_latency_p99_us.map_or("-".into(), |v| format!("{v:.0}")),
        );
    }
    if let Some(p) = &sc.policies {
        let denied = sc
            .traffic
            .iter()
            .filter(|t| t.verdict.as_ref().is_some_and(|v| !v.allowed))
            .count();
        o += &match &p.not_enforced {
            None => format!(
                "policy     {} NetworkPolicies, enforced by {}: {denied} of {} calls denied, their requests refused (traffic.csv)\n",
                p.count,
                s.datapath,
                sc.traffic.len()
            ),
            Some(why) => format!(
                "policy     {} NetworkPolicies NOT enforced: {denied} of {} calls they deny are carried all the same. {why}\n",
                p.count,
                sc.traffic.len()
            ),
        };
    }
    if let Some(cores) = s.net_cpu_cores {
        o += &format!(
            "network    {}: {cores:.2} cores in all on average ({} hosts' worth of CPU), pods short of CPU {} %\n",
            s.datapath,
            s.net_cpu_hosts.map_or("-".into(), |v| format!("{v:.2}")),
            s.pod_cpu_starved_pct.map_or("-".into(), |v| format!("{v:.2}")),
        );
    }
    if let (Some(ok), Some(failed)) = (s.jobs_succeeded, s.jobs_failed) {
        o += &format!(
            "jobs       {ok} Jobs complete, {failed} failed (past their backoff_limit), {} pods failed; {} from a Job's arrival to its completion on average\n",
            s.pods_failed,
            s.job_duration_mean
                .map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
        );
    }
    if let (Some(mean), Some(peak), Some(up), Some(down), Some(spot)) = (
        s.hosts_mean,
        s.hosts_peak,
        s.hosts_launched,
        s.hosts_removed,
        s.spot_interruptions,
    ) {
        o += &format!(
            "hosts      {mean:.1} billed on average, {peak} at most; {up} launched, {down} removed by the provisioner, {spot} spot hosts reclaimed (provisioning.csv)\n"
        );
    }
    if let (Some(cost), Some(spot)) = (s.cost, s.cost_spot) {
        o += &format!(
            "cost       {cost:.2} for the run ({:.2} on-demand, {spot:.2} spot), {:.2} per hour\n",
            cost - spot,
            cost / (s.sim_time.as_nanos().max(1) as f64 / 3600e9)
        );
    }
    if let (Some(exhausted), Some(reused)) = (s.ip_exhaustions, s.ips_reused) {
        o += &format!(
            "addresses  {exhausted} times a pod found no free address, {reused} pool addresses reused by their application{} (per subnet and pool: ipam.csv)\n",
            match s.hosts_without_subnet {
                Some(n) if n > 0 => format!(", {n} hosts without a subnet (the cluster range ran out)"),
                _ => String::new(),
            }
        );
    }
    if let Some(requests) = s.api_requests {
        let ms = |d: Option<SimDuration>| {
            d.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
        };
        o += &format!(
            "api        {requests} requests, {} mean wait for a client token, {} mean latency; etcd busy {:.2}% (per client: api.csv)\n",
            ms(s.api_throttled_mean),
            ms(s.api_latency_mean),
            s.etcd_busy_pct.unwrap_or(0.0)
        );
        o += &format!(
            "pod time   {} in the scheduler, {} for the Bind, {} to start on the node (means)\n",
            ms(s.time_scheduler_mean),
            ms(s.time_api_bind_mean),
            ms(s.time_kubelet_mean)
        );
    }
    if sc.faults.iter().any(|f| f.is_host_fault()) {
        o += &format!(
            "faults     {} containers lost to host failures, {} still lost; slowest recovery {}{} (per outage: faults.csv)\n",
            s.pod_losses,
            s.pods_lost,
            s.recovery_max.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            if s.outages_unrecovered > 0 {
                format!(", {} outages not recovered by the end", s.outages_unrecovered)
            } else {
                String::new()
            }
        );
    }
    if s.crashes > 0 {
        o += &format!(
            "crashes    {} containers exited, {} replaced through the scheduler; back running after {} on average\n",
            s.crashes,
            s.crash_reschedules,
            s.crash_recovery_mean.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
        );
    }
    if s.restarts_in_place > 0 {
        o += &format!(
            "restarts   {} containers restarted in place (after a crash, or on their host's return)\n",
            s.restarts_in_place
        );
    }
    if s.image_pulls > 0 {
        o += &format!("images     {} pulls\n", s.image_pulls);
    }
    o += &format!(
        "simulated  {:.1} s in {:.3} s wall: {} events, {:.2} M events/s\n",
        s.sim_time.as_secs_f64(),
        wall,
        s.events,
        events_per_s / 1e6
    );
    o += &format!("digest     {}\n", s.digest);
    o
}
