//! The control plane's requests on their way through the API server model
//! (`crate::api_server`): who sends what when, and what the world does once it is answered.
//!
//! With `[api_server]`, a pod's life costs these requests (Kubernetes v1.33):
//! - its creation, by the user's client (no client limit) — it reaches the scheduler's queue
//!   when created (the scheduler's informer sees it), and its wait is counted from then;
//! - its Bind, by the scheduler, after the decision (kube-scheduler binds asynchronously, so
//!   the next decision does not wait) — the kubelet starts it once the Bind is answered;
//! - a status update by its node's kubelet when its container starts and when it ends: a GET
//!   of the pod then a PATCH (pkg/kubelet/status/status_manager.go syncPod);
//! - when its host fails, its deletion by the taint-eviction controller and, once that is
//!   answered, its replacement's creation by the ReplicaSet controller;
//! - a preemption victim's deletion by the scheduler and its replacement's creation by the
//!   ReplicaSet controller.
//!
//! A deleted pod waits (`held`, invisible to its scheduler) until its replacement is created.
//!
//! Not modeled: a crashed container replaced as a new task (Swarm and Marathon presets) skips
//! the API; Events objects, node heartbeats and leases are not sent.

use std::collections::BTreeMap;

use orchsim_kernel::{Kernel, SimTime};

use super::{Event, PodState, World};
use crate::api_server::{ApiConfig, Server, TokenBucket, Verb};

/// Who sends a request; each has its own client and rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Client {
    /// The scheduler of this slot.
    Scheduler(usize),
    TaintEviction,
    ReplicaSet,
    /// The Cluster Autoscaler or Karpenter, draining a host.
    Provisioner,
    /// The Job controller, creating a Job's pods.
    JobController,
    /// The kubelet of this node.
    Kubelet(usize),
    User,
}

/// Client kinds, in `api.csv` row order.
pub(crate) const CLIENT_KINDS: [&str; 4] = ["schedulers", "controllers", "kubelets", "users"];

impl Client {
    fn kind(self) -> usize {
        match self {
            Client::Scheduler(_) => 0,
            Client::TaintEviction
            | Client::ReplicaSet
            | Client::Provisioner
            | Client::JobController => 1,
            Client::Kubelet(_) => 2,
            Client::User => 3,
        }
    }
}

/// What the world does when a request is answered.
#[derive(Clone, Copy, Debug)]
pub(super) enum Then {
    Nothing,
    /// A new pod of this job exists.
    Created {
        pod: usize,
        job: usize,
    },
    /// The pod's Bind for its `stay`-th placement (0-based) is answered: its node's kubelet
    /// starts it.
    Bound {
        pod: usize,
        stay: usize,
    },
    /// A kubelet read the pod: it patches its status now.
    Patch {
        node: usize,
    },
    /// A pod is deleted: its controller creates the replacement.
    Deleted {
        pod: usize,
        job: usize,
    },
    /// The replacement exists: it goes to its scheduler's queue.
    Replaced {
        pod: usize,
        job: usize,
    },
}

struct Request {
    client: Client,
    verb: Verb,
    then: Then,
    issued: SimTime,
    /// When it reached the API server, and when it got a seat there.
    arrived: SimTime,
    seated: SimTime,
}

/// One client kind's requests over the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub reads: u64,
    pub writes: u64,
    /// Waiting for the client's rate limiter, in ns: total and longest.
    pub throttled_ns: u128,
    pub throttled_max_ns: u64,
    /// Waiting for a seat in the API server.
    pub queued_ns: u128,
    /// From a seat to the answer (etcd).
    pub served_ns: u128,
    /// From issue to answer: total and longest.
    pub latency_ns: u128,
    pub latency_max_ns: u64,
}

/// The control plane's clients, server and requests in flight.
pub(crate) struct Api {
    server: Server,
    cfg: ApiConfig,
    buckets: BTreeMap<Client, Option<TokenBucket>>,
    requests: BTreeMap<u64, Request>,
    next: u64,
    /// Pod watchers: every scheduler, the controller manager's informer, every kubelet.
    watchers: u32,
    stats: [ClientStats; 4],
}

impl Api {
    pub(super) fn new(cfg: &ApiConfig, schedulers: usize, nodes: usize) -> Api {
        Api {
            server: Server::new(cfg),
            cfg: cfg.clone(),
            buckets: BTreeMap::new(),
            requests: BTreeMap::new(),
            next: 0,
            watchers: (schedulers + 1 + nodes).min(u32::MAX as usize) as u32,
            stats: Default::default(),
        }
    }

    /// Time etcd was busy up to `end`, in ns.
    pub(crate) fn etcd_busy_ns(&self, end: SimTime) -> u128 {
        self.server.etcd_busy_ns(end)
    }

    /// Each client kind's statistics, in [`CLIENT_KINDS`] order.
    pub(crate) fn stats(&self) -> &[ClientStats; 4] {
        &self.stats
    }
}

impl World<'_> {
    /// `client` sends a request now; `then` runs when it is answered.
    pub(super) fn api_request(
        &mut self,
        k: &mut Kernel<Event>,
        client: Client,
        verb: Verb,
        then: Then,
    ) {
        let now = k.now();
        let Some(api) = self.api.as_mut() else {
            return;
        };
        let limit = match client {
            Client::Scheduler(_) => api.cfg.scheduler,
            // The provisioner's own client limits (CA --kube-client-qps, Karpenter
            // KUBE_CLIENT_QPS) are not modeled: it gets a controller's.
            Client::TaintEviction
            | Client::ReplicaSet
            | Client::Provisioner
            | Client::JobController => api.cfg.controller,
            Client::Kubelet(_) => api.cfg.kubelet,
            Client::User => crate::api_server::Limit {
                qps: None,
                burst: 1,
            },
        };
        let go = api
            .buckets
            .entry(client)
            .or_insert_with(|| TokenBucket::new(limit))
            .as_mut()
            .map_or(now, |b| b.reserve(now));
        let id = api.next;
        api.next += 1;
        api.requests.insert(
            id,
            Request {
                client,
                verb,
                then,
                issued: now,
                arrived: go,
                seated: go,
            },
        );
        if go == now {
            self.api_arrive(k, id);
        } else {
            k.schedule_at(go, Event::ApiSend { id });
        }
    }

    /// Request `id` reaches the API server.
    pub(super) fn api_arrive(&mut self, k: &mut Kernel<Event>, id: u64) {
        let now = k.now();
        let Some(api) = self.api.as_mut() else {
            return;
        };
        let verb = api.requests[&id].verb;
        if let Some(done) = api.server.arrive(now, verb, id, api.watchers) {
            k.schedule_at(done, Event::ApiDone { id });
        }
    }

    /// Request `id` is answered: its seat goes on, its statistics are kept and the world
    /// does what waited for it.
    pub(super) fn api_done(&mut self, k: &mut Kernel<Event>, id: u64) {
        let now = k.now();
        let Some(api) = self.api.as_mut() else {
            return;
        };
        let Some(r) = api.requests.remove(&id) else {
            return;
        };
        if let Some((next, done)) = api.server.finish(now, r.verb) {
            if let Some(n) = api.requests.get_mut(&next) {
                n.seated = now;
            }
            k.schedule_at(done, Event::ApiDone { id: next });
        }
        let s = &mut api.stats[r.client.kind()];
        match r.verb {
            Verb::Read => s.reads += 1,
            Verb::Write => s.writes += 1,
        }
        let throttled = r.arrived.since(r.issued).as_nanos();
        s.throttled_ns += u128::from(throttled);
        s.throttled_max_ns = s.throttled_max_ns.max(throttled);
        s.queued_ns += u128::from(r.seated.since(r.arrived).as_nanos());
        s.served_ns += u128::from(now.since(r.seated).as_nanos());
        let latency = now.since(r.issued).as_nanos();
        s.latency_ns += u128::from(latency);
        s.latency_max_ns = s.latency_max_ns.max(latency);
        match r.then {
            Then::Nothing => {}
            Then::Created { pod, job } => {
                self.pods[pod].queued = now;
                self.pods[pod].held = false;
                let j = &mut self.jobs[job];
                j.creating -= 1;
                if j.creating == 0 {
                    // A new job is idle; a Job's added pods join it wherever it is.
                    self.requeue_after(k, job, orchsim_kernel::SimDuration::ZERO);
                    self.kick(k, self.path[self.jobs[job].workload]);
                }
            }
            Then::Bound { pod, stay } => self.bind_answered(k, pod, stay),
            Then::Patch { node } => {
                // A kubelet whose host went down meanwhile sends nothing.
                if !self.health[node].is_down() {
                    self.api_request(k, Client::Kubelet(node), Verb::Write, Then::Nothing)
                }
            }
            Then::Deleted { pod, job } => self.api_request(
                k,
                Client::ReplicaSet,
                Verb::Write,
                Then::Replaced { pod, job },
            ),
            Then::Replaced { pod, job } => {
                let rec = &mut self.pods[pod];
                rec.held = false;
                rec.queued = now;
                let delay = self
                    .scenario
                    .lifecycle
                    .as_ref()
                    .map_or(orchsim_kernel::SimDuration::ZERO, |l| l.replacement_delay);
                self.requeue_after(k, job, delay);
                self.kick_all(k);
            }
        }
    }

    /// The kubelet of `node` reports a pod's status (a GET, then a PATCH).
    pub(super) fn kubelet_status(&mut self, k: &mut Kernel<Event>, node: usize) {
        // A kubelet cut off (its host down or behind a partition) reaches no API server.
        if !self.health[node].is_down() {
            self.api_request(k, Client::Kubelet(node), Verb::Read, Then::Patch { node });
        }
    }

    /// A pod is deleted by `client` and replaced by its ReplicaSet controller; it waits,
    /// invisible to its scheduler, until the replacement is created.
    pub(super) fn delete_and_replace(&mut self, k: &mut Kernel<Event>, client: Client, pod: usize) {
        let job = self.pods[pod].job;
        self.pods[pod].held = true;
        self.api_request(k, client, Verb::Write, Then::Deleted { pod, job });
    }

    /// The API server answered the Bind of `pod`'s `stay`-th placement: if that stay is still
    /// its current one, the kubelet starts it (a host that is down never does; a pod lost
    /// meanwhile starts when its host is back, now that it is bound).
    fn bind_answered(&mut self, k: &mut Kernel<Event>, pod: usize, stay: usize) {
        let now = k.now();
        let rec = &mut self.pods[pod];
        if rec.node.is_none() || rec.placements.len() != stay + 1 {
            return;
        }
        rec.bind_answered = Some(now);
        if let (PodState::Starting, Some(node)) = (rec.state, rec.node) {
            let incarnation = rec.incarnation;
            self.start_on(k, pod, node, incarnation);
        }
    }
}
