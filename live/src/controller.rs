//! `live run`'s controller: the scenario's pods, submitted at their times (scaled), placed by
//! the same `orchsim-sched` scheduler the simulator runs, against the nodes the agents report,
//! and run as real processes by those agents. Heartbeats tell it when a pod's process ended
//! and when an agent stopped answering; the pods of a node that failed are rescheduled.
//!
//! One thread, wall-clock time: each loop runs the faults, arrivals and heartbeats that are
//! due, then schedules the pending pods in arrival order, as the simulator's queue does.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchsim_sched::{Cluster, Decision, NodeId, NodeInfo, PodSpec, Scheduler};

use crate::protocol::{self, Envelope, Request, Response};
use crate::LiveError;

/// A pod as the scenario submits it.
#[derive(Clone, Debug)]
pub struct PodPlan {
    pub spec: PodSpec,
    pub submit_ms: f64,
    /// How long its process runs; `None`: until the end (a service).
    pub run_ms: Option<f64>,
}

/// What goes wrong on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The node's agent is killed (SIGKILL): no more heartbeats, its processes orphaned.
    KillAgent,
    /// The node's link is cut (`eth0` down): the agent is unreachable, its processes run on.
    CutLink,
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub node: String,
    pub at_ms: f64,
    pub kind: FaultKind,
}

/// A run.
pub struct Plan {
    pub scheduler: Box<dyn Scheduler + Send>,
    /// The nodes, in the scenario's order; each must have an agent of the same name.
    pub nodes: Vec<NodeInfo>,
    /// In submission order.
    pub pods: Vec<PodPlan>,
    pub duration_ms: f64,
    /// Wall seconds per scenario second (0.01: a hundred times faster than the scenario).
    pub time_scale: f64,
    pub faults: Vec<Fault>,
    /// How often each agent is asked for its state, wall time.
    pub heartbeat: Duration,
    /// Wall time without an answer after which a node counts as failed.
    pub fail_after: Duration,
    /// The program each pod runs (`sleep`, with its run time in seconds as the argument).
    pub command: String,
}

/// How the controller reaches an agent, and how a fault is done to it.
pub struct AgentLink {
    pub node: String,
    pub connect: Box<dyn Fn() -> Result<TcpStream, LiveError> + Send>,
    pub fault: Box<dyn FnMut(FaultKind) -> Result<(), LiveError> + Send>,
}

/// A pod's outcome, in scenario milliseconds.
#[derive(Clone, Debug, Default)]
pub struct PodResult {
    pub name: String,
    /// `finished`, `running`, `pending`.
    pub state: &'static str,
    pub node: Option<String>,
    pub submit_ms: f64,
    pub bind_ms: Option<f64>,
    pub start_ms: Option<f64>,
    pub finish_ms: Option<f64>,
    pub attempts: u32,
    pub evictions: u32,
    pub last_failure: Option<String>,
}

/// A node's outcome.
#[derive(Clone, Debug)]
pub struct NodeResult {
    pub name: String,
    /// When it was found failed, scenario ms.
    pub failed_ms: Option<f64>,
}

struct Conn {
    stream: Option<(TcpStream, BufReader<TcpStream>)>,
    last_answer: Instant,
    /// Unreachable at the last attempt: cordoned until it answers again, so the scheduler
    /// does not keep choosing a node nobody can start pods on.
    unreachable: bool,
    failed: bool,
}

fn ask(
    conn: &mut Conn,
    link: &AgentLink,
    token: &str,
    request: Request,
) -> Result<Response, LiveError> {
    if conn.stream.is_none() {
        let s = (link.connect)()?;
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
        let r = BufReader::new(s.try_clone().map_err(|e| io(&link.node, e))?);
        conn.stream = Some((s, r));
    }
    let (s, r) = conn.stream.as_mut().expect("connected above");
    let result = protocol::write_line(
        s,
        &Envelope {
            token: token.to_string(),
            request,
        },
    )
    .and_then(|_| protocol::read_line(r))
    .and_then(|l| {
        l.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "agent hung up"))
    });
    match result {
        Ok(line) => serde_json::from_slice(&line).map_err(|e| io(&link.node, e)),
        Err(e) => {
            conn.stream = None;
            Err(io(&link.node, e))
        }
    }
}

fn io(node: &str, e: impl std::fmt::Display) -> LiveError {
    LiveError::Traffic {
        test: format!("agent {node}"),
        message: e.to_string(),
    }
}

/// Runs `plan` on the agents behind `links` and returns every pod's and node's outcome.
pub fn run(
    mut plan: Plan,
    mut links: Vec<AgentLink>,
    token: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<PodResult>, Vec<NodeResult>), LiveError> {
    // Agents in node order; each node must have one.
    let mut ordered = Vec::new();
    for n in &plan.nodes {
        let i = links
            .iter()
            .position(|l| l.node == n.name)
            .ok_or_else(|| LiveError::Input(format!("no agent for node `{}`", n.name)))?;
        ordered.push(links.remove(i));
    }
    let mut links = ordered;
    let mut conns: Vec<Conn> = links
        .iter()
        .map(|_| Conn {
            stream: None,
            last_answer: Instant::now(),
            unreachable: false,
            failed: false,
        })
        .collect();
    // The first heartbeat: every agent must answer, with the token.
    for (c, l) in conns.iter_mut().zip(&links) {
        match ask(c, l, token, Request::Heartbeat)? {
            Response::Node(state) => progress(&if state.limits.starts_with("none") {
                format!(
                    "warning: agent {} cannot limit its workloads ({})",
                    l.node, state.limits
                )
            } else {
                format!("agent {}: workloads limited by {}", l.node, state.limits)
            }),
            Response::Error { message } => {
                return Err(LiveError::Input(format!("agent {}: {message}", l.node)))
            }
            other => return Err(io(&l.node, format!("unexpected answer {other:?}"))),
        }
    }
    let mut cluster = Cluster::new(plan.nodes.clone());
    let mut results: Vec<PodResult> = plan
        .pods
        .iter()
        .map(|p| PodResult {
            name: p.spec.name.clone(),
            state: "pending",
            submit_ms: p.submit_ms,
            ..Default::default()
        })
        .collect();
    let mut node_results: Vec<NodeResult> = plan
        .nodes
        .iter()
        .map(|n| NodeResult {
            name: n.name.clone(),
            failed_ms: None,
        })
        .collect();
    let specs: Vec<Arc<PodSpec>> = plan.pods.iter().map(|p| Arc::new(p.spec.clone())).collect();
    // Pod index → node it runs on, by workload id (the pod's name and attempt).
    let mut placed: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut next_pod = 0;
    let mut faults = std::mem::take(&mut plan.faults);
    faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let mut next_fault = 0;
    let start = Instant::now();
    let now_ms = || start.elapsed().as_secs_f64() * 1000.0 / plan.time_scale;
    let mut last_beat = Instant::now();
    let mut dirty = false;
    loop {
        if crate::lab::interrupted() {
            break;
        }
        let now = now_ms();
        if now >= plan.duration_ms {
            break;
        }
        while next_fault < faults.len() && faults[next_fault].at_ms <= now {
            let f = &faults[next_fault];
            let i = links
                .iter()
                .position(|l| l.node == f.node)
                .ok_or_else(|| LiveError::Input(format!("fault on unknown node `{}`", f.node)))?;
            progress(&format!("{:.0} ms: {:?} on {}", now, f.kind, f.node));
            (links[i].fault)(f.kind)?;
            next_fault += 1;
        }
        while next_pod < plan.pods.len() && plan.pods[next_pod].submit_ms <= now {
            pending.push(next_pod);
            next_pod += 1;
            dirty = true;
        }
        if last_beat.elapsed() >= plan.heartbeat {
            last_beat = Instant::now();
            for n in 0..links.len() {
                if conns[n].failed {
                    continue;
                }
                match ask(&mut conns[n], &links[n], token, Request::Heartbeat) {
                    Ok(Response::Node(state)) => {
                        conns[n].last_answer = Instant::now();
                        if conns[n].unreachable {
                            conns[n].unreachable = false;
                            cluster.update_node(NodeId(n), |info| info.unschedulable = false);
                            dirty = true;
                        }
                        let ended: Vec<usize> = placed
                            .iter()
                            .filter(|(_, (node, _))| *node == n)
                            .filter(|(_, (_, id))| {
                                state
                                    .workloads
                                    .iter()
                                    .any(|w| w.id == *id && w.exit.is_some())
                            })
                            .map(|(&p, _)| p)
                            .collect();
                        for p in ended {
                            let (node, id) = placed.remove(&p).expect("listed above");
                            cluster.unbind_pod(NodeId(node), &specs[p]);
                            let _ = ask(&mut conns[n], &links[n], token, Request::Stop { id });
                            results[p].state = "finished";
                            results[p].finish_ms = Some(now);
                            dirty = true;
                        }
                    }
                    _ => {
                        if !conns[n].unreachable {
                            conns[n].unreachable = true;
                            cluster.update_node(NodeId(n), |info| info.unschedulable = true);
                        }
                        let silent = conns[n].last_answer.elapsed();
                        if silent >= plan.fail_after {
                            conns[n].failed = true;
                            node_results[n].failed_ms = Some(now);
                            progress(&format!(
                                "{now:.0} ms: node {} failed (no heartbeat for {:.1} s of wall time); its pods are rescheduled",
                                links[n].node,
                                silent.as_secs_f64()
                            ));
                            cluster.update_node(NodeId(n), |info| info.unschedulable = true);
                            let lost: Vec<usize> = placed
                                .iter()
                                .filter(|(_, (node, _))| *node == n)
                                .map(|(&p, _)| p)
                                .collect();
                            for p in lost {
                                placed.remove(&p);
                                cluster.unbind_pod(NodeId(n), &specs[p]);
                                let r = &mut results[p];
                                r.evictions += 1;
                                r.state = "pending";
                                r.node = None;
                                pending.push(p);
                            }
                            pending.sort_unstable();
                            dirty = true;
                        }
                    }
                }
            }
        }
        if dirty {
            dirty = false;
            let mut still = Vec::new();
            for &p in &pending {
                results[p].attempts += 1;
                let outcome = plan.scheduler.schedule(&specs[p], &cluster);
                let (node, devices) = match outcome.decision {
                    Decision::Bind { node, devices } => (node, devices),
                    other => {
                        // As in the simulator's tables: tried and placed nowhere, and why.
                        results[p].state = "unschedulable";
                        if let Decision::Unschedulable(why) = other {
                            results[p].last_failure = Some(why.to_string());
                        }
                        still.push(p);
                        continue;
                    }
                };
                if cluster.bind(node, specs[p].clone(), devices).is_err() {
                    still.push(p);
                    continue;
                }
                let n = node.0;
                let id = format!("{}-{}", specs[p].name, results[p].attempts);
                let secs = match plan.pods[p].run_ms {
                    Some(ms) => ms / 1000.0 * plan.time_scale,
                    // A service runs past the end; the controller stops it there.
                    None => (plan.duration_ms - now) / 1000.0 * plan.time_scale + 60.0,
                };
                let bind_ms = now_ms();
                let answer = ask(
                    &mut conns[n],
                    &links[n],
                    token,
                    Request::Start {
                        id: id.clone(),
                        command: plan.command.clone(),
                        args: vec![format!("{secs:.3}")],
                        cpu_milli: specs[p].requests.cpu_milli.max(1),
                        memory_mib: (specs[p].requests.memory_bytes >> 20).max(4),
                    },
                );
                match answer {
                    Ok(Response::Started { .. }) => {
                        let r = &mut results[p];
                        r.state = "running";
                        r.node = Some(links[n].node.clone());
                        r.bind_ms = Some(bind_ms);
                        r.start_ms = Some(now_ms());
                        placed.insert(p, (n, id));
                    }
                    other => {
                        cluster.unbind_pod(node, &specs[p]);
                        if other.is_err() {
                            // The request may have arrived and only the answer been lost: a
                            // process started there would run on, unseen.
                            let _ = ask(
                                &mut conns[n],
                                &links[n],
                                token,
                                Request::Stop { id: id.clone() },
                            );
                        }
                        if other.is_err() && !conns[n].unreachable {
                            conns[n].unreachable = true;
                            cluster.update_node(node, |info| info.unschedulable = true);
                        }
                        results[p].last_failure = Some(match other {
                            Ok(Response::Error { message }) => message,
                            Ok(r) => format!("unexpected answer {r:?}"),
                            Err(e) => e.to_string(),
                        });
                        still.push(p);
                    }
                }
            }
            pending = still;
        }
        // Sleep to the next thing due, at most a heartbeat and at least a millisecond.
        let next_arrival = plan
            .pods
            .get(next_pod)
            .map_or(f64::INFINITY, |p| p.submit_ms);
        let next_fault_ms = faults.get(next_fault).map_or(f64::INFINITY, |f| f.at_ms);
        let wait_ms =
            (next_arrival.min(next_fault_ms).min(plan.duration_ms) - now_ms()) * plan.time_scale;
        let beat_left = plan.heartbeat.saturating_sub(last_beat.elapsed());
        let wait = Duration::from_secs_f64((wait_ms / 1000.0).clamp(0.001, 1.0)).min(beat_left);
        std::thread::sleep(wait.max(Duration::from_millis(1)));
    }
    // The end: stop what still runs (its pods stay `running`, as in the simulator's tables).
    for (&p, (n, id)) in &placed {
        if !conns[*n].failed {
            let _ = ask(
                &mut conns[*n],
                &links[*n],
                token,
                Request::Stop { id: id.clone() },
            );
        }
        let _ = p;
    }
    if crate::lab::interrupted() {
        return Err(LiveError::Interrupted);
    }
    Ok((results, node_results))
}
