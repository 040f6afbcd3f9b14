//! The simulator's promises (DESIGN.md §3), checked over random clusters and workloads:
//! determinism, no overcommit, every pod accounted for, time never going backwards.

use std::collections::BTreeMap;

use orchsim_kernel::SimDuration;
use orchsim_net::{Base, Datapath};
use orchsim_sched::mesos::marathon::Constraint;
use orchsim_sched::Resources;
use orchsim_sim::control_plane::{
    ConflictMode, ControlPlane, ControlPlaneKind, SchedulerSpec, SharedState, Transaction, TwoLevel,
};
use orchsim_sim::curve::Rate;
use orchsim_sim::dist::Dist;
use orchsim_sim::faults::{Fault, FaultTiming};
use orchsim_sim::scenario::{
    DecisionCost, HostGroup, Observers, Priorities, Retry, SchedulerConfig, Tasks, TracePod,
    TraceReplay, Workload, WorkloadKind,
};
use orchsim_sim::{run, PodState, RunResult, Scenario};
use proptest::prelude::*;

const MIB: u64 = 1024 * 1024;

fn host_group(i: usize, count: u64, cpu: u64, mem_mib: u64, gpus: u64, pods: u64) -> HostGroup {
    HostGroup {
        name: format!("g{i}"),
        count,
        capacity: Resources {
            cpu_milli: cpu,
            memory_bytes: mem_mib * MIB,
            gpu_milli: gpus * 1000,
            ephemeral_storage_bytes: 0,
            pods,
        },
        site: "dc".into(),
        labels: BTreeMap::new(),
        // Two GPU models, so model constraints have something to choose between.
        gpu_model: (gpus > 0).then(|| if i.is_multiple_of(2) { "A" } else { "B" }.to_string()),
        cost_per_hour: 0.0,
        scaling: None,
        spot: false,
    }
}

#[allow(clippy::too_many_arguments)]
fn workload(
    i: usize,
    batch: bool,
    rate: f64,
    cpu_max: u64,
    mem_max: u64,
    gpu_max: u64,
    dur_s: f64,
) -> Workload {
    Workload {
        name: format!("w{i}"),
        kind: if batch {
            WorkloadKind::Batch {
                duration_s: Dist::Exponential { mean: dur_s },
            }
        } else {
            WorkloadKind::Service
        },
        arrival_rate_per_s: Rate::Constant(rate),
        max_pods: None,
        start: SimDuration::ZERO,
        cpu_milli: Dist::Uniform {
            min: 1.0,
            max: cpu_max as f64,
        },
        memory_mib: Dist::Uniform {
            min: 1.0,
            max: mem_max as f64,
        },
        gpu_milli: Dist::Choice {
            values: vec![0.0, gpu_max as f64],
            weights: vec![3.0, 1.0],
        },
        gpu_models: Vec::new(),
        labels: BTreeMap::new(),
        priority: Priorities::fixed(0),
        tasks: Tasks::SINGLE,
        constraints: Vec::new(),
        cost: None,
        node_selector: BTreeMap::new(),
        namespace: "default".into(),
        image_mib: 0.0,
        job: None,
        restart_policy: orchsim_sim::scenario::RestartPolicy::OnFailure,
    }
}

fn scenario(hosts: Vec<HostGroup>, workloads: Vec<Workload>, seed: u64, t_job_ms: u64) -> Scenario {
    scenario_with(hosts, workloads, seed, t_job_ms, "first-fit")
}

fn scenario_with(
    hosts: Vec<HostGroup>,
    workloads: Vec<Workload>,
    seed: u64,
    t_job_ms: u64,
    algorithm: &str,
) -> Scenario {
    Scenario {
        // Half the cases also measure GPU fragmentation, which must change nothing else.
        observers: Observers {
            gpu_fragmentation: seed.is_multiple_of(2),
            gpu_fragmentation_per_decision: seed % 4 == 1,
            dominant_shares: seed.is_multiple_of(3),
            gpu_typical: None,
        },
        control_plane: ControlPlane::default(),
        retry: None,
        trace_nodes: Vec::new(),
        trace: None,
        name: "prop".into(),
        description: String::new(),
        seed,
        duration: SimDuration::from_secs(600),
        sample_interval: SimDuration::from_secs(7),
        hosts,
        workloads,
        scheduler: SchedulerConfig {
            algorithm: algorithm.into(),
            profile: None,
            // t_job_ms = 0 gives instantaneous decisions: many events share one instant, which
            // is where a scheduler that retries without time advancing would hang.
            cost: DecisionCost {
                t_job: SimDuration::from_millis(t_job_ms),
                t_task: SimDuration::from_millis(t_job_ms.min(1)),
                t_node: SimDuration::from_micros(t_job_ms.min(1)),
            },
        },
        start_latency_s: Dist::Uniform { min: 0.0, max: 2.0 },
        datapath: Datapath::plain(Base::Host),
        underlay_mtu: 1500,
        net_platform: orchsim_net::Profile::default_profile().default_platform,
        agents: None,
        traffic: Vec::new(),
        links: Vec::new(),
        policies: None,
        proxy: orchsim_net::service_proxy::Mode::Iptables,
        services: 1,
        max_events: u64::MAX,
        lifecycle: None,
        faults: Vec::new(),
        registry_mbit_s: orchsim_sim::scenario::DEFAULT_REGISTRY_MBIT_S,
        api_server: None,
        upgrades: Vec::new(),
        ipam: None,
        autoscalers: Vec::new(),
        provisioning: None,
    }
}

/// Replays binds and finishes in event-log order and checks every node's requests against its
/// capacity after each bind, and every GPU device: never more than 1000 milli, whole-device
/// pods alone on theirs, shares on one device, an accepted model. Independent of the
/// simulator's own bookkeeping.
fn assert_no_overcommit(sc: &Scenario, r: &RunResult) -> Result<(), TestCaseError> {
    let models: Vec<Option<String>> = sc
        .hosts
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.gpu_model.clone(), g.count as usize))
        .collect();
    let caps: Vec<Resources> = sc
        .hosts
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.capacity, g.count as usize))
        .collect();
    prop_assert_eq!(caps.len(), r.node_names.len());
    // (event index, order, pod, node, devices); order 1 is a bind, anything else a release.
    // Within one event releases come before binds (an eviction frees room for the
    // preemptor), except a placement's own release: a pod bound and let go in the same event
    // (a Job that ended while its pods were being decided deletes them at once) is released
    // after its bind.
    let mut log = Vec::new();
    for (i, p) in r.records.iter().enumerate() {
        for pl in &p.placements {
            log.push((pl.bound_event, 1i8, i, pl.node.0, &pl.devices));
            if let Some(e) = pl.released_event {
                let order = if e == pl.bound_event { 2 } else { -1 };
                log.push((e, order, i, pl.node.0, &pl.devices));
            }
        }
    }
    log.sort_by_key(|&(e, order, i, _, _)| (e, order, i));
    let mut used = vec![Resources::ZERO; caps.len()];
    let mut device_use: Vec<Vec<u64>> = caps
        .iter()
        .map(|c| vec![0; (c.gpu_milli / 1000) as usize])
        .collect();
    for (_, order, i, n, devices) in log {
        let p = &r.records[i];
        let gpu = p.spec.requests.gpu_milli;
        // A share sits on one device; k whole devices are k devices of 1000 each.
        let per_device = if gpu < 1000 { gpu } else { 1000 };
        if order == 1 {
            used[n] = used[n].saturating_add(&p.spec.requests);
            prop_assert!(
                used[n].fits(&caps[n]),
                "node {} overcommitted: {:?} > {:?}",
                r.node_names[n],
                used[n],
                caps[n]
            );
            let want = if gpu == 0 {
                0
            } else {
                gpu.div_ceil(1000) as usize
            };
            prop_assert_eq!(
                devices.len(),
                want,
                "pod {} holds the wrong device count",
                p.spec.name
            );
            // Models restrict the devices a pod takes; a pod that drew no GPU takes none.
            if gpu > 0 && !p.spec.gpu_models.is_empty() {
                prop_assert!(models[n]
                    .as_ref()
                    .is_some_and(|m| p.spec.gpu_models.contains(m)));
            }
            for &d in devices {
                let slot = &mut device_use[n][d as usize];
                *slot += per_device;
                prop_assert!(
                    *slot <= 1000,
                    "device {} of {} overcommitted",
                    d,
                    r.node_names[n]
                );
            }
        } else {
            used[n] = used[n].saturating_sub(&p.spec.requests);
            for &d in devices {
                device_use[n][d as usize] -= per_device;
            }
        }
    }
    Ok(())
}

/// Pods of one job under `hostname UNIQUE`, placed by `marathon`, never share a node at the
/// same time; the allocator's books always balance.
fn assert_constraints_and_audit(sc: &Scenario, r: &RunResult) -> Result<(), TestCaseError> {
    prop_assert_eq!(&r.audit_error, &None);
    let marathon = |workload: usize| {
        let name = &sc.workloads[workload].name;
        match sc
            .control_plane
            .schedulers
            .iter()
            .find(|s| s.workloads.contains(name))
        {
            Some(s) => s.algorithm == "marathon",
            None => sc.scheduler.algorithm == "marathon",
        }
    };
    for job in &r.jobs {
        let unique = sc
            .workloads
            .get(job.workload)
            .is_some_and(|w| !w.constraints.is_empty());
        if !unique || !marathon(job.workload) {
            continue;
        }
        let stays: Vec<_> = job
            .pods
            .iter()
            .flat_map(|&p| r.records[p].placements.iter().map(move |s| (p, s)))
            .collect();
        for (i, (p, a)) in stays.iter().enumerate() {
            for (q, b) in &stays[i + 1..] {
                let overlap = a.bound_event < b.released_event.unwrap_or(u64::MAX)
                    && b.bound_event < a.released_event.unwrap_or(u64::MAX);
                prop_assert!(
                    p == q || a.node != b.node || !overlap,
                    "pods {} and {} of one UNIQUE job share node {:?}",
                    p,
                    q,
                    a.node
                );
            }
        }
    }
    Ok(())
}

fn assert_accounted(r: &RunResult) -> Result<(), TestCaseError> {
    let s = &r.summary;
    prop_assert_eq!(s.pods_submitted as usize, r.records.len());
    prop_assert_eq!(
        s.pods_finished
            + s.pods_running
            + s.pods_starting
            + s.pods_pending
            + s.pods_unschedulable
            + s.pods_abandoned
            + s.pods_lost
            + s.pods_deleted
            + s.pods_failed,
        s.pods_submitted
    );
    prop_assert_eq!(
        s.pods_scheduled,
        s.pods_finished + s.pods_running + s.pods_starting
    );
    for p in &r.records {
        // Each state has exactly the timestamps it implies, in order.
        let ok = match p.state {
            PodState::Pending | PodState::Unschedulable => p.bound.is_none() && p.node.is_none(),
            PodState::Starting => p.bound.is_some() && p.started.is_none(),
            PodState::Running => p.started.is_some() && p.finished.is_none(),
            PodState::Finished => p.finished.is_some(),
            PodState::Abandoned => p.bound.is_none() && p.node.is_none(),
            PodState::Lost => {
                p.bound.is_some() && p.node.is_some() && p.started.is_none() && p.losses > 0
            }
            PodState::Deleted => p.finished.is_some() && p.version == 0,
            PodState::Failed => p.finished.is_some() && p.started.is_some(),
        };
        prop_assert!(
            ok,
            "pod {} in state {:?} has inconsistent times",
            p.spec.name,
            p.state
        );
        let times = [Some(p.submitted), p.bound, p.started, p.finished];
        let present: Vec<_> = times.iter().flatten().collect();
        for w in present.windows(2) {
            prop_assert!(
                w[0] <= w[1],
                "pod {} times go backwards: {:?}",
                p.spec.name,
                times
            );
        }
        prop_assert!(p.finished.is_none_or(|f| f <= r.summary.sim_time));
    }
    Ok(())
}

/// Control plane `kind` (see [`arb_scenario`]) with workloads (and the trace) split between
/// two schedulers, `a` and `b`.
fn control_plane(sc: &Scenario, kind: u8, a: &str, b: &str) -> ControlPlane {
    let kind = match kind {
        0 => return ControlPlane::default(),
        1 | 2 => ControlPlaneKind::TwoLevel(TwoLevel {
            allocation_interval: SimDuration::from_secs(1),
            refuse: SimDuration::from_secs(5),
            accept_refuse: SimDuration::ZERO,
            whole_cell: kind == 2,
            offer_timeout: (kind == 2).then(|| SimDuration::from_secs(3)),
        }),
        3 => ControlPlaneKind::SharedState(SharedState {
            conflict: ConflictMode::Coarse,
            transaction: Transaction::Incremental,
        }),
        _ => ControlPlaneKind::SharedState(SharedState {
            conflict: ConflictMode::Fine,
            transaction: Transaction::AllOrNothing,
        }),
    };
    let paths: Vec<String> = sc
        .workloads
        .iter()
        .map(|w| w.name.clone())
        .chain(sc.trace.as_ref().map(|t| t.name.clone()))
        .collect();
    if paths.is_empty() {
        return ControlPlane::default();
    }
    let mut schedulers: Vec<SchedulerSpec> = [("a", a), ("b", b)]
        .iter()
        .enumerate()
        .map(|(i, (name, algorithm))| SchedulerSpec {
            name: name.to_string(),
            algorithm: algorithm.to_string(),
            profile: None,
            cost: sc.scheduler.cost,
            workloads: paths.iter().skip(i).step_by(2).cloned().collect(),
        })
        .collect();
    schedulers.retain(|s| !s.workloads.is_empty());
    ControlPlane { kind, schedulers }
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    let hosts = prop::collection::vec(
        (0u64..6, 500u64..16_000, 256u64..65_536, 0u64..4, 1u64..20),
        1..4,
    );
    let workloads = prop::collection::vec(
        (
            any::<bool>(),
            0.05f64..5.0,
            100u64..4000,
            64u64..8192,
            // No GPU, a share of one device, or one or two whole devices.
            prop_oneof![Just(0u64), 1u64..1000, Just(1000u64), Just(2000u64)],
            1.0f64..300.0,
            any::<bool>(),
        ),
        0..4,
    );
    let algorithm = prop::sample::select(orchsim_sched::ALGORITHMS);
    let priorities = prop::collection::vec(0i32..3, 4);
    // Replayed pods: arrival gap (s), cpu, GPU, and a duration or none (runs to the end).
    let trace = prop::collection::vec(
        (
            0u64..60,
            100u64..4000,
            prop_oneof![Just(0u64), 1u64..1000, Just(1000u64)],
            prop::option::of(1u64..300),
        ),
        0..12,
    );
    // Control plane: 0 monolithic, 1–2 two-level (per agent, whole cell), 3–4 shared state
    // (coarse + incremental, fine + all-or-nothing); a second scheduler; pods per job; retry.
    let plane = (
        0u8..5,
        prop::sample::select(orchsim_sched::ALGORITHMS),
        1u32..4,
        any::<bool>(),
        any::<bool>(),
    );
    (
        hosts,
        workloads,
        any::<u64>(),
        prop_oneof![Just(0u64), 0u64..50],
        algorithm,
        priorities,
        trace,
        plane,
    )
        .prop_map(|(h, w, seed, t_job, algo, prio, trace, plane)| {
            let (kind, algo2, tasks_max, retry, unique) = plane;
            let mut hosts: Vec<HostGroup> = h
                .iter()
                .enumerate()
                .map(|(i, &(count, cpu, mem, gpus, pods))| {
                    host_group(i, count, cpu, mem, gpus, pods)
                })
                .collect();
            if hosts.iter().all(|g| g.count == 0) {
                hosts[0].count = 1;
            }
            let workloads = w
                .iter()
                .enumerate()
                .map(|(i, &(batch, rate, cpu, mem, gpu, dur, only_a))| Workload {
                    priority: Priorities::fixed(prio[i]),
                    gpu_models: if only_a && gpu > 0 {
                        vec!["A".into()]
                    } else {
                        vec![]
                    },
                    tasks: Tasks::Range(1, tasks_max),
                    constraints: if unique && i == 0 {
                        vec![Constraint::parse(&["hostname", "UNIQUE"]).unwrap()]
                    } else {
                        Vec::new()
                    },
                    ..workload(i, batch, rate, cpu, mem, gpu, dur)
                })
                .collect();
            let mut sc = scenario_with(hosts, workloads, seed, t_job, algo);
            let mut at = 0;
            let pods: Vec<TracePod> = trace
                .iter()
                .enumerate()
                .map(|(i, &(gap, cpu, gpu, secs))| {
                    at += gap;
                    TracePod {
                        name: format!("trace-{i}"),
                        requests: Resources {
                            cpu_milli: cpu,
                            memory_bytes: 64 * MIB,
                            gpu_milli: gpu,
                            pods: 1,
                            ..Resources::ZERO
                        },
                        priority: 0,
                        spec: None,
                        node: None,
                        deleted_at: None,
                        gpu_models: Vec::new(),
                        arrival: SimDuration::from_secs(at),
                        run_for: secs.map(SimDuration::from_secs),
                    }
                })
                .collect();
            if !pods.is_empty() {
                sc.trace = Some(TraceReplay {
                    name: "trace".into(),
                    pods: std::sync::Arc::new(pods),
                });
            }
            if retry {
                sc.retry = Some(Retry {
                    after: SimDuration::from_secs(1),
                    max_attempts: 20,
                    max_attempts_without_progress: 5,
                });
            }
            sc.control_plane = control_plane(&sc, kind, algo, algo2);
            // One case in two with workloads: the first calls the last over Calico, so the
            // traffic follows pods through failures, evictions and restarts.
            if seed % 2 == 0 && !sc.workloads.is_empty() {
                sc.datapath = "calico-bgp".parse().unwrap();
                sc.traffic = vec![orchsim_sim::traffic::Traffic {
                    // One case in eight from outside, through the routing mesh.
                    from: if seed % 8 == 6 {
                        orchsim_sim::traffic::Caller::Outside(orchsim_sim::traffic::Entry::Cluster)
                    } else {
                        orchsim_sim::traffic::Caller::Workload(0)
                    },
                    to: sc.workloads.len() - 1,
                    requests_per_s: 1000.0 + (seed % 7) as f64 * 5000.0,
                    request_bytes: 600,
                    response_bytes: 9000,
                    port: 80,
                    protocol: orchsim_net::policy::Protocol::Tcp,
                    // Half of them a connection per call, through iptables or nftables.
                    new_connection: seed % 4 == 0,
                    verdict: None,
                }];
                sc.services = 1 + seed % 20_000;
                if seed % 3 == 0 {
                    sc.proxy = orchsim_net::service_proxy::Mode::Nftables;
                }
            }
            // One case in four: pod addresses from /28 host subnets (13 pods each), which
            // full hosts exhaust.
            if seed % 4 == 3 {
                sc.ipam = Some(orchsim_sim::ipam::Ipam {
                    cluster: std::net::Ipv4Addr::new(10, 244, 0, 0),
                    cluster_prefix: 16,
                    host_prefix: 28,
                    pools: BTreeMap::new(),
                });
            }
            // One case in three outside Mesos: the control plane modeled, with limits tight
            // enough that clients wait for tokens and requests for seats.
            if seed % 3 == 1 && !matches!(sc.control_plane.kind, ControlPlaneKind::TwoLevel(_)) {
                let up = orchsim_sim::api_server::ApiConfig::upstream();
                let tight = orchsim_sim::api_server::Limit {
                    qps: Some(5.0),
                    burst: 2,
                };
                sc.api_server = Some(orchsim_sim::api_server::ApiConfig {
                    scheduler: tight,
                    controller: tight,
                    kubelet: tight,
                    max_mutating_inflight: 2,
                    max_requests_inflight: 1,
                    watch_cache: seed % 2 == 0,
                    ..up
                });
            }
            // Four cases in five: hosts fail at random (each about every 300 s, back after
            // 20–120 s) under one of the presets, and the first workload pulls an image and
            // crashes.
            if seed % 5 != 0 {
                let preset = ["kubernetes", "swarm", "mesos-marathon"][(seed / 5 % 3) as usize];
                sc.lifecycle = orchsim_sim::orchestrator::Lifecycle::builtin(preset);
                sc.faults = vec![Fault {
                    name: "wear".into(),
                    workload: None,
                    registry_mbit_s: None,
                    partition: false,
                    spot_reclaim: false,
                    hosts: Vec::new(),
                    labels: BTreeMap::new(),
                    site: None,
                    timing: FaultTiming::Random {
                        mtbf: SimDuration::from_secs(300),
                        mttr_s: Dist::Uniform {
                            min: 20.0,
                            max: 120.0,
                        },
                    },
                }];
                if let Some(w) = sc.workloads.first_mut() {
                    w.image_mib = 100.0;
                    // Under each restart policy: crashed pods fail (`Never`), completed ones
                    // start again (`Always`).
                    w.restart_policy = [
                        orchsim_sim::scenario::RestartPolicy::OnFailure,
                        orchsim_sim::scenario::RestartPolicy::Never,
                        orchsim_sim::scenario::RestartPolicy::Always,
                    ][(seed / 15 % 3) as usize];
                    // Sometimes a batch workload of Kubernetes Jobs, whose failed pods the
                    // Job controller replaces.
                    if matches!(w.kind, WorkloadKind::Batch { .. }) && seed % 2 == 0 {
                        w.restart_policy = orchsim_sim::scenario::RestartPolicy::Never;
                        w.job = Some(orchsim_sim::jobs::JobSpec {
                            completions: 3,
                            parallelism: 2,
                            backoff_limit: 2,
                            restart_policy: orchsim_sim::scenario::RestartPolicy::Never,
                            max_jobs: Some(30),
                        });
                    }
                    // And its containers crash about every 200 s.
                    sc.faults.push(Fault {
                        name: "crash".into(),
                        workload: Some(0),
                        registry_mbit_s: None,
                        partition: false,
                        spot_reclaim: false,
                        hosts: Vec::new(),
                        labels: BTreeMap::new(),
                        site: None,
                        timing: FaultTiming::Random {
                            mtbf: SimDuration::from_secs(200),
                            mttr_s: Dist::Constant(0.0),
                        },
                    });
                }
                // One case in four: hosts are also cut off by partitions now and then, which
                // may overlap their failures.
                if seed % 4 == 1 {
                    sc.faults.push(Fault {
                        name: "partition".into(),
                        workload: None,
                        registry_mbit_s: None,
                        partition: true,
                        spot_reclaim: false,
                        hosts: Vec::new(),
                        labels: BTreeMap::new(),
                        site: None,
                        timing: FaultTiming::Random {
                            mtbf: SimDuration::from_secs(400),
                            mttr_s: Dist::Uniform {
                                min: 30.0,
                                max: 400.0,
                            },
                        },
                    });
                }
            }
            sc
        })
}

/// Host failures: nothing runs on a host that is down at the end, and every container a
/// failure killed was restarted in place, replaced, or is still lost — each counted once.
fn assert_failures_accounted(r: &RunResult) -> Result<(), TestCaseError> {
    // (Behind a partition containers keep running.)
    let down_at_end: std::collections::BTreeSet<usize> = r
        .outages
        .iter()
        .filter(|o| o.up.is_none() && !o.partition)
        .map(|o| o.node.0)
        .collect();
    for p in &r.records {
        if p.state == PodState::Running {
            let node = p.node.unwrap().0;
            prop_assert!(
                !down_at_end.contains(&node),
                "{} runs on {}, which is down",
                p.spec.name,
                r.node_names[node]
            );
        }
    }
    let lost: u64 = r.outages.iter().map(|o| u64::from(o.pods_lost)).sum();
    prop_assert_eq!(lost, r.summary.pod_losses);
    prop_assert_eq!(
        lost,
        r.records.iter().map(|p| u64::from(p.losses)).sum::<u64>()
    );
    for o in &r.outages {
        prop_assert!(o.restarted_in_place + o.replaced <= o.pods_lost, "{:?}", o);
    }
    let restarted: u64 = r
        .outages
        .iter()
        .map(|o| u64::from(o.restarted_in_place))
        .sum();
    // Every crash restarts in place, goes back through the scheduler, or (`Never`) fails
    // its pod.
    let s = &r.summary;
    prop_assert!(s.crash_reschedules + s.pods_failed <= s.crashes);
    prop_assert_eq!(
        restarted + s.crashes - s.crash_reschedules - s.pods_failed,
        s.restarts_in_place
    );
    Ok(())
}

/// With `[[traffic]]`: every request offered is served, failed for want of a running pod, or
/// lost to an overloaded host, and every request served went somewhere.
fn assert_traffic_accounted(sc: &Scenario, r: &RunResult) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.traffic.len(), sc.traffic.len());
    for t in &r.traffic {
        let served = t.served_pct.unwrap_or(0.0);
        let failed = t.no_endpoint_pct.unwrap_or(0.0) + t.failed_pct.unwrap_or(0.0);
        prop_assert!(served >= 0.0 && failed >= 0.0, "{:?}", t);
        prop_assert!(served + failed <= 100.0 + 1e-9, "{:?}", t);
        if served > 0.0 {
            let split = t.same_host_pct.unwrap() + t.cross_host_pct.unwrap();
            prop_assert!((split - 100.0).abs() < 1e-6, "{:?}", t);
            prop_assert!(t.latency_p50_us.unwrap() <= t.latency_p99_us.unwrap());
            prop_assert!(t.cpu_cores > 0.0 && t.gbit_s > 0.0);
        }
    }
    for (t, spec) in r.traffic.iter().zip(&sc.traffic) {
        // Offered all the time, at the configured rate.
        prop_assert!((t.requests_per_s - spec.requests_per_s).abs() < 1e-6 * spec.requests_per_s);
    }
    if !sc.traffic.is_empty() {
        let starved = r.summary.pod_cpu_starved_pct.unwrap_or(0.0);
        prop_assert!((0.0..=100.0).contains(&starved));
        // The edges' CPU is all the network's (no agents here).
        let edges: f64 = r.traffic.iter().map(|t| t.cpu_cores).sum();
        let net = r.summary.net_cpu_cores.unwrap();
        prop_assert!(
            (edges - net).abs() <= 1e-9 + 1e-6 * net,
            "{} vs {}",
            edges,
            net
        );
        // No host ever over its cores (and no 10 GbE NIC near full at these rates): every
        // request is served, found no running pod or went to one already gone.
        if starved == 0.0 {
            for t in &r.traffic {
                let accounted = t.served_pct.unwrap_or(0.0)
                    + t.no_endpoint_pct.unwrap_or(0.0)
                    + t.failed_pct.unwrap_or(0.0);
                prop_assert!((accounted - 100.0).abs() < 1e-6, "{:?}", t);
            }
        }
    }
    Ok(())
}

/// With `[ipam]`: no address is held by two pods at once, and every running pod holds one.
fn assert_no_address_held_twice(r: &RunResult) -> Result<(), TestCaseError> {
    let mut by_ip: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for l in &r.ip_leases {
        by_ip.entry(l.ip).or_default().push(l);
    }
    for (ip, mut leases) in by_ip {
        leases.sort_by_key(|l| l.from);
        for w in leases.windows(2) {
            prop_assert!(
                w[0].to.is_some_and(|end| end <= w[1].from),
                "{} held by pods {} and {} at once",
                ip,
                w[0].pod,
                w[1].pod
            );
        }
    }
    if r.summary.ip_exhaustions.is_some() {
        let holding: std::collections::BTreeSet<usize> = r
            .ip_leases
            .iter()
            .filter(|l| l.to.is_none())
            .map(|l| l.pod)
            .collect();
        for (i, p) in r.records.iter().enumerate() {
            if p.state == PodState::Running {
                prop_assert!(
                    holding.contains(&i),
                    "{} runs without an address",
                    p.spec.name
                );
            }
        }
    }
    Ok(())
}

/// With the control plane modeled, a container never starts before the API server answered
/// its Bind, and every bound pod's Bind was answered no earlier than it was sent.
fn assert_api_ordering(sc: &Scenario, r: &RunResult) -> Result<(), TestCaseError> {
    if sc.api_server.is_none() {
        prop_assert!(r.records.iter().all(|p| p.bind_answered.is_none()));
        return Ok(());
    }
    for p in &r.records {
        if let (Some(bound), Some(answered)) = (p.bound, p.bind_answered) {
            prop_assert!(answered >= bound, "{}: answered before bound", p.spec.name);
        }
        // Restarted in place, lost and back, crashed: never before its Bind was answered.
        if let Some(started) = p.started {
            let answered = p.bind_answered;
            prop_assert!(
                answered.is_some_and(|a| a <= started),
                "{} started at {} before its Bind was answered ({:?})",
                p.spec.name,
                started,
                answered
            );
        }
    }
    let clients = r.api_clients.as_ref().unwrap();
    let binds = clients[0].1.writes;
    prop_assert!(
        binds
            <= r.records
                .iter()
                .map(|p| p.placements.len() as u64)
                .sum::<u64>()
                + r.summary.evictions
    );
    Ok(())
}

proptest! {
    // A fixed seed: the same 48 scenarios on every run, so CI is not a lottery. Random seeds
    // once found an accounting bug (a pod lost twice in one outage counted twice by the run
    // and once by its outage); the case is in the regression file. Change this seed, or
    // raise the cases, to explore other scenarios (600 more passed when that was fixed).
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261207),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_host_is_ever_overcommitted(sc in arb_scenario()) {
        let r = run(&sc).unwrap();
        assert_no_overcommit(&sc, &r)?;
    }

    #[test]
    fn every_pod_ends_in_exactly_one_state(sc in arb_scenario()) {
        let r = run(&sc).unwrap();
        assert_accounted(&r)?;
        assert_constraints_and_audit(&sc, &r)?;
        assert_failures_accounted(&r)?;
        assert_api_ordering(&sc, &r)?;
        assert_no_address_held_twice(&r)?;
        assert_traffic_accounted(&sc, &r)?;
    }

    #[test]
    fn simulated_time_never_goes_backwards(sc in arb_scenario()) {
        let r = run(&sc).unwrap();
        let times: Vec<String> = r.timeseries.rows.iter().map(|row| row[0].text()).collect();
        let parsed: Vec<f64> = times.iter().map(|t| t.parse().unwrap()).collect();
        for w in parsed.windows(2) {
            prop_assert!(w[0] <= w[1], "timeseries goes backwards: {:?}", w);
        }
        // Binds in event-log order have non-decreasing timestamps.
        let mut log: Vec<(u64, _)> = r.records.iter().flat_map(|p| {
            p.placements.iter().map(|pl| (pl.bound_event, pl.bound))
        }).collect();
        log.sort();
        for w in log.windows(2) {
            prop_assert!(w[0].1 <= w[1].1, "event {} at {} before event {} at {}", w[0].0, w[0].1, w[1].0, w[1].1);
        }
    }

    #[test]
    fn same_seed_same_bytes(sc in arb_scenario()) {
        let a = run(&sc).unwrap();
        let b = run(&sc).unwrap();
        prop_assert_eq!(a.summary.table().to_csv(), b.summary.table().to_csv());
        prop_assert_eq!(a.pods_table().to_csv(), b.pods_table().to_csv());
        prop_assert_eq!(a.timeseries.to_csv(), b.timeseries.to_csv());
        prop_assert_eq!(
            a.fragmentation.as_ref().map(|t| t.to_csv()),
            b.fragmentation.as_ref().map(|t| t.to_csv())
        );
        prop_assert_eq!(a.digest(), b.digest());
        // The observer only reads the world: without it, the same run.
        let mut quiet = sc.clone();
        quiet.observers.gpu_fragmentation = false;
        let c = run(&quiet).unwrap();
        prop_assert_eq!(a.pods_table().to_csv(), c.pods_table().to_csv());
        prop_assert_eq!(a.digest(), c.digest());
    }
}

fn quickstart() -> Scenario {
    let text = include_str!("../../scenarios/quickstart.toml");
    orchsim_sim::parse("quickstart.toml", text).unwrap()
}

#[test]
fn a_different_seed_gives_a_different_digest() {
    let mut sc = quickstart();
    let a = run(&sc).unwrap();
    sc.seed += 1;
    let b = run(&sc).unwrap();
    assert_ne!(a.digest(), b.digest());
    assert_ne!(a.pods_table().to_csv(), b.pods_table().to_csv());
}

#[test]
fn quickstart_is_reproducible_and_sane() {
    let sc = quickstart();
    let a = run(&sc).unwrap();
    let b = run(&sc).unwrap();
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.pods_table().to_csv(), b.pods_table().to_csv());
    assert_eq!(a.timeseries.to_csv(), b.timeseries.to_csv());
    let s = &a.summary;
    assert_eq!(s.hosts, 20);
    assert!(s.pods_submitted > 1000, "{s:?}");
    // 3600 s / 10 s sampling → 361 samples including both ends.
    assert_eq!(a.timeseries.rows.len(), 361);
    // The service workload stops at max_pods = 100.
    let web = a.records.iter().filter(|p| p.spec.owner == "web").count();
    assert_eq!(web, 100);
}

/// Poisson arrivals at rate λ for T seconds give about λT pods; the scheduler's queueing follows
/// the decision cost: with one pod per decision at t_job + t_task, the scheduler's busy share is
/// (decisions × cost) / T.
#[test]
fn arrival_rate_and_scheduler_busy_time_follow_the_model() {
    let mut sc = scenario(
        vec![host_group(0, 50, 64_000, 262_144, 0, 500)],
        vec![workload(0, true, 4.0, 100, 64, 0, 10.0)],
        7,
        20,
    );
    sc.duration = SimDuration::from_secs(3600);
    let r = run(&sc).unwrap();
    let n = r.summary.pods_submitted as f64;
    let expect = 4.0 * 3600.0;
    // Poisson count: sd = sqrt(14400) = 120; 4 sd bound.
    assert!(
        (n - expect).abs() < 480.0,
        "{n} arrivals, expected about {expect}"
    );
    // Every pod fits at once, so one decision per pod, each 20 ms + 1 ms + 1 µs × nodes tried
    // (first-fit tries 1 node when the first has room).
    let busy = r.summary.scheduler_busy_pct;
    let model = n * 0.021_001 / 3600.0 * 100.0;
    assert!((busy - model).abs() < 0.5, "busy {busy}%, model {model}%");
}

/// Three pods asking 600 milli-GPU each on one host with two GPUs: the sum (1800) fits in
/// 2000, but no device can hold two of them, so every scheduler family places two and leaves
/// the third unschedulable (it used to place all three on the scalar sum).
#[test]
fn gpu_shares_are_placed_on_devices_not_on_the_sum() {
    let text = r#"
name = "shares"
duration_s = 60
sample_interval_s = 10

[[hosts]]
name = "gpu"
count = 1
cpu_milli = 16000
memory_mib = 65536
gpus = 2

[[workloads]]
name = "share"
kind = "service"
arrival_rate_per_s = 1
max_pods = 3
cpu_milli = 100
memory_mib = 100
gpu_milli = 600

[scheduler]
algorithm = "first-fit"
"#;
    for algorithm in orchsim_sched::ALGORITHMS {
        let mut sc = orchsim_sim::parse("shares.toml", text).unwrap();
        sc.scheduler.algorithm = algorithm.to_string();
        let r = run(&sc).unwrap();
        let s = &r.summary;
        assert_eq!(s.pods_submitted, 3, "{algorithm}");
        assert_eq!(s.pods_scheduled, 2, "{algorithm}");
        assert_eq!(s.pods_unschedulable, 1, "{algorithm}");
        let mut devices: Vec<Vec<u8>> = r
            .records
            .iter()
            .filter_map(|p| p.placements.last().map(|pl| pl.devices.clone()))
            .collect();
        devices.sort();
        assert_eq!(devices, vec![vec![0], vec![1]], "{algorithm}");
        if algorithm == &"kubernetes" {
            let failed = r.records.iter().find(|p| p.node.is_none()).unwrap();
            let why = failed.last_failure.as_deref().unwrap_or("");
            assert_eq!(
                why, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                "kube-scheduler's FitError shape"
            );
        }
    }
}

/// A GPU request that is neither a share of one device nor whole devices is refused where it
/// is written, as is a model no host has.
#[test]
fn gpu_requests_that_devices_cannot_hold_are_refused_at_parse_time() {
    let base = r#"
name = "bad"
duration_s = 60
[[hosts]]
name = "gpu"
cpu_milli = 16000
memory_mib = 65536
gpus = 4
gpu_model = "V100"
[[workloads]]
name = "w"
kind = "service"
arrival_rate_per_s = 1
cpu_milli = 100
memory_mib = 100
"#;
    let e = orchsim_sim::parse("bad.toml", &format!("{base}gpu_milli = 1500\n")).unwrap_err();
    assert_eq!(e.field, "workloads[0].gpu_milli");
    assert!(e.message.contains("multiple of 1000"), "{}", e.message);
    let e = orchsim_sim::parse(
        "bad.toml",
        &format!("{base}gpu_milli = {{ dist = \"choice\", values = [500, 2500] }}\n"),
    )
    .unwrap_err();
    assert_eq!(e.field, "workloads[0].gpu_milli");
    let e = orchsim_sim::parse(
        "bad.toml",
        &format!("{base}gpu_milli = 1000\ngpu_models = [\"A100\"]\n"),
    )
    .unwrap_err();
    assert_eq!(e.field, "workloads[0].gpu_models[0]");
    assert!(e.message.contains("V100"), "{}", e.message);
    assert!(orchsim_sim::parse(
        "ok.toml",
        &format!("{base}gpu_milli = {{ dist = \"choice\", values = [250, 1000, 2000] }}\ngpu_models = [\"V100\"]\n")
    )
    .is_ok());
}
