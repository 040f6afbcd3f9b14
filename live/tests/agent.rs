//! The node agent against what a careless or hostile caller sends — a wrong token, an unknown
//! command, a command off its allow-list, 10 MB of garbage, one connection too many — and the
//! controller it keeps serving afterwards: real processes under real cgroup limits, stopped
//! and cleaned up. Runs the agent in a network namespace of its own (root needed).

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use orchsim_live::agent::{Agent, Config};
use orchsim_live::lab::Lab;
use orchsim_live::protocol::{self, Envelope, Request, Response};
use orchsim_live::sys;

const TOKEN: &str = "correct-horse-battery-staple";
const ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 255, 1), 7000);

struct Running {
    ns: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _lab: Lab,
}

impl Running {
    fn connect(&self) -> TcpStream {
        let s = sys::in_netns(&self.ns, || TcpStream::connect(ADDR)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }
}

fn start(max_connections: usize) -> Running {
    let mut lab = Lab::new().unwrap();
    let ns = lab.add_ns("agent").unwrap();
    sys::ip(&ns, &["addr", "add", "198.18.255.1/32", "dev", "lo"]).unwrap();
    let listener = sys::in_netns(&ns, || TcpListener::bind(ADDR)).unwrap();
    let agent = Arc::new(Agent::new(Config {
        token: TOKEN.into(),
        name: "node-0".into(),
        cpu_milli: 2000,
        memory_mib: 1024,
        labels: vec![("zone".into(), "a".into())],
        allow: vec!["sleep".into()],
        max_connections,
        max_workloads: 4,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || agent.serve(listener, &s).unwrap());
    Running {
        ns,
        stop,
        thread: Some(thread),
        _lab: lab,
    }
}

fn ask(s: &mut TcpStream, token: &str, request: Request) -> Response {
    protocol::write_line(
        s,
        &Envelope {
            token: token.into(),
            request,
        },
    )
    .unwrap();
    answer(s)
}

fn answer(s: &mut TcpStream) -> Response {
    let line = protocol::read_line(&mut BufReader::new(s.try_clone().unwrap()))
        .unwrap()
        .expect("an answer");
    serde_json::from_slice(&line).unwrap()
}

fn message(r: Response) -> String {
    match r {
        Response::Error { message } => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive: its state is `Z` in /proc/<pid>/stat.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn the_agent_refuses_strangers_and_garbage_and_keeps_serving_its_controller() {
    let agent = start(8);
    let mut controller = agent.connect();

    // A wrong token: refused, and that connection is closed.
    let mut stranger = agent.connect();
    let m = message(ask(
        &mut stranger,
        "guess-guess-guess-guess",
        Request::Heartbeat,
    ));
    assert!(m.contains("unauthenticated"), "{m}");
    assert!(protocol::read_line(&mut BufReader::new(stranger))
        .unwrap()
        .is_none());

    // An unknown command (not a request this agent knows) and a command off the allow-list.
    let mut s = agent.connect();
    s.write_all(format!("{{\"token\":\"{TOKEN}\",\"op\":\"format_disk\"}}\n").as_bytes())
        .unwrap();
    let m = message(answer(&mut s));
    assert!(
        m.contains("malformed request") && m.contains("format_disk"),
        "{m}"
    );
    // A malformed request closes its connection too: no stranger keeps a slot.
    assert!(protocol::read_line(&mut BufReader::new(s))
        .unwrap()
        .is_none());
    let mut s = agent.connect();
    let m = message(ask(
        &mut s,
        TOKEN,
        Request::Start {
            id: "evil".into(),
            command: "rm".into(),
            args: vec!["-rf".into(), "/".into()],
            cpu_milli: 100,
            memory_mib: 10,
        },
    ));
    assert!(m.contains("not allowed") && m.contains("sleep"), "{m}");

    // 10 MB of garbage without a newline: an error answer, then the connection is closed.
    let mut g = agent.connect();
    let mut reader = g.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'#'; 1 << 20];
        for _ in 0..10 {
            if g.write_all(&chunk).is_err() {
                break; // the agent hung up, as it should
            }
        }
    });
    let m = message(answer(&mut reader));
    assert!(m.contains("longer than"), "{m}");
    writer.join().unwrap();

    // The controller is still served: start a workload under limits, see it, stop it.
    let started = ask(
        &mut controller,
        TOKEN,
        Request::Start {
            id: "pod-1".into(),
            command: "sleep".into(),
            args: vec!["30".into()],
            cpu_milli: 250,
            memory_mib: 64,
        },
    );
    let Response::Started { pid, .. } = started else {
        panic!("{started:?}")
    };
    assert!(alive(pid));
    let Response::Node(state) = ask(&mut controller, TOKEN, Request::Heartbeat) else {
        panic!("no heartbeat")
    };
    assert_eq!(state.name, "node-0");
    assert_eq!((state.cpu_milli, state.memory_mib), (2000, 1024));
    assert_eq!(state.workloads.len(), 1);
    assert_eq!(state.workloads[0].exit, None);
    // The limit is the kernel's: the process is in a cgroup whose quota is 250 millicores.
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line = cgroups
        .lines()
        .find(|l| l.contains("orchsim-agent-"))
        .unwrap_or_else(|| {
            panic!(
                "pod-1 is not in an agent cgroup ({}):\n{cgroups}",
                state.limits
            )
        });
    let rel = line.splitn(3, ':').nth(2).unwrap();
    if state.limits == "cgroup v2" {
        let max = std::fs::read_to_string(format!("/sys/fs/cgroup{rel}/cpu.max")).unwrap();
        assert_eq!(max.trim(), "25000 100000");
    } else {
        assert_eq!(state.limits, "cgroup v1");
        let quota =
            std::fs::read_to_string(format!("/sys/fs/cgroup/cpu{rel}/cpu.cfs_quota_us")).unwrap();
        assert_eq!(quota.trim(), "25000");
        let mem =
            std::fs::read_to_string(format!("/sys/fs/cgroup/memory{rel}/memory.limit_in_bytes"))
                .unwrap();
        assert_eq!(mem.trim(), (64u64 << 20).to_string());
    }
    assert_eq!(
        ask(&mut controller, TOKEN, Request::Stop { id: "pod-1".into() }),
        Response::Stopped { id: "pod-1".into() }
    );
    assert!(!alive(pid), "stop kills the process");
    let m = message(ask(
        &mut controller,
        TOKEN,
        Request::Stop { id: "pod-1".into() },
    ));
    assert!(m.contains("no workload"), "{m}");

    // A workload left running is killed when the agent stops, and its cgroups go with it.
    let Response::Started { pid, .. } = ask(
        &mut controller,
        TOKEN,
        Request::Start {
            id: "pod-2".into(),
            command: "sleep".into(),
            args: vec!["30".into()],
            cpu_milli: 100,
            memory_mib: 16,
        },
    ) else {
        panic!("pod-2 did not start")
    };
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = cg
        .lines()
        .find(|l| l.contains("orchsim-agent-"))
        .unwrap()
        .splitn(3, ':')
        .nth(2)
        .unwrap()
        .to_string();
    drop(controller);
    agent.stop();
    assert!(!alive(pid), "the agent's exit kills its workloads");
    let root = rel
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap()
        .to_string();
    for base in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/memory",
    ] {
        assert!(
            !Path::new(base).join(&root).exists(),
            "{base}/{root} left behind"
        );
    }
}

#[test]
fn one_connection_too_many_is_told_so() {
    let agent = start(2);
    let mut a = agent.connect();
    let _b = agent.connect();
    // Both are being served before the third arrives.
    assert!(matches!(
        ask(&mut a, TOKEN, Request::Heartbeat),
        Response::Node(_)
    ));
    std::thread::sleep(Duration::from_millis(100));
    let mut c = agent.connect();
    let m = message(answer(&mut c));
    assert!(m.contains("too many connections"), "{m}");
    drop(a);
    agent.stop();
}

/// A stranger that trickles a request a byte at a time, never finishing a line, loses its
/// connection once the time to authenticate is up, and its slot serves the controller.
#[test]
fn a_trickling_stranger_cannot_keep_a_slot() {
    let agent = start(1);
    let mut stranger = agent.connect();
    let t0 = std::time::Instant::now();
    let trickle = std::thread::spawn(move || {
        // Every 100 ms, well inside the agent's 200 ms read timeout.
        while t0.elapsed() < Duration::from_secs(15) {
            if stranger.write_all(b"{").is_err() {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    });
    let cut = trickle.join().unwrap().expect("the agent never hung up");
    assert!(
        cut < Duration::from_secs(8),
        "cut after {cut:?}, not after about 5 s"
    );
    let mut controller = agent.connect();
    assert!(matches!(
        ask(&mut controller, TOKEN, Request::Heartbeat),
        Response::Node(_)
    ));
    drop(controller);
    agent.stop();
}
