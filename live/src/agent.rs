//! The node agent (`orchsim agent`): reports its node's capacity and workloads (the
//! heartbeat), and starts and stops workload processes under CPU and memory limits (cgroup v2,
//! or v1 where that is what the machine mounts), for a controller holding the shared token.
//!
//! It refuses what it was not configured for: a request without the token (compared in
//! constant time), a command not on its allow-list, more connections or workloads than its
//! bounds, a line longer than [`protocol::MAX_MESSAGE`] — each with an error answer, and it
//! keeps serving everyone else. Its cgroups are named `orchsim-agent-<pid>-<n>`; on exit it kills
//! its workloads and removes them, and a later agent removes those of one that crashed.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::protocol::{self, Envelope, NodeState, Request, Response, Workload};
use crate::LiveError;

/// How the agent is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub token: String,
    pub name: String,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub labels: Vec<(String, String)>,
    /// Programs a `start` may run, exactly as named in the request.
    pub allow: Vec<String>,
    pub max_connections: usize,
    pub max_workloads: usize,
}

/// Reads the shared token: the file's first line, at least 16 characters.
pub fn read_token(path: &Path) -> Result<String, LiveError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LiveError::Input(format!("--token-file {}: {e}", path.display())))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.len() < 16 {
        return Err(LiveError::Input(format!(
            "--token-file {}: the token must be at least 16 characters (it has {})",
            path.display(),
            token.len()
        )));
    }
    Ok(token)
}

/// Where workload limits are written.
#[derive(Clone, Debug)]
enum Limits {
    V2(PathBuf),
    V1 { cpu: PathBuf, memory: PathBuf },
    Unavailable(String),
}

const CGROUP: &str = "/sys/fs/cgroup";

static NEXT_AGENT: AtomicUsize = AtomicUsize::new(0);

/// How long a new connection may take to send its first authenticated request.
const AUTH_WITHIN: Duration = Duration::from_secs(5);

/// A connection's reading side that fails with `TimedOut` once `until` has passed, however
/// the bytes arrive: a stranger trickling a line a byte at a time cannot keep its slot.
struct Deadline {
    stream: TcpStream,
    until: Option<Instant>,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.until.is_some_and(|u| Instant::now() > u) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no authenticated request in time",
            ));
        }
        self.stream.read(buf)
    }
}

/// `orchsim-agent-<pid>-<n>`: the process says whether it is stale, `n` tells apart agents of
/// one process (tests run several).
fn cgroup_name() -> String {
    format!(
        "orchsim-agent-{}-{}",
        std::process::id(),
        NEXT_AGENT.fetch_add(1, Ordering::SeqCst)
    )
}

impl Limits {
    fn detect() -> Limits {
        let root = Path::new(CGROUP);
        let name = cgroup_name();
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "cpu")
            && controllers.split_whitespace().any(|c| c == "memory")
        {
            let dir = root.join(&name);
            let made = std::fs::write(root.join("cgroup.subtree_control"), "+cpu +memory")
                .and_then(|_| std::fs::create_dir_all(&dir))
                .and_then(|_| std::fs::write(dir.join("cgroup.subtree_control"), "+cpu +memory"));
            return match made {
                Ok(()) => Limits::V2(dir),
                Err(e) => Limits::Unavailable(format!("cgroup v2 at {CGROUP}: {e}")),
            };
        }
        let (cpu, memory) = (
            root.join("cpu").join(&name),
            root.join("memory").join(&name),
        );
        match std::fs::create_dir_all(&cpu).and_then(|_| std::fs::create_dir_all(&memory)) {
            Ok(()) => Limits::V1 { cpu, memory },
            Err(e) => Limits::Unavailable(format!(
                "neither cgroup v2 with cpu and memory nor cgroup v1 cpu/memory under {CGROUP}: {e}"
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            Limits::V2(_) => "cgroup v2".into(),
            Limits::V1 { .. } => "cgroup v1".into(),
            Limits::Unavailable(why) => format!("none: {why}"),
        }
    }

    /// The workload's cgroup directories, made and limited.
    fn create(&self, id: &str, cpu_milli: u64, memory_mib: u64) -> std::io::Result<Vec<PathBuf>> {
        // CFS: quota per 100 ms period; 1000 millicores = one full period.
        let period = 100_000u64;
        let quota = (cpu_milli * period / 1000).max(1000);
        let bytes = memory_mib << 20;
        match self {
            Limits::V2(root) => {
                let d = root.join(id);
                std::fs::create_dir_all(&d)?;
                std::fs::write(d.join("cpu.max"), format!("{quota} {period}"))?;
                std::fs::write(d.join("memory.max"), bytes.to_string())?;
                Ok(vec![d])
            }
            Limits::V1 { cpu, memory } => {
                let (c, m) = (cpu.join(id), memory.join(id));
                std::fs::create_dir_all(&c)?;
                std::fs::create_dir_all(&m)?;
                std::fs::write(c.join("cpu.cfs_period_us"), period.to_string())?;
                std::fs::write(c.join("cpu.cfs_quota_us"), quota.to_string())?;
                std::fs::write(m.join("memory.limit_in_bytes"), bytes.to_string())?;
                Ok(vec![c, m])
            }
            Limits::Unavailable(_) => Ok(Vec::new()),
        }
    }

    fn roots(&self) -> Vec<PathBuf> {
        match self {
            Limits::V2(root) => vec![root.clone()],
            Limits::V1 { cpu, memory } => vec![cpu.clone(), memory.clone()],
            Limits::Unavailable(_) => Vec::new(),
        }
    }
}

/// Removes the cgroups of agents whose process is gone, killing what is still in them (a
/// crashed agent's workloads); returns the directories removed.
pub fn clean_stale_cgroups() -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for parent in [
        PathBuf::from(CGROUP),
        PathBuf::from(CGROUP).join("cpu"),
        PathBuf::from(CGROUP).join("memory"),
    ] {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("orchsim-agent-")
                .and_then(|p| p.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            let Some(pid) = pid else {
                continue;
            };
            if Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            remove_tree(&e.path());
            removed.push(e.path());
        }
    }
    removed
}

/// Kills every process in a cgroup tree and removes its directories, deepest first.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill has no memory effects; the pids are the cgroup's own members.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        // A killed process leaves its cgroup a moment after the signal.
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Running {
    child: Child,
    cgroups: Vec<PathBuf>,
    cpu_milli: u64,
    memory_mib: u64,
    exit: Option<i32>,
}

impl Running {
    fn poll(&mut self) {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                use std::os::unix::process::ExitStatusExt;
                self.exit = Some(
                    status
                        .code()
                        .unwrap_or_else(|| -status.signal().unwrap_or(0)),
                );
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for d in &self.cgroups {
            remove_tree(d);
        }
    }
}

/// A running agent's state, shared by its connections.
pub struct Agent {
    config: Config,
    limits: Limits,
    workloads: Mutex<BTreeMap<String, Running>>,
    connections: AtomicUsize,
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

impl Agent {
    /// An agent with `config`; its cgroups are made now (and stale ones removed).
    pub fn new(config: Config) -> Agent {
        clean_stale_cgroups();
        Agent {
            limits: Limits::detect(),
            config,
            workloads: Mutex::new(BTreeMap::new()),
            connections: AtomicUsize::new(0),
        }
    }

    fn state(&self) -> NodeState {
        let mut w = self.workloads.lock().unwrap_or_else(|e| e.into_inner());
        let workloads = w
            .iter_mut()
            .map(|(id, r)| {
                r.poll();
                Workload {
                    id: id.clone(),
                    pid: r.child.id(),
                    cpu_milli: r.cpu_milli,
                    memory_mib: r.memory_mib,
                    exit: r.exit,
                }
            })
            .collect();
        NodeState {
            name: self.config.name.clone(),
            cpu_milli: self.config.cpu_milli,
            memory_mib: self.config.memory_mib,
            labels: self.config.labels.clone(),
            limits: self.limits.describe(),
            workloads,
        }
    }

    fn handle(&self, request: Request) -> Response {
        match request {
            Request::Heartbeat => Response::Node(self.state()),
            Request::Start {
                id,
                command,
                args,
                cpu_milli,
                memory_mib,
            } => self.start(id, command, args, cpu_milli, memory_mib),
            Request::Stop { id } => {
                let r = self
                    .workloads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                match r {
                    Some(r) => {
                        r.kill();
                        Response::Stopped { id }
                    }
                    None => error(format!("no workload `{id}`")),
                }
            }
        }
    }

    fn start(
        &self,
        id: String,
        command: String,
        args: Vec<String>,
        cpu_milli: u64,
        memory_mib: u64,
    ) -> Response {
        if !self.config.allow.contains(&command) {
            return error(format!(
                "command `{command}` is not allowed on this agent (allowed: {})",
                if self.config.allow.is_empty() {
                    "none; start the agent with --allow".into()
                } else {
                    self.config.allow.join(", ")
                }
            ));
        }
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            || id.starts_with('.')
        {
            return error("a workload id is 1 to 64 letters, digits, `-`, `_` or `.` (not first)");
        }
        if !(1..=1_000_000).contains(&cpu_milli) || !(1..=1 << 20).contains(&memory_mib) {
            return error("cpu_milli must be 1 to 1000000 and memory_mib 1 to 1048576");
        }
        let mut w = self.workloads.lock().unwrap_or_else(|e| e.into_inner());
        if w.contains_key(&id) {
            return error(format!("workload `{id}` exists"));
        }
        if w.len() >= self.config.max_workloads {
            return error(format!(
                "this agent runs at most {} workloads",
                self.config.max_workloads
            ));
        }
        let cgroups = match self.limits.create(&id, cpu_milli, memory_mib) {
            Ok(c) => c,
            Err(e) => return error(format!("cannot limit `{id}`: {e}")),
        };
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let procs: Vec<std::ffi::CString> = cgroups
            .iter()
            .filter_map(|d| {
                std::ffi::CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).ok()
            })
            .collect();
        let mut cmd = Command::new(&command);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: between fork and exec only open(2), write(2) and close(2), all
        // async-signal-safe, on paths made before the fork. Writing 0 moves the writer itself,
        // so the workload is limited (and found by cleanup) before its first instruction.
        unsafe {
            cmd.pre_exec(move || {
                for p in &procs {
                    let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let e = std::io::Error::last_os_error();
                    libc::close(fd);
                    if n != 1 {
                        return Err(e);
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                for d in &cgroups {
                    remove_tree(d);
                }
                return error(format!("cannot start `{command}`: {e}"));
            }
        };
        let pid = child.id();
        w.insert(
            id.clone(),
            Running {
                child,
                cgroups,
                cpu_milli,
                memory_mib,
                exit: None,
            },
        );
        Response::Started { id, pid }
    }

    /// Serves one connection until it closes, it is refused, or `stop` is set.
    /// A peer that does not read its answers cannot hold a thread (and with it shutdown)
    /// longer than a write timeout; one that has not authenticated goes after
    /// [`AUTH_WITHIN`], an idle controller after two minutes, and a malformed or
    /// unauthenticated message closes the connection after its error answer, so no stranger
    /// keeps a connection slot.
    fn serve_connection(&self, stream: TcpStream, stop: &AtomicBool) {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let Ok(mut out) = stream.try_clone() else {
            return;
        };
        let auth_by = Instant::now() + AUTH_WITHIN;
        let mut input = BufReader::new(Deadline {
            stream,
            until: Some(auth_by),
        });
        let mut partial = Vec::new();
        let mut idle = Duration::ZERO;
        let mut authenticated = false;
        while !stop.load(Ordering::SeqCst) {
            let line = match protocol::read_line_into(&mut input, &mut partial) {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    idle += Duration::from_millis(200);
                    if idle > Duration::from_secs(120)
                        || (!authenticated && Instant::now() > auth_by)
                    {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    let _ = protocol::write_line(&mut out, &error(e.to_string()));
                    return;
                }
            };
            idle = Duration::ZERO;
            let envelope: Envelope = match serde_json::from_slice(&line) {
                Ok(e) => e,
                Err(e) => {
                    let _ =
                        protocol::write_line(&mut out, &error(format!("malformed request: {e}")));
                    return;
                }
            };
            if !constant_time_eq::constant_time_eq(
                envelope.token.as_bytes(),
                self.config.token.as_bytes(),
            ) {
                let _ = protocol::write_line(&mut out, &error("unauthenticated: wrong token"));
                return;
            }
            authenticated = true;
            input.get_mut().until = None;
            let answer = self.handle(envelope.request);
            if protocol::write_line(&mut out, &answer).is_err() {
                return;
            }
        }
    }

    /// Accepts connections on `listener` until `stop` is set, then kills every workload and
    /// removes its cgroups.
    pub fn serve(
        self: &Arc<Self>,
        listener: TcpListener,
        stop: &Arc<AtomicBool>,
    ) -> Result<(), LiveError> {
        listener
            .set_nonblocking(true)
            .map_err(|e| LiveError::Input(format!("agent listener: {e}")))?;
        let mut threads = Vec::new();
        while !stop.load(Ordering::SeqCst) && !crate::lab::interrupted() {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    if self.connections.fetch_add(1, Ordering::SeqCst)
                        >= self.config.max_connections
                    {
                        self.connections.fetch_sub(1, Ordering::SeqCst);
                        let mut s = stream;
                        let _ = protocol::write_line(
                            &mut s,
                            &error(format!(
                                "too many connections (at most {})",
                                self.config.max_connections
                            )),
                        );
                        continue;
                    }
                    let (agent, stop) = (self.clone(), stop.clone());
                    threads.push(std::thread::spawn(move || {
                        agent.serve_connection(stream, &stop);
                        agent.connections.fetch_sub(1, Ordering::SeqCst);
                    }));
                    threads.retain(|t| !t.is_finished());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        self.shutdown();
        Ok(())
    }

    /// Kills every workload and removes the agent's cgroups.
    pub fn shutdown(&self) {
        let all = std::mem::take(&mut *self.workloads.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, r) in all {
            r.kill();
        }
        for root in self.limits.roots() {
            remove_tree(&root);
        }
    }
}
