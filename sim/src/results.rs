//! What a run produces: the typed [`Summary`] and the `summary`, `pods` and `timeseries`
//! tables whose column names (with units) are a documented, stable contract (README).

use orchsim_kernel::{SimDuration, SimTime};
use orchsim_report::{Cell, Table};
use orchsim_sched::Resources;

use crate::scenario::{Scenario, WorkloadKind};
use crate::world::{JobRecord, PodRecord, PodState, SchedulerStats, World};

const MIB: u64 = 1024 * 1024;

/// The headline numbers of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub algorithm: String,
    pub datapath: String,
    pub pod_mtu: u32,
    pub hosts: u64,
    pub pods_submitted: u64,
    /// Pods ever bound to a node (finished + running + starting).
    pub pods_scheduled: u64,
    pub pods_finished: u64,
    pub pods_running: u64,
    pub pods_starting: u64,
    pub pods_pending: u64,
    pub pods_unschedulable: u64,
    /// Pods of jobs given up after the retry limits.
    pub pods_abandoned: u64,
    /// Evictions by preemption (a pod evicted twice counts twice).
    pub evictions: u64,
    /// Pods whose host failed under them and that were neither given up nor restarted by
    /// the end (state `lost`).
    pub pods_lost: u64,
    /// Containers killed by host failures over the run (a pod lost twice counts twice).
    pub pod_losses: u64,
    /// Pods deleted (state `deleted`): by an upgrade or an autoscaler, because their Job
    /// ended, or by a replayed event log.
    pub pods_deleted: u64,
    /// Job pods failed under restart policy `Never` (state `failed`).
    pub pods_failed: u64,
    /// With Jobs (`job`): Jobs complete and failed by the end, and the mean time from a
    /// Job's arrival to its completion.
    pub jobs_succeeded: Option<u64>,
    pub jobs_failed: Option<u64>,
    pub job_duration_mean: Option<SimDuration>,
    /// With `[[upgrades]]`: the longest upgrade (start to every old pod gone and the desired
    /// count of new ones ready; `None` if none finished), and the time services spent below
    /// their desired ready count during upgrades, summed.
    pub upgrade_duration_max: Option<SimDuration>,
    pub upgrade_below_desired: Option<SimDuration>,
    /// Upgrades not finished by the end of the run (started or not).
    pub upgrades_unfinished: u64,
    /// With `[[autoscalers]]`: scale-ups plus scale-downs, ready replicas on average, and the
    /// time the demand exceeded what the ready replicas request (sampled every sync), summed
    /// over the autoscalers.
    pub autoscale_actions: Option<u64>,
    pub replicas_mean: Option<f64>,
    pub overloaded: Option<SimDuration>,
    /// With `[ipam]`: times a pod found no free address (in its host's subnet or its
    /// application's pool), addresses a pool handed out again to its application, and hosts
    /// the cluster range had no subnet for.
    pub ip_exhaustions: Option<u64>,
    pub ips_reused: Option<u64>,
    pub hosts_without_subnet: Option<u64>,
    /// With `[provisioning]`: hosts billed on average and at most, hosts launched and removed
    /// by the provisioner, spot hosts reclaimed, and pods evicted from drained hosts.
    pub hosts_mean: Option<f64>,
    pub hosts_peak: Option<u64>,
    pub hosts_launched: Option<u64>,
    pub hosts_removed: Option<u64>,
    pub spot_interruptions: Option<u64>,
    pub pods_drained: Option<u64>,
    /// What the hosts cost over the run (their `cost_per_hour` × hours billed), in all and on
    /// spot hosts; `None` when no host group has a price and there is no provisioner.
    pub cost: Option<f64>,
    pub cost_spot: Option<f64>,
    /// With `[[links]]` and traffic: what the WAN links cost (per GB carried, plus their hours).
    pub cost_transfer: Option<f64>,
    /// Containers restarted in place: lost ones whose host came back before they were given
    /// up, and crashed ones (container reuse).
    pub restarts_in_place: u64,
    /// Containers that completed and started again (`restart_policy = "Always"`, in place or
    /// as a new task).
    pub restarts_completed: u64,
    /// Image pulls (a host pulls a workload's image once).
    pub image_pulls: u64,
    /// Longest time from a host failure to the last of its lost pods running again, over the
    /// outages that recovered; `None` without such outages.
    pub recovery_max: Option<SimDuration>,
    /// Outages whose lost pods were not all running again by the end.
    pub outages_unrecovered: u64,
    /// Container crashes (container faults), those replaced by a new task through the
    /// scheduler instead of restarted in place, and the mean time from a crash to the
    /// container running again (over those that did).
    pub crashes: u64,
    pub crash_reschedules: u64,
    pub crash_recovery_mean: Option<SimDuration>,
    /// Where a pod's time went on its way to running, as means over the pods bound now that
    /// were never restarted in place, lost, crashed or rebuilt: queued (created, with `[api_server]`)
    /// → bound by its scheduler, → Bind answered by the API server (`None` without
    /// `[api_server]`; one still waiting counts until the end), → container running (over
    /// those running).
    pub time_scheduler_mean: Option<SimDuration>,
    pub time_api_bind_mean: Option<SimDuration>,
    pub time_kubelet_mean: Option<SimDuration>,
    /// With `[api_server]`: requests answered, their mean wait for a client token and mean
    /// latency (issue → answer; requests still in flight at the end are not in them), and
    /// etcd's busy time over the run in percent.
    pub api_requests: Option<u64>,
    pub api_throttled_mean: Option<SimDuration>,
    pub api_latency_mean: Option<SimDuration>,
    pub etcd_busy_pct: Option<f64>,
    /// With `[[traffic]]`: requests offered per second (all edges), the share served, the
    /// share of served requests between hosts and between sites, payload Gbit/s served, and
    /// the 99th percentile of a request's latency (ns precision of 1 %).
    pub net_requests_per_s: Option<f64>,
    pub net_served_pct: Option<f64>,
    /// Calls sent to an endpoint already gone, before the Service proxies learnt.
    pub net_failed_pct: Option<f64>,
    pub net_cross_host_pct: Option<f64>,
    pub net_cross_site_pct: Option<f64>,
    pub net_gbit_s: Option<f64>,
    pub net_latency_p99_us: Option<f64>,
    /// With `[[traffic]]` or `[network] agents`: mean cores the network took over all hosts
    /// (messages and agents' idle use), the same in hosts' worth of CPU, and the share of the
    /// pods' CPU demand their hosts could not give them.
    pub net_cpu_cores: Option<f64>,
    pub net_cpu_hosts: Option<f64>,
    pub pod_cpu_starved_pct: Option<f64>,
    /// Queueing → bind (submission, or the last eviction, to the current bind), over pods that
    /// are bound; `None` if none is.
    pub wait_p50: Option<SimDuration>,
    pub wait_p95: Option<SimDuration>,
    pub wait_p99: Option<SimDuration>,
    pub wait_max: Option<SimDuration>,
    /// Requested / allocatable, time-weighted over the run, in percent; `None` if the cluster
    /// has none of the resource.
    pub cpu_util_mean_pct: Option<f64>,
    pub cpu_util_peak_pct: Option<f64>,
    pub mem_util_mean_pct: Option<f64>,
    pub mem_util_peak_pct: Option<f64>,
    pub gpu_util_mean_pct: Option<f64>,
    pub gpu_util_peak_pct: Option<f64>,
    /// Fraction of the run the scheduler spent deciding, in percent.
    pub scheduler_busy_pct: f64,
    pub sim_time: SimTime,
    pub events: u64,
    pub digest: String,
}

/// Everything a run returns.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub summary: Summary,
    /// Every submitted pod, in submission order.
    pub records: Vec<PodRecord>,
    /// Node names in cluster order (host groups in file order, `<group>-<i>`).
    pub node_names: Vec<String>,
    /// Host group names, in scenario order.
    pub host_groups: Vec<String>,
    /// Name and `service` or `batch` per generated workload, for `pods.csv` (trace pods are
    /// `trace`).
    workload_kinds: Vec<(String, &'static str)>,
    pub timeseries: Table,
    /// `fragmentation.csv`, when the scenario turns on `[observers] gpu_fragmentation`.
    pub fragmentation: Option<Table>,
    /// GPU after every decision, when the per-decision fragmentation observer is on.
    pub gpu_steps: Vec<crate::GpuStep>,
    /// Every job, in arrival order (a pod's `job` indexes it).
    pub jobs: Vec<JobRecord>,
    /// Per workload (the trace last, if any): its jobs and how long they waited.
    pub workloads: Vec<WorkloadStats>,
    /// Per scheduler (framework, in two-level): decisions, conflicts, offers.
    pub schedulers: Vec<SchedulerStats>,
    /// `workloads.csv` and `schedulers.csv`.
    pub workloads_table: Table,
    pub schedulers_table: Table,
    /// `shares.csv`, when the scenario turns on `[observers] dominant_shares`.
    pub shares: Option<Table>,
    /// Each workload's dominant share at every sample: `(time, shares)`, same observer.
    pub share_samples: Vec<(SimTime, Vec<f64>)>,
    /// An inconsistency the end-of-run audit found between the allocator and the cluster
    /// (a bug, never an input problem).
    pub audit_error: Option<String>,
    /// Every host outage and what it did (`faults.csv` when the scenario has faults).
    pub outages: Vec<crate::world::OutageRecord>,
    /// Per client kind (schedulers, controllers, kubelets, users), with `[api_server]`.
    pub api_clients: Option<Vec<(&'static str, crate::world::ClientStats)>>,
    /// Every upgrade and how available its service stayed (`upgrades.csv`).
    pub upgrades: Vec<crate::world::RolloutRecord>,
    /// Every autoscaler and what it did (`autoscale.csv`).
    pub autoscalers: Vec<crate::world::AutoscaleRecord>,
    /// With `[[traffic]]`: every edge of the service graph and what it cost (`traffic.csv`).
    pub traffic: Vec<crate::world::TrafficRecord>,
    /// With `[[traffic]]` and `[[links]]`: what each WAN link carried (`links.csv`).
    pub links: Vec<crate::world::LinkRecord>,
    /// With `[provisioning]`: every launch, removal and spot interruption
    /// (`provisioning.csv`).
    pub provisioning: Option<Vec<crate::world::ProvisionRecord>>,
    /// With `[ipam]`: every host subnet and pool (`ipam.csv`), and every pod's hold on an
    /// address.
    pub address_scopes: Vec<crate::world::AddressScope>,
    pub ip_leases: Vec<crate::world::Lease>,
}

/// One workload's jobs: how many were placed, abandoned or are still waiting, and how long
/// they waited (seconds; `None` when no job got that far).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadStats {
    pub name: String,
    pub jobs: u64,
    /// Jobs with every pod placed at least once.
    pub scheduled: u64,
    pub abandoned: u64,
    pub pending: u64,
    /// Pods placed at least once.
    pub pods_placed: u64,
    /// Submission to the first time a scheduler took the job (the Omega simulator's
    /// `timeInQueueTillFirstScheduled`: no decision time).
    pub queue_mean_s: Option<f64>,
    pub queue_p90_s: Option<f64>,
    /// Submission to its first pod's bind, and to the bind that completed it.
    pub wait_first_mean_s: Option<f64>,
    pub wait_first_p90_s: Option<f64>,
    pub wait_last_mean_s: Option<f64>,
    pub wait_last_p90_s: Option<f64>,
    /// Mean of the workload's dominant share of the cluster over the samples (with the
    /// `dominant_shares` observer).
    pub dominant_share_mean: Option<f64>,
}

/// Mean and nearest-rank 90th percentile.
fn mean_p90(mut v: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    (Some(mean), Some(v[rank - 1]))
}

fn workload_stats(sc: &Scenario, w: &World) -> Vec<WorkloadStats> {
    let names: Vec<String> = sc
        .workloads
        .iter()
        .map(|w| w.name.clone())
        .chain(sc.trace.as_ref().map(|t| t.name.clone()))
        .collect();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let jobs: Vec<&JobRecord> = w.jobs.iter().filter(|j| j.workload == i).collect();
            let since =
                |t: Option<SimTime>, j: &JobRecord| t.map(|t| t.since(j.submitted).as_secs_f64());
            let (queue_mean_s, queue_p90_s) =
                mean_p90(jobs.iter().filter_map(|j| since(j.dequeued, j)).collect());
            let (wait_first_mean_s, wait_first_p90_s) = mean_p90(
                jobs.iter()
                    .filter_map(|j| since(j.first_bound, j))
                    .collect(),
            );
            let (wait_last_mean_s, wait_last_p90_s) =
                mean_p90(jobs.iter().filter_map(|j| since(j.all_bound, j)).collect());
            let scheduled = jobs.iter().filter(|j| j.all_bound.is_some()).count() as u64;
            let abandoned = jobs
                .iter()
                .filter(|j| j.abandoned && j.all_bound.is_none())
                .count() as u64;
            let shares: Vec<f64> = w
                .samples
                .iter()
                .filter_map(|s| s.dominant_shares.get(i).copied())
                .collect();
            WorkloadStats {
                name,
                jobs: jobs.len() as u64,
                scheduled,
                abandoned,
                pending: jobs.len() as u64 - scheduled - abandoned,
                pods_placed: w
                    .pods
                    .iter()
                    .filter(|p| p.workload == i && !p.placements.is_empty())
                    .count() as u64,
                queue_mean_s,
                queue_p90_s,
                wait_first_mean_s,
                wait_first_p90_s,
                wait_last_mean_s,
                wait_last_p90_s,
                dominant_share_mean: (!shares.is_empty())
                    .then(|| shares.iter().sum::<f64>() / shares.len() as f64),
            }
        })
        .collect()
}

fn seconds(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, |v| Cell::Float(v, 6))
}

fn workloads_table(stats: &[WorkloadStats]) -> Table {
    let mut t = Table::new([
        "workload",
        "jobs",
        "jobs_scheduled",
        "jobs_abandoned",
        "jobs_pending",
        "pods_placed",
        "queue_mean_s",
        "queue_p90_s",
        "wait_first_mean_s",
        "wait_first_p90_s",
        "wait_last_mean_s",
        "wait_last_p90_s",
        "dominant_share_mean",
    ]);
    for s in stats {
        let row = vec![
            s.name.as_str().into(),
            s.jobs.into(),
            s.scheduled.into(),
            s.abandoned.into(),
            s.pending.into(),
            s.pods_placed.into(),
            seconds(s.queue_mean_s),
            seconds(s.queue_p90_s),
            seconds(s.wait_first_mean_s),
            seconds(s.wait_first_p90_s),
            seconds(s.wait_last_mean_s),
            seconds(s.wait_last_p90_s),
            s.dominant_share_mean
                .map_or(Cell::Empty, |v| Cell::Float(v, 6)),
        ];
        t.push(row).expect("workloads row matches its header");
    }
    t
}

fn schedulers_table(stats: &[SchedulerStats], end: SimTime) -> Table {
    let mut t = Table::new([
        "scheduler",
        "algorithm",
        "busy_pct",
        "wasted_pct",
        "decisions",
        "transactions",
        "conflicts",
        "conflict_fraction",
        "no_room",
        "retries",
        "offers_received",
        "offers_declined",
        "offers_rescinded",
    ]);
    let span = end.as_nanos() as u128;
    for s in stats {
        let row = vec![
            s.name.as_str().into(),
            s.algorithm.as_str().into(),
            percent(pct(s.busy_ns as u128, span)),
            percent(pct(s.wasted_ns as u128, span)),
            s.decisions.into(),
            s.transactions.into(),
            s.conflicts.into(),
            (s.transactions > 0)
                .then(|| s.conflicts as f64 / s.transactions as f64)
                .map_or(Cell::Empty, |v| Cell::Float(v, 6)),
            s.no_room.into(),
            s.retries.into(),
            s.offers_received.into(),
            s.offers_declined.into(),
            s.offers_rescinded.into(),
        ];
        t.push(row).expect("schedulers row matches its header");
    }
    t
}

fn shares_table(sc: &Scenario, w: &World) -> Table {
    let mut t = Table::new(
        std::iter::once("time_s".to_string())
            .chain(sc.workloads.iter().map(|w| format!("{}_share", w.name)))
            .chain(sc.trace.as_ref().map(|t| format!("{}_share", t.name))),
    );
    for s in &w.samples {
        let mut row = vec![Cell::Decimal(secs(s.time))];
        row.extend(s.dominant_shares.iter().map(|&v| Cell::Float(v, 6)));
        t.push(row).expect("shares row matches its header");
    }
    t
}

impl RunResult {
    pub fn digest(&self) -> &str {
        &self.summary.digest
    }

    /// `faults.csv`: one row per host outage, in time order — when the host failed, was
    /// declared failed, had its pods given up and came back; its pods lost, restarted in
    /// place and replaced; and when the last of them ran again.
    pub fn faults_table(&self) -> Table {
        let mut t = Table::new([
            "fault",
            "host",
            "down_s",
            "detected_s",
            "evicted_s",
            "up_s",
            "pods_lost",
            "restarted_in_place",
            "replaced",
            "recovered_s",
            "recovery_s",
            "overlapped",
            "partition",
            "duplicated",
        ]);
        let at = |t: Option<SimTime>| t.map_or(Cell::Empty, |t| Cell::Decimal(secs(t)));
        for o in &self.outages {
            let row = vec![
                o.fault.as_str().into(),
                self.node_names[o.node.0].as_str().into(),
                at(Some(o.down)),
                at(o.detected),
                at(o.evicted),
                at(o.up),
                u64::from(o.pods_lost).into(),
                u64::from(o.restarted_in_place).into(),
                u64::from(o.replaced).into(),
                at(o.recovered),
                o.recovered.map_or(Cell::Empty, |r| {
                    Cell::Decimal(secs(SimTime::ZERO + r.since(o.down)))
                }),
                u64::from(o.overlapped).into(),
                u64::from(o.partition).into(),
                u64::from(o.duplicated).into(),
            ];
            t.push(row).expect("faults row matches its header");
        }
        t
    }

    /// `api.csv`, with `[api_server]`: per client kind, its requests and where their time went
    /// — waiting for the client's rate limiter, for a seat in the API server, in etcd.
    pub fn api_table(&self) -> Option<Table> {
        let clients = self.api_clients.as_ref()?;
        let mut t = Table::new([
            "client",
            "requests",
            "reads",
            "writes",
            "throttled_total_s",
            "throttled_mean_ms",
            "throttled_max_ms",
            "queued_mean_ms",
            "served_mean_ms",
            "latency_mean_ms",
            "latency_max_ms",
        ]);
        for (name, c) in clients {
            let n = c.reads + c.writes;
            let mean = |total: u128| ms(mean_of(total, n));
            let row = vec![
                (*name).into(),
                n.into(),
                c.reads.into(),
                c.writes.into(),
                Cell::Decimal(secs(
                    SimTime::ZERO + SimDuration(c.throttled_ns.min(u128::from(u64::MAX)) as u64),
                )),
                mean(c.throttled_ns),
                ms((n > 0).then_some(SimDuration(c.throttled_max_ns))),
                mean(c.queued_ns),
                mean(c.served_ns),
                mean(c.latency_ns),
                ms((n > 0).then_some(SimDuration(c.latency_max_ns))),
            ];
            t.push(row).expect("api row matches its header");
        }
        Some(t)
    }

    /// `ipam.csv`, with `[ipam]`: every host subnet and application pool — its first
    /// address, how many it holds, the most in use at once, the times a pod found none free,
    /// and (pools) addresses handed out again to the same application.
    pub fn ipam_table(&self) -> Table {
        let mut t = Table::new([
            "scope",
            "first_address",
            "capacity",
            "peak_used",
            "exhaustions",
            "reused",
        ]);
        for s in &self.address_scopes {
            let row = vec![
                s.scope.as_str().into(),
                s.first.to_string().into(),
                u64::from(s.capacity).into(),
                u64::from(s.peak).into(),
                s.exhaustions.into(),
                s.reused.into(),
            ];
            t.push(row).expect("ipam row matches its header");
        }
        t
    }

    /// `provisioning.csv`: one row per thing the provisioner did — launch, ready, remove,
    /// spot-notice, gone — with the host, its group, capacity type and price, and why.
    pub fn provisioning_table(&self) -> Table {
        let mut t = Table::new([
            "time_s",
            "action",
            "host",
            "group",
            "capacity_type",
            "price_per_hour",
            "reason",
        ]);
        for r in self.provisioning.iter().flatten() {
            let row = vec![
                Cell::Decimal(secs(r.time)),
                r.action.into(),
                self.node_names[r.node.0].as_str().into(),
                self.host_groups[r.group].as_str().into(),
                if r.spot { "spot" } else { "on-demand" }.into(),
                Cell::Float(r.price_per_hour, 4),
                r.reason.as_str().into(),
            ];
            t.push(row).expect("provisioning row matches its header");
        }
        t
    }

    /// `traffic.csv`: one row per `[[traffic]]` edge — NetworkPolicy's verdict, requests offered
    /// per second, the shares served, failed for want of a running caller or callee, denied by
    /// an enforced policy, and of the served between
    /// pods of one host, across hosts and across sites; payload Gbit/s served, the CPU cores
    /// its messages took, and its latency percentiles.
    pub fn traffic_table(&self) -> Table {
        let mut t = Table::new([
            "from",
            "to",
            "policy",
            "requests_per_s",
            "served_pct",
            "no_endpoint_pct",
            "denied_pct",
            "failed_pct",
            "same_host_pct",
            "cross_host_pct",
            "cross_site_pct",
            "gbit_s",
            "cpu_cores",
            "latency_p50_us",
            "latency_p99_us",
        ]);
        let opt = |v: Option<f64>| v.map_or(Cell::Empty, |x| Cell::Float(x, 3));
        for r in &self.traffic {
            let row = vec![
                r.from.as_str().into(),
                r.to.as_str().into(),
                r.policy.as_str().into(),
                Cell::Float(r.requests_per_s, 3),
                opt(r.served_pct),
                opt(r.no_endpoint_pct),
                opt(r.denied_pct),
                opt(r.failed_pct),
                opt(r.same_host_pct),
                opt(r.cross_host_pct),
                opt(r.cross_site_pct),
                Cell::Float(r.gbit_s, 6),
                Cell::Float(r.cpu_cores, 6),
                opt(r.latency_p50_us),
                opt(r.latency_p99_us),
            ];
            t.push(row).expect("traffic row matches its header");
        }
        t
    }

    /// `links.csv`: one row per `[[links]]` link — its sites, capacity and latency, the mean
    /// Gbit/s carried each way, its busiest direction's peak load (offered over capacity), the
    /// GB it carried and its cost.
    pub fn links_table(&self) -> Table {
        let mut t = Table::new([
            "site_a",
            "site_b",
            "gbit_s",
            "latency_ms",
            "gbit_s_a_to_b",
            "gbit_s_b_to_a",
            "load_peak_pct",
            "gb",
            "cost",
        ]);
        for l in &self.links {
            let row = vec![
                l.sites[0].as_str().into(),
                l.sites[1].as_str().into(),
                Cell::Float(l.gbit_s, 3),
                Cell::Float(l.latency_ms, 3),
                Cell::Float(l.gbit_s_mean[0], 6),
                Cell::Float(l.gbit_s_mean[1], 6),
                Cell::Float(l.load_peak_pct, 3),
                Cell::Float(l.gb, 6),
                Cell::Float(l.cost, 4),
            ];
            t.push(row).expect("links row matches its header");
        }
        t
    }

    /// `autoscale.csv`: one row per autoscaler — its limits, syncs, scale-ups and downs,
    /// pods created and deleted, the fewest and most replicas seen, ready replica-seconds, the
    /// time overloaded and the peak demand.
    pub fn autoscale_table(&self) -> Table {
        let mut t = Table::new([
            "workload",
            "min_replicas",
            "max_replicas",
            "syncs",
            "scale_ups",
            "scale_downs",
            "created",
            "deleted",
            "replicas_min",
            "replicas_max",
            "ready_replica_s",
            "overloaded_s",
            "load_peak_cores",
        ]);
        for a in &self.autoscalers {
            let row = vec![
                a.workload.as_str().into(),
                a.min_replicas.into(),
                a.max_replicas.into(),
                a.syncs.into(),
                a.scale_ups.into(),
                a.scale_downs.into(),
                a.created.into(),
                a.deleted.into(),
                if a.syncs > 0 {
                    a.replicas_min.into()
                } else {
                    Cell::Empty
                },
                a.replicas_max.into(),
                Cell::Float(a.ready_replica_s, 3),
                Cell::Float(a.overloaded_s, 3),
                Cell::Float(a.load_peak_cores, 3),
            ];
            t.push(row).expect("autoscale row matches its header");
        }
        t
    }

    /// `upgrades.csv`: one row per upgrade — its limits, when it ran, the fewest ready and the
    /// most pods alive during it, the time below the desired ready count and the missing
    /// replica-seconds, pods created, deleted and rebuilt, volumes copied or reattached.
    pub fn upgrades_table(&self) -> Table {
        let mut t = Table::new([
            "workload",
            "strategy",
            "desired",
            "max_surge",
            "max_unavailable",
            "started_s",
            "finished_s",
            "duration_s",
            "ready_at_start",
            "min_ready",
            "max_pods",
            "below_desired_s",
            "missing_replica_s",
            "created",
            "deleted",
            "rebuilt",
            "volume_copies",
            "volume_reattached",
            "copied_gib",
        ]);
        let at = |t: Option<SimTime>| t.map_or(Cell::Empty, |t| Cell::Decimal(secs(t)));
        let ns = |n: u128| {
            Cell::Decimal(secs(
                SimTime::from_nanos(n.min(u128::from(u64::MAX)) as u64),
            ))
        };
        for u in &self.upgrades {
            let row = vec![
                u.workload.as_str().into(),
                match u.strategy {
                    crate::upgrades::Strategy::Rolling => "rolling",
                    crate::upgrades::Strategy::RebuildInPlace => "rebuild-in-place",
                }
                .into(),
                u.desired.into(),
                u.max_surge.into(),
                u.max_unavailable.into(),
                at(u.started),
                at(u.finished),
                match (u.started, u.finished) {
                    (Some(s), Some(f)) => Cell::Decimal(secs(SimTime::ZERO + f.since(s))),
                    _ => Cell::Empty,
                },
                u.ready_at_start.into(),
                if u.started.is_some() {
                    u.min_ready.into()
                } else {
                    Cell::Empty
                },
                u.max_pods.into(),
                ns(u.below_desired_ns),
                ns(u.deficit_replica_ns),
                u.created.into(),
                u.deleted.into(),
                u.rebuilt.into(),
                u.volume_copies.into(),
                u.volume_reattached.into(),
                Cell::Float(u.copied_gib, 3),
            ];
            t.push(row).expect("upgrades row matches its header");
        }
        t
    }

    /// `pods.csv`: every pod, in submission order (built on demand: a study that reads only
    /// the summaries never pays for it).
    pub fn pods_table(&self) -> Table {
        let mut t = Table::new([
            "pod",
            "workload",
            "kind",
            "priority",
            "cpu_milli",
            "memory_mib",
            "gpu_milli",
            "state",
            "node",
            "submit_ms",
            "bind_ms",
            "bind_answered_ms",
            "start_ms",
            "finish_ms",
            "wait_ms",
            "attempts",
            "evictions",
            "last_failure",
            "job",
            "version",
        ]);
        for p in &self.records {
            let (workload, kind) = self
                .workload_kinds
                .get(p.workload)
                .map_or((p.spec.owner.as_str(), "trace"), |(n, k)| (n.as_str(), *k));
            let r: &Resources = &p.spec.requests;
            let row = vec![
                p.spec.name.as_str().into(),
                workload.into(),
                kind.into(),
                i64::from(p.spec.priority).into(),
                r.cpu_milli.into(),
                (r.memory_bytes / MIB).into(),
                r.gpu_milli.into(),
                p.state.name().into(),
                p.node
                    .map_or(Cell::Empty, |n| self.node_names[n.0].as_str().into()),
                time_ms(Some(p.submitted)),
                time_ms(p.bound),
                time_ms(p.bind_answered),
                time_ms(p.started),
                time_ms(p.finished),
                ms(p.bound.map(|b| b.since(p.queued))),
                u64::from(p.attempts).into(),
                u64::from(p.evictions).into(),
                match (&p.last_failure, p.state) {
                    (Some(f), PodState::Unschedulable) => f.as_str().into(),
                    _ => Cell::Empty,
                },
                (p.job as u64).into(),
                u64::from(p.version).into(),
            ];
            t.push(row).expect("pods row matches its header");
        }
        t
    }
}

/// Nearest-rank percentile of sorted values (the smallest value with at least `p`% at or below).
fn percentile(sorted: &[u64], p: u64) -> Option<SimDuration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    Some(SimDuration(sorted[rank - 1]))
}

/// `total / n` as a duration; `None` for no values.
fn mean_of(total: u128, n: u64) -> Option<SimDuration> {
    (n > 0).then(|| SimDuration((total / u128::from(n)).min(u128::from(u64::MAX)) as u64))
}

/// Mean of the durations; `None` for none.
fn mean_duration(v: impl Iterator<Item = SimDuration>) -> Option<SimDuration> {
    let (total, n) = v.fold((0u128, 0u64), |(t, n), d| {
        (t + u128::from(d.as_nanos()), n + 1)
    });
    mean_of(total, n)
}

fn vector_of(r: &Resources) -> [u64; 3] {
    [r.cpu_milli, r.memory_bytes, r.gpu_milli]
}

fn pct(part: u128, whole: u128) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

pub(crate) fn collect(sc: &Scenario, w: &mut World, end: SimTime, events: u64) -> RunResult {
    let upgrades = w.rollout_records(end);
    let autoscalers = w.autoscale_records();
    let links = w.link_records(end.as_secs_f64() / 3600.0);
    let (traffic, net) = match w.network_records() {
        Some((rows, totals)) => (rows, Some(totals)),
        None => (Vec::new(), None),
    };
    let provision = w.provision_totals(end);
    let jobs = w.job_totals();
    let count = |s: PodState| w.pods.iter().filter(|p| p.state == s).count() as u64;
    let mut waits: Vec<u64> = w
        .pods
        .iter()
        .filter_map(|p| p.bound.map(|b| b.since(p.queued).as_nanos()))
        .collect();
    waits.sort_unstable();

    let span = end.as_nanos() as u128;
    let mean = |i: usize| pct(w.requested_integral[i], w.capacity_integral[i]);
    // No bind ever counted a peak: none, over the capacity at the end.
    let cap = vector_of(&w.total_capacity);
    let peak = |i: usize| match w.util_peak[i] {
        (_, 0) => pct(0, cap[i] as u128),
        (v, c) => pct(v as u128, c as u128),
    };
    let cost = match &provision {
        Some(p) => Some((p.cost_on_demand + p.cost_spot, p.cost_spot)),
        None if sc.hosts.iter().any(|h| h.cost_per_hour > 0.0) => {
            let hours = end.as_nanos() as f64 / 3600e9;
            let of = |spot: bool| {
                sc.hosts
                    .iter()
                    .filter(|h| h.spot == spot)
                    .map(|h| h.count as f64 * h.cost_per_hour * hours)
                    .sum::<f64>()
            };
            Some((of(false) + of(true), of(true)))
        }
        None => None,
    };
    let finished = count(PodState::Finished);
    let running = count(PodState::Running);
    let starting = count(PodState::Starting);

    let workloads = workload_stats(sc, w);
    let schedulers = w.scheduler_stats(end);
    // The pods the time split is over: bound now, and never restarted in place, lost or
    // crashed (whose start is not their bind's).
    let split = || {
        w.pods.iter().filter(|p| {
            p.bound.is_some()
                && p.restarts_in_place == 0
                && p.losses == 0
                && p.crashes == 0
                && p.rebuilds == 0
        })
    };
    let api_totals = w.api.as_ref().map(|a| {
        a.stats().iter().fold((0u64, 0u128, 0u128), |(n, t, l), c| {
            (n + c.reads + c.writes, t + c.throttled_ns, l + c.latency_ns)
        })
    });
    let summary = Summary {
        scenario: sc.name.clone(),
        seed: sc.seed,
        algorithm: if sc.control_plane.schedulers.is_empty() {
            sc.scheduler.algorithm.clone()
        } else {
            let names: Vec<&str> = sc
                .control_plane
                .schedulers
                .iter()
                .map(|s| s.algorithm.as_str())
                .collect();
            format!("{}({})", sc.control_plane.kind.name(), names.join(","))
        },
        datapath: sc.datapath.to_string(),
        pod_mtu: sc.datapath.pod_mtu(sc.underlay_mtu),
        hosts: sc.host_count(),
        pods_submitted: w.pods.len() as u64,
        pods_scheduled: finished + running + starting,
        pods_finished: finished,
        pods_running: running,
        pods_starting: starting,
        pods_pending: count(PodState::Pending),
        pods_unschedulable: count(PodState::Unschedulable),
        pods_abandoned: count(PodState::Abandoned),
        evictions: w.evictions,
        pods_lost: count(PodState::Lost),
        pod_losses: w.pods_lost,
        pods_deleted: count(PodState::Deleted),
        pods_failed: count(PodState::Failed),
        jobs_succeeded: jobs.map(|j| j.0),
        jobs_failed: jobs.map(|j| j.1),
        job_duration_mean: jobs.and_then(|j| j.2),
        ip_exhaustions: w.addresses.as_ref().map(|a| a.exhaustions()),
        ips_reused: w.addresses.as_ref().map(|a| a.reused()),
        hosts_without_subnet: w.addresses.as_ref().map(|a| a.hosts_without_subnet),
        upgrade_duration_max: upgrades
            .iter()
            .filter_map(|u| Some(u.finished?.since(u.started?)))
            .max(),
        upgrades_unfinished: upgrades.iter().filter(|u| u.finished.is_none()).count() as u64,
        autoscale_actions: (!autoscalers.is_empty()).then(|| {
            autoscalers
                .iter()
                .map(|a| a.scale_ups + a.scale_downs)
                .sum()
        }),
        replicas_mean: (!autoscalers.is_empty() && span > 0).then(|| {
            autoscalers.iter().map(|a| a.ready_replica_s).sum::<f64>() / end.as_secs_f64()
        }),
        overloaded: (!autoscalers.is_empty()).then(|| {
            SimDuration::try_from_secs_f64(autoscalers.iter().map(|a| a.overloaded_s).sum())
                .unwrap_or_default()
        }),
        upgrade_below_desired: (!upgrades.is_empty()).then(|| {
            SimDuration(
                upgrades
                    .iter()
                    .map(|u| u.below_desired_ns)
                    .sum::<u128>()
                    .min(u128::from(u64::MAX)) as u64,
            )
        }),
        restarts_in_place: w.restarts_in_place,
        restarts_completed: w.restarts_completed,
        image_pulls: w.image_pulls,
        recovery_max: w
            .outages
            .iter()
            .filter_map(|o| o.recovered.map(|r| r.since(o.down)))
            .max(),
        outages_unrecovered: w
            .outages
            .iter()
            .filter(|o| o.pods_lost > 0 && o.recovered.is_none())
            .count() as u64,
        crashes: w.crashes,
        crash_reschedules: w.crash_reschedules,
        crash_recovery_mean: (w.crash_recoveries > 0)
            .then(|| SimDuration((w.crash_recovery_ns / u128::from(w.crash_recoveries)) as u64)),
        time_scheduler_mean: mean_duration(split().filter_map(|p| Some(p.bound?.since(p.queued)))),
        // A Bind still waiting at the end counts until the end.
        time_api_bind_mean: w.api.as_ref().and_then(|_| {
            mean_duration(
                split().filter_map(|p| Some(p.bind_answered.unwrap_or(end).since(p.bound?))),
            )
        }),
        time_kubelet_mean: mean_duration(split().filter_map(|p| {
            let from = p.bind_answered.or(p.bound)?;
            Some(p.started?.since(from))
        })),
        api_requests: api_totals.map(|t| t.0),
        api_throttled_mean: api_totals.and_then(|t| mean_of(t.1, t.0)),
        api_latency_mean: api_totals.and_then(|t| mean_of(t.2, t.0)),
        etcd_busy_pct: w.api.as_ref().and_then(|a| pct(a.etcd_busy_ns(end), span)),
        net_requests_per_s: net.as_ref().and_then(|n| n.requests_per_s),
        net_served_pct: net.as_ref().and_then(|n| n.served_pct),
        net_failed_pct: net.as_ref().and_then(|n| n.failed_pct),
        net_cross_host_pct: net.as_ref().and_then(|n| n.cross_host_pct),
        net_cross_site_pct: net.as_ref().and_then(|n| n.cross_site_pct),
        net_gbit_s: net.as_ref().and_then(|n| n.gbit_s),
        net_latency_p99_us: net.as_ref().and_then(|n| n.latency_p99_us),
        net_cpu_cores: net.as_ref().map(|n| n.cpu_cores),
        net_cpu_hosts: net.as_ref().and_then(|n| n.cpu_hosts),
        pod_cpu_starved_pct: net.as_ref().and_then(|n| n.pod_cpu_starved_pct),
        wait_p50: percentile(&waits, 50),
        wait_p95: percentile(&waits, 95),
        wait_p99: percentile(&waits, 99),
        wait_max: waits.last().map(|&w| SimDuration(w)),
        cpu_util_mean_pct: mean(0),
        cpu_util_peak_pct: peak(0),
        mem_util_mean_pct: mean(1),
        mem_util_peak_pct: peak(1),
        gpu_util_mean_pct: mean(2),
        gpu_util_peak_pct: peak(2),
        hosts_mean: provision.map(|p| p.hosts_mean),
        hosts_peak: provision.map(|p| p.hosts_peak),
        hosts_launched: provision.map(|p| p.launches),
        hosts_removed: provision.map(|p| p.removals),
        spot_interruptions: provision.map(|p| p.interruptions),
        pods_drained: provision.map(|p| p.drained),
        cost: cost.map(|c| c.0),
        cost_spot: cost.map(|c| c.1),
        cost_transfer: (!links.is_empty()).then(|| links.iter().map(|l| l.cost).sum()),
        scheduler_busy_pct: pct(w.busiest_booked_ns().min(end.as_nanos()) as u128, span)
            .unwrap_or(0.0),
        sim_time: end,
        events,
        digest: w.digest.hex(),
    };
    RunResult {
        summary,
        node_names: w.cluster.nodes().iter().map(|n| n.name.clone()).collect(),
        host_groups: sc.hosts.iter().map(|h| h.name.clone()).collect(),
        workload_kinds: sc
            .workloads
            .iter()
            .map(|w| {
                let kind = match w.kind {
                    WorkloadKind::Service => "service",
                    WorkloadKind::Batch { .. } => "batch",
                };
                (w.name.clone(), kind)
            })
            .collect(),
        timeseries: timeseries_table(w),
        fragmentation: sc
            .observers
            .gpu_fragmentation
            .then(|| fragmentation_table(w)),
        gpu_steps: w.gpu_steps.clone(),
        records: std::mem::take(&mut w.pods),
        jobs: std::mem::take(&mut w.jobs),
        workloads_table: workloads_table(&workloads),
        workloads,
        schedulers_table: schedulers_table(&schedulers, end),
        schedulers,
        shares: sc.observers.dominant_shares.then(|| shares_table(sc, w)),
        share_samples: if sc.observers.dominant_shares {
            w.samples
                .iter()
                .map(|s| (s.time, s.dominant_shares.clone()))
                .collect()
        } else {
            Vec::new()
        },
        audit_error: w.audit_error.clone(),
        outages: std::mem::take(&mut w.outages),
        upgrades,
        autoscalers,
        traffic,
        links,
        provisioning: w.provision.as_mut().map(|p| std::mem::take(&mut p.records)),
        address_scopes: w.addresses.as_ref().map_or_else(Vec::new, |a| {
            let nodes: Vec<String> = w.cluster.nodes().iter().map(|n| n.name.clone()).collect();
            let names: Vec<String> = sc.workloads.iter().map(|x| x.name.clone()).collect();
            a.scopes(&nodes, &names)
        }),
        ip_leases: w
            .addresses
            .as_mut()
            .map_or_else(Vec::new, |a| std::mem::take(&mut a.leases)),
        api_clients: w.api.as_ref().map(|a| {
            crate::world::CLIENT_KINDS
                .iter()
                .copied()
                .zip(a.stats().iter().cloned())
                .collect()
        }),
    }
}

fn ms(d: Option<SimDuration>) -> Cell {
    d.map_or(Cell::Empty, |d| Cell::Decimal(d.to_ms_string()))
}

fn time_ms(t: Option<SimTime>) -> Cell {
    t.map_or(Cell::Empty, |t| Cell::Decimal(t.to_ms_string()))
}

fn percent(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, |v| Cell::Float(v, 3))
}

/// `summary.csv` columns, in order.
const SUMMARY_COLUMNS: &[&str] = &[
    "scenario",
    "seed",
    "algorithm",
    "datapath",
    "pod_mtu_bytes",
    "hosts",
    "pods_submitted",
    "pods_scheduled",
    "pods_finished",
    "pods_running",
    "pods_starting",
    "pods_pending",
    "pods_unschedulable",
    "pods_abandoned",
    "evictions",
    "pods_lost",
    "pod_losses",
    "pods_deleted",
    "pods_failed",
    "jobs_succeeded",
    "jobs_failed",
    "job_duration_mean_ms",
    "upgrade_duration_max_ms",
    "upgrade_below_desired_ms",
    "upgrades_unfinished",
    "autoscale_actions",
    "replicas_mean",
    "overloaded_ms",
    "ip_exhaustions",
    "ips_reused",
    "hosts_without_subnet",
    "hosts_mean",
    "hosts_peak",
    "hosts_launched",
    "hosts_removed",
    "spot_interruptions",
    "pods_drained",
    "cost",
    "cost_spot",
    "cost_transfer",
    "restarts_in_place",
    "restarts_completed",
    "image_pulls",
    "recovery_max_ms",
    "outages_unrecovered",
    "crashes",
    "crash_reschedules",
    "crash_recovery_mean_ms",
    "time_scheduler_mean_ms",
    "time_api_bind_mean_ms",
    "time_kubelet_mean_ms",
    "api_requests",
    "api_throttled_mean_ms",
    "api_latency_mean_ms",
    "etcd_busy_pct",
    "net_requests_per_s",
    "net_served_pct",
    "net_failed_pct",
    "net_cross_host_pct",
    "net_cross_site_pct",
    "net_gbit_s",
    "net_latency_p99_us",
    "net_cpu_cores",
    "net_cpu_hosts",
    "pod_cpu_starved_pct",
    "wait_p50_ms",
    "wait_p95_ms",
    "wait_p99_ms",
    "wait_max_ms",
    "cpu_util_mean_pct",
    "cpu_util_peak_pct",
    "mem_util_mean_pct",
    "mem_util_peak_pct",
    "gpu_util_mean_pct",
    "gpu_util_peak_pct",
    "scheduler_busy_pct",
    "sim_time_s",
    "events",
    "digest",
];

impl Summary {
    /// The column names of [`Summary::table`].
    pub fn columns() -> &'static [&'static str] {
        SUMMARY_COLUMNS
    }

    /// The one-row `summary.csv` table. Only deterministic values: wall-clock numbers belong
    /// to the caller.
    pub fn table(&self) -> Table {
        let mut t = Table::new(Self::columns().iter().copied());
        let row = vec![
            self.scenario.as_str().into(),
            self.seed.into(),
            self.algorithm.as_str().into(),
            self.datapath.as_str().into(),
            u64::from(self.pod_mtu).into(),
            self.hosts.into(),
            self.pods_submitted.into(),
            self.pods_scheduled.into(),
            self.pods_finished.into(),
            self.pods_running.into(),
            self.pods_starting.into(),
            self.pods_pending.into(),
            self.pods_unschedulable.into(),
            self.pods_abandoned.into(),
            self.evictions.into(),
            self.pods_lost.into(),
            self.pod_losses.into(),
            self.pods_deleted.into(),
            self.pods_failed.into(),
            self.jobs_succeeded.map_or(Cell::Empty, Cell::from),
            self.jobs_failed.map_or(Cell::Empty, Cell::from),
            ms(self.job_duration_mean),
            ms(self.upgrade_duration_max),
            ms(self.upgrade_below_desired),
            self.upgrades_unfinished.into(),
            self.autoscale_actions.map_or(Cell::Empty, Cell::from),
            self.replicas_mean
                .map_or(Cell::Empty, |v| Cell::Float(v, 3)),
            ms(self.overloaded),
            self.ip_exhaustions.map_or(Cell::Empty, Cell::from),
            self.ips_reused.map_or(Cell::Empty, Cell::from),
            self.hosts_without_subnet.map_or(Cell::Empty, Cell::from),
            self.hosts_mean.map_or(Cell::Empty, |v| Cell::Float(v, 3)),
            self.hosts_peak.map_or(Cell::Empty, Cell::from),
            self.hosts_launched.map_or(Cell::Empty, Cell::from),
            self.hosts_removed.map_or(Cell::Empty, Cell::from),
            self.spot_interruptions.map_or(Cell::Empty, Cell::from),
            self.pods_drained.map_or(Cell::Empty, Cell::from),
            self.cost.map_or(Cell::Empty, |v| Cell::Float(v, 4)),
            self.cost_spot.map_or(Cell::Empty, |v| Cell::Float(v, 4)),
            self.cost_transfer
                .map_or(Cell::Empty, |v| Cell::Float(v, 4)),
            self.restarts_in_place.into(),
            self.restarts_completed.into(),
            self.image_pulls.into(),
            ms(self.recovery_max),
            self.outages_unrecovered.into(),
            self.crashes.into(),
            self.crash_reschedules.into(),
            ms(self.crash_recovery_mean),
            ms(self.time_scheduler_mean),
            ms(self.time_api_bind_mean),
            ms(self.time_kubelet_mean),
            self.api_requests.map_or(Cell::Empty, Cell::from),
            ms(self.api_throttled_mean),
            ms(self.api_latency_mean),
            percent(self.etcd_busy_pct),
            self.net_requests_per_s
                .map_or(Cell::Empty, |v| Cell::Float(v, 3)),
            percent(self.net_served_pct),
            percent(self.net_failed_pct),
            percent(self.net_cross_host_pct),
            percent(self.net_cross_site_pct),
            self.net_gbit_s.map_or(Cell::Empty, |v| Cell::Float(v, 6)),
            self.net_latency_p99_us
                .map_or(Cell::Empty, |v| Cell::Float(v, 3)),
            self.net_cpu_cores
                .map_or(Cell::Empty, |v| Cell::Float(v, 6)),
            self.net_cpu_hosts
                .map_or(Cell::Empty, |v| Cell::Float(v, 6)),
            percent(self.pod_cpu_starved_pct),
            ms(self.wait_p50),
            ms(self.wait_p95),
            ms(self.wait_p99),
            ms(self.wait_max),
            percent(self.cpu_util_mean_pct),
            percent(self.cpu_util_peak_pct),
            percent(self.mem_util_mean_pct),
            percent(self.mem_util_peak_pct),
            percent(self.gpu_util_mean_pct),
            percent(self.gpu_util_peak_pct),
            Cell::Float(self.scheduler_busy_pct, 3),
            Cell::Decimal(secs(self.sim_time)),
            self.events.into(),
            self.digest.as_str().into(),
        ];
        // The row is built beside the header above; a mismatch is a bug caught by tests.
        t.push(row).expect("summary row matches its header");
        t
    }
}

/// Exact decimal seconds with nanosecond resolution.
fn secs(t: SimTime) -> String {
    format!(
        "{}.{:09}",
        t.as_nanos() / 1_000_000_000,
        t.as_nanos() % 1_000_000_000
    )
}

/// `fragmentation.csv`: per sample, GPU allocated, idle and fragmented (the study's measure,
/// as a share of capacity and of idle GPU).
fn fragmentation_table(w: &World) -> Table {
    let mut t = Table::new([
        "time_s",
        "gpu_alloc_pct",
        "gpu_idle_milli",
        "gpu_fragment_milli",
        "gpu_fragment_pct",
        "gpu_fragment_of_idle_pct",
    ]);
    for s in &w.samples {
        let Some(fragment) = s.gpu_fragment_milli else {
            continue;
        };
        let cap = s.capacity.gpu_milli;
        let used = s.requested.gpu_milli;
        let idle = cap.saturating_sub(used);
        let of = |part: f64, whole: u64| (whole > 0).then(|| part * 100.0 / whole as f64);
        let row = vec![
            Cell::Decimal(secs(s.time)),
            percent(of(used as f64, cap)),
            idle.into(),
            Cell::Float(fragment, 1),
            percent(of(fragment, cap)),
            // No idle GPU, no fragment (the study writes 0 where the ratio is 0/0).
            percent(Some(of(fragment, idle).unwrap_or(0.0))),
        ];
        t.push(row).expect("fragmentation row matches its header");
    }
    t
}

fn timeseries_table(w: &World) -> Table {
    let mut t = Table::new([
        "time_s",
        "cpu_requested_milli",
        "memory_requested_mib",
        "gpu_requested_milli",
        "cpu_alloc_pct",
        "memory_alloc_pct",
        "gpu_alloc_pct",
        "pods_running",
        "pods_pending",
        "hosts",
    ]);
    for s in &w.samples {
        let (r, cap) = (&s.requested, &s.capacity);
        let row = vec![
            Cell::Decimal(secs(s.time)),
            r.cpu_milli.into(),
            (r.memory_bytes / MIB).into(),
            r.gpu_milli.into(),
            percent(pct(r.cpu_milli as u128, cap.cpu_milli as u128)),
            percent(pct(r.memory_bytes as u128, cap.memory_bytes as u128)),
            percent(pct(r.gpu_milli as u128, cap.gpu_milli as u128)),
            s.pods_running.into(),
            s.pods_pending.into(),
            s.hosts.into(),
        ];
        t.push(row).expect("timeseries row matches its header");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank definition: the value at rank ceil(p/100 × n).
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(SimDuration(50)));
        assert_eq!(percentile(&v, 99), Some(SimDuration(99)));
        assert_eq!(percentile(&[7], 99), Some(SimDuration(7)));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(SimDuration(2)));
        assert_eq!(percentile(&[], 50), None);
    }
}
