//! The Kubernetes control plane as a modeled resource: client-side rate limits, the API
//! server's in-flight seats and etcd, so that binding, status updates and replacements take
//! the time the control plane lets them.
//!
//! ```toml
//! [api_server]              # present: the model is on, at upstream defaults
//! scheduler_qps = -1        # any value of presets/api-server.toml; QPS < 0: no limit
//! cache_reads = true        # every read from the API server's cache (the seed's platform)
//! ```
//!
//! A request waits for a token of its client's bucket (client-go's token bucket: `burst`
//! tokens at start, one more every 1/`qps`, waiters served in order), then for one of the API
//! server's seats (FIFO), then for etcd: a single server that each
//! write holds 1/`etcd_write_qps` and each read 1/`etcd_read_qps`, and that answers an
//! operation `etcd_*_latency_ms` after it began (or when it is done, if later) — which gives
//! the documented single-client latency and many-client throughput at once (tested against
//! etcd's benchmark table). Each write's watch event costs etcd one delivery with the watch
//! cache, or one per watcher of pods without it. Reads may be served from the cache.
//! [`TokenBucket`] and [`Server`] are pure: the caller passes the time in.

use std::collections::{BTreeMap, VecDeque};

use orchsim_kernel::{SimDuration, SimTime};
use toml::Spanned;

use crate::scenario::{Locator, ScenarioError};
use crate::values_file::{self, check_value, key_list, number, Key, Unit, ValuesFile};

/// The compiled-in defaults, with their sources.
pub const DEFAULTS: &str = include_str!("../presets/api-server.toml");

const KEYS: &[Key] = &[
    ("scheduler_qps", Unit::PerSecond, "each scheduler's client: requests per second (< 0: no limit)"),
    ("scheduler_burst", Unit::Count, "each scheduler's client: requests it may send at once"),
    ("controller_qps", Unit::PerSecond, "each controller's client (taint eviction, ReplicaSet): requests per second"),
    ("controller_burst", Unit::Count, "each controller's client: burst"),
    ("kubelet_qps", Unit::PerSecond, "each node's kubelet: requests per second"),
    ("kubelet_burst", Unit::Count, "each node's kubelet: burst"),
    ("max_mutating_inflight", Unit::Count, "with max_requests_inflight: requests the API server serves at once; more queue"),
    ("max_requests_inflight", Unit::Count, "with max_mutating_inflight: requests the API server serves at once; more queue"),
    ("etcd_write_latency_ms", Unit::Milliseconds, "a lone write's commit time"),
    ("etcd_write_qps", Unit::PerSecond, "writes per second etcd commits at most"),
    ("etcd_read_latency_ms", Unit::Milliseconds, "a lone linearizable read's time"),
    ("etcd_read_qps", Unit::PerSecond, "linearizable reads per second etcd serves at most"),
    ("watch_cache", Unit::Bool, "the API server fans watch events out from its cache (true) or each watcher watches etcd (false)"),
    ("etcd_watch_event_qps", Unit::PerSecond, "watch events per second etcd sends at most"),
    ("cache_reads", Unit::Bool, "every read is served from the API server's cache (true) or quorum reads go to etcd (false)"),
];

/// A client's rate limit; `qps: None` is no limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub qps: Option<f64>,
    pub burst: u32,
}

/// What one etcd operation costs: its answer comes `latency` after it begins, and it holds
/// etcd for `service` (the inverse of the throughput).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdCost {
    pub latency: SimDuration,
    pub service: SimDuration,
}

/// The `[api_server]` model, resolved from the defaults and a scenario's values.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiConfig {
    pub scheduler: Limit,
    pub controller: Limit,
    pub kubelet: Limit,
    pub max_mutating_inflight: u32,
    pub max_requests_inflight: u32,
    pub etcd_write: EtcdCost,
    pub etcd_read: EtcdCost,
    pub watch_cache: bool,
    /// etcd's time to send one watch event.
    pub etcd_watch_event: SimDuration,
    pub cache_reads: bool,
}

/// The defaults file, checked.
pub fn defaults() -> ValuesFile {
    values_file::parse("api-server", "presets/api-server.toml", DEFAULTS, KEYS)
        .unwrap_or_else(|e| panic!("compiled-in API server defaults are broken: {e}"))
}

/// One second over a rate, in whole nanoseconds (at least 1).
fn per(rate: f64) -> SimDuration {
    SimDuration(((1e9 / rate).round() as u64).max(1))
}

impl ApiConfig {
    /// Upstream defaults, unchanged.
    pub fn upstream() -> ApiConfig {
        let d = defaults();
        let values = d.values.into_iter().map(|(k, (v, _))| (k, v)).collect();
        ApiConfig::from_values(&values)
    }

    /// The defaults with a scenario's `[api_server]` values; unknown keys and values of the
    /// wrong type are refused with their location.
    pub(crate) fn resolve(
        loc: &Locator,
        table: &BTreeMap<String, Spanned<toml::Value>>,
    ) -> Result<ApiConfig, ScenarioError> {
        let mut values: BTreeMap<String, toml::Value> = defaults()
            .values
            .into_iter()
            .map(|(k, (v, _))| (k, v))
            .collect();
        for (key, v) in table {
            let field = format!("api_server.{key}");
            let Some(&(k, unit, _)) = KEYS.iter().find(|k| k.0 == key) else {
                return Err(loc.error(
                    Some(v.span()),
                    &field,
                    format!("unknown key; expected one of {}", key_list(KEYS)),
                ));
            };
            check_value(loc, key, unit, v, &field)?;
            if matches!(
                k,
                "etcd_write_qps" | "etcd_read_qps" | "etcd_watch_event_qps"
            ) && number(v.get_ref()).is_some_and(|x| x < 0.0)
            {
                return Err(loc.error(
                    Some(v.span()),
                    &field,
                    format!("expected a positive rate for `{key}`: etcd has no unlimited mode"),
                ));
            }
            values.insert(k.to_string(), v.get_ref().clone());
        }
        Ok(ApiConfig::from_values(&values))
    }

    /// From checked values (every key present, each of its unit's type).
    fn from_values(v: &BTreeMap<String, toml::Value>) -> ApiConfig {
        let num = |k: &str| number(&v[k]).unwrap_or(0.0);
        let limit = |q: &str, b: &str| Limit {
            qps: Some(num(q)).filter(|&x| x >= 0.0),
            burst: num(b).max(1.0) as u32,
        };
        let flag = |k: &str| v[k].as_bool().unwrap_or(false);
        ApiConfig {
            scheduler: limit("scheduler_qps", "scheduler_burst"),
            controller: limit("controller_qps", "controller_burst"),
            kubelet: limit("kubelet_qps", "kubelet_burst"),
            max_mutating_inflight: num("max_mutating_inflight") as u32,
            max_requests_inflight: num("max_requests_inflight") as u32,
            etcd_write: EtcdCost {
                latency: values_file::millis(&v["etcd_write_latency_ms"]),
                service: per(num("etcd_write_qps")),
            },
            etcd_read: EtcdCost {
                latency: values_file::millis(&v["etcd_read_latency_ms"]),
                service: per(num("etcd_read_qps")),
            },
            watch_cache: flag("watch_cache"),
            etcd_watch_event: per(num("etcd_watch_event_qps")),
            cache_reads: flag("cache_reads"),
        }
    }
}

/// client-go's client-side rate limiter (`flowcontrol.NewTokenBucketRateLimiter`, over
/// golang.org/x/time/rate): full with `burst` tokens at start, one more every 1/`qps`, and a
/// request that finds none reserves the next (so waiters go in order). Kept as the
/// theoretical arrival time of the generic cell rate algorithm, which is the same bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    interval: u64,
    tolerance: u64,
    tat: u64,
}

impl TokenBucket {
    /// `None` for a limit that is none.
    pub fn new(limit: Limit) -> Option<TokenBucket> {
        let interval = per(limit.qps?).as_nanos();
        Some(TokenBucket {
            interval,
            tolerance: interval.saturating_mul(u64::from(limit.burst.max(1)) - 1),
            tat: 0,
        })
    }

    /// A request at `now` takes a token: when it may go.
    pub fn reserve(&mut self, now: SimTime) -> SimTime {
        let t = now.as_nanos();
        let go = t.max(self.tat.saturating_sub(self.tolerance));
        self.tat = self.tat.max(t).saturating_add(self.interval);
        SimTime::from_nanos(go)
    }
}

/// Reads and writes: etcd's two costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Read,
    Write,
}

/// The API server's seats and etcd behind them. With API Priority and Fairness (on by default
/// since v1.20, GA in v1.29) the server's concurrency limit is the sum of
/// `--max-requests-inflight` and `--max-mutating-requests-inflight`, shared by its priority
/// levels, and requests beyond it queue; one FIFO over all the seats stands in for the
/// levels and their fair queues.
#[derive(Clone, Debug)]
pub struct Server {
    cfg: ApiConfig,
    free: u64,
    /// Requests waiting for a seat: (id, verb, etcd watch deliveries if a write).
    waiting: VecDeque<(u64, Verb, u32)>,
    etcd_free: SimTime,
    /// Time etcd was booked, in ns (work running past a time included).
    etcd_booked_ns: u128,
    /// Watch events etcd sent.
    pub etcd_watch_events: u64,
}

impl Server {
    pub fn new(cfg: &ApiConfig) -> Server {
        Server {
            free: u64::from(cfg.max_requests_inflight) + u64::from(cfg.max_mutating_inflight),
            cfg: cfg.clone(),
            waiting: VecDeque::new(),
            etcd_free: SimTime::ZERO,
            etcd_booked_ns: 0,
            etcd_watch_events: 0,
        }
    }

    /// Request `id` reaches the API server at `now`; `watchers` are the pod watchers a write
    /// notifies. Returns when it is answered if it got a seat, `None` if it waits for one
    /// (then [`Server::finish`] starts it). A read served from the cache takes no seat.
    pub fn arrive(&mut self, now: SimTime, verb: Verb, id: u64, watchers: u32) -> Option<SimTime> {
        if verb == Verb::Read && self.cfg.cache_reads {
            return Some(now);
        }
        if self.free == 0 {
            self.waiting.push_back((id, verb, watchers));
            return None;
        }
        self.free -= 1;
        Some(self.etcd(now, verb, watchers))
    }

    /// A request of `verb` was answered at `now`: its seat goes to the next waiting request,
    /// returned with when it will be answered.
    pub fn finish(&mut self, now: SimTime, verb: Verb) -> Option<(u64, SimTime)> {
        if verb == Verb::Read && self.cfg.cache_reads {
            return None;
        }
        match self.waiting.pop_front() {
            Some((id, verb, watchers)) => Some((id, self.etcd(now, verb, watchers))),
            None => {
                self.free += 1;
                None
            }
        }
    }

    /// Time etcd was busy up to `end`, in ns.
    pub fn etcd_busy_ns(&self, end: SimTime) -> u128 {
        let overhang = self.etcd_free.since(end.min(self.etcd_free)).as_nanos();
        self.etcd_booked_ns.saturating_sub(u128::from(overhang))
    }

    /// One operation on etcd from `now`: when it is answered.
    fn etcd(&mut self, now: SimTime, verb: Verb, watchers: u32) -> SimTime {
        let cost = match verb {
            Verb::Read => self.cfg.etcd_read,
            Verb::Write => self.cfg.etcd_write,
        };
        let begin = now.max(self.etcd_free);
        let events = match verb {
            Verb::Read => 0,
            // The API server's one watch on the pods prefix, fed to every watcher from its
            // cache, or every watcher's own.
            Verb::Write if self.cfg.watch_cache => watchers.min(1),
            Verb::Write => watchers,
        };
        self.etcd_watch_events += u64::from(events);
        let busy = cost.service + self.cfg.etcd_watch_event.saturating_mul(u64::from(events));
        self.etcd_free = begin + busy;
        self.etcd_booked_ns += u128::from(busy.as_nanos());
        begin + cost.latency.max(cost.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(x)
    }

    #[test]
    fn the_defaults_load_with_every_key_sourced() {
        let d = defaults();
        assert_eq!(d.values.len(), KEYS.len());
        for (key, (_, source)) in &d.values {
            assert!(source.len() > 20, "{key}: {source}");
        }
        let c = ApiConfig::upstream();
        assert_eq!(
            c.scheduler,
            Limit {
                qps: Some(50.0),
                burst: 100
            }
        );
        assert_eq!(
            c.controller,
            Limit {
                qps: Some(20.0),
                burst: 30
            }
        );
        assert_eq!(c.etcd_write.service, SimDuration(22_552));
    }

    /// client-go's bucket: `burst` requests go at once, then one every 1/qps; after idling
    /// it is full again.
    #[test]
    fn the_token_bucket_lets_a_burst_through_then_paces() {
        let mut b = TokenBucket::new(Limit {
            qps: Some(50.0),
            burst: 3,
        })
        .unwrap();
        let go: Vec<u64> = (0..6)
            .map(|_| b.reserve(ms(0)).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(go, [0, 0, 0, 20, 40, 60]);
        // Idle for a second: three tokens again.
        let go: Vec<u64> = (0..4)
            .map(|_| b.reserve(ms(1000)).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(go, [1000, 1000, 1000, 1020]);
        assert!(TokenBucket::new(Limit {
            qps: None,
            burst: 1
        })
        .is_none());
    }

    /// Closed-loop clients against the etcd model, as etcd's `benchmark` tool runs them:
    /// each client sends its next request when the last one is answered.
    fn closed_loop(cfg: &ApiConfig, verb: Verb, clients: u64, total: u64) -> (f64, f64) {
        let mut s = Server::new(&ApiConfig {
            max_mutating_inflight: u32::MAX,
            max_requests_inflight: u32::MAX,
            ..cfg.clone()
        });
        // (answer time, client) in time order.
        let mut next: std::collections::BTreeSet<(SimTime, u64)> = (0..clients)
            .map(|c| (s.arrive(SimTime::ZERO, verb, c, 0).unwrap(), c))
            .collect();
        let (mut done, mut latency, mut end) = (0u64, 0u128, SimTime::ZERO);
        let mut sent: BTreeMap<u64, SimTime> = (0..clients).map(|c| (c, SimTime::ZERO)).collect();
        while done < total {
            let (t, c) = next.pop_first().unwrap();
            s.finish(t, verb);
            latency += u128::from(t.since(sent[&c]).as_nanos());
            done += 1;
            end = t;
            sent.insert(c, t);
            next.insert((s.arrive(t, verb, c, 0).unwrap(), c));
        }
        let qps = done as f64 / end.as_secs_f64();
        (qps, latency as f64 / done as f64 / 1e6)
    }

    /// The etcd model against etcd's documented benchmark (etcd v3.5 docs,
    /// op-guide/performance.md): writes 583 QPS at 1.6 ms from one client, 44,341 QPS at 22 ms
    /// from 1,000; linearizable reads 1,353 QPS at 0.7 ms from one, 141,578 QPS at 5.5 ms from
    /// 1,000. One client's QPS is the inverse of the latency in the model (the benchmark's own
    /// client overhead is not in it: 625 against 583), the many-client rows are the model's
    /// throughput exactly, and their latency follows from Little's law.
    #[test]
    fn the_etcd_model_reproduces_etcds_benchmark_table() {
        let cfg = ApiConfig::upstream();
        let (qps, lat) = closed_loop(&cfg, Verb::Write, 1, 10_000);
        assert!((qps / 583.0 - 1.0).abs() < 0.08, "{qps}");
        assert!((lat - 1.6).abs() < 0.01, "{lat}");
        let (qps, lat) = closed_loop(&cfg, Verb::Write, 1000, 100_000);
        assert!((qps / 44_341.0 - 1.0).abs() < 0.01, "{qps}");
        assert!((lat / 22.0 - 1.0).abs() < 0.05, "{lat}");
        let (qps, lat) = closed_loop(&cfg, Verb::Read, 1, 10_000);
        assert!((qps / 1_353.0 - 1.0).abs() < 0.08, "{qps}");
        assert!((lat - 0.7).abs() < 0.01, "{lat}");
        let (qps, _) = closed_loop(&cfg, Verb::Read, 1000, 100_000);
        assert!((qps / 141_578.0 - 1.0).abs() < 0.01, "{qps}");
    }

    #[test]
    fn seats_are_handed_on_in_order() {
        let cfg = ApiConfig {
            max_mutating_inflight: 1,
            max_requests_inflight: 1,
            ..ApiConfig::upstream()
        };
        let mut s = Server::new(&cfg);
        let first = s.arrive(SimTime::ZERO, Verb::Write, 1, 0).unwrap();
        s.arrive(SimTime::ZERO, Verb::Write, 2, 0).unwrap();
        assert_eq!(s.arrive(SimTime::ZERO, Verb::Read, 3, 0), None);
        assert_eq!(s.arrive(SimTime::ZERO, Verb::Write, 4, 0), None);
        let (id, third) = s.finish(first, Verb::Write).unwrap();
        assert_eq!(id, 3);
        assert_eq!(third, first + cfg.etcd_read.latency);
        assert_eq!(s.finish(third, Verb::Read).unwrap().0, 4);
        // etcd's busy time up to a moment leaves out what runs past it.
        assert!(s.etcd_busy_ns(SimTime::ZERO) == 0);
    }

    /// Without the watch cache every watcher's etcd watch gets each write's event, so etcd's
    /// write throughput falls with the number of nodes.
    #[test]
    fn without_the_watch_cache_etcd_pays_per_watcher() {
        let cached = ApiConfig::upstream();
        let direct = ApiConfig {
            watch_cache: false,
            ..cached.clone()
        };
        let mut a = Server::new(&cached);
        let mut b = Server::new(&direct);
        for i in 0..100 {
            a.arrive(SimTime::ZERO, Verb::Write, i, 1002);
            b.arrive(SimTime::ZERO, Verb::Write, i, 1002);
        }
        assert_eq!(a.etcd_watch_events, 100);
        assert_eq!(b.etcd_watch_events, 100_200);
        let end = SimTime::ZERO + SimDuration::from_secs(10);
        assert!(b.etcd_busy_ns(end) > 100 * a.etcd_busy_ns(end));
    }
}
