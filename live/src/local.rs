//! Agents on this machine for `live run --local`: one host namespace per node on the
//! underlay, a real `orchsim agent` process in each (started with `ip netns exec`), a fresh
//! random token, and the faults the controller does to them. Dropping it stops the agents
//! (which kill their workloads), removes what a killed agent left and the namespaces.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orchsim_net::{Base, Datapath};
use orchsim_sched::NodeInfo;

use crate::controller::{AgentLink, FaultKind};
use crate::datapath::{self, Network, Topology};
use crate::{sys, LiveError};

/// The port local agents listen on.
pub const AGENT_PORT: u16 = 7070;

/// Agents running in namespaces of this machine.
pub struct LocalCluster {
    agents: Vec<Arc<Mutex<Option<Child>>>>,
    names: Vec<String>,
    token_file: PathBuf,
    pub token: String,
    net: Option<Network>,
}

fn agent_addr(i: usize) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(198, 18, 0, i as u8 + 1),
        AGENT_PORT,
    ))
}

fn random_token() -> Result<String, LiveError> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| LiveError::Input(format!("/dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl LocalCluster {
    /// Starts an agent for each of `nodes` (their names, allocatable CPU and memory, labels),
    /// running `exe` (this orchsim binary) with `allow` on its allow-list, and waits until
    /// every one answers.
    pub fn start(exe: &Path, nodes: &[NodeInfo], allow: &str) -> Result<LocalCluster, LiveError> {
        if nodes.is_empty() || nodes.len() > 40 {
            return Err(LiveError::Input(format!(
                "live run --local runs 1 to 40 nodes on this machine, not {}",
                nodes.len()
            )));
        }
        let net = datapath::build(
            Datapath::plain(Base::Host),
            Topology {
                hosts: nodes.len().max(2),
                pods_per_host: 1,
                ..Topology::default()
            },
        )?;
        let token = random_token()?;
        // Token files of runs that were killed (their process is gone) would otherwise stay.
        if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = name
                    .strip_prefix("orchsim-token-")
                    .and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let token_file = std::env::temp_dir().join(format!("orchsim-token-{}", std::process::id()));
        let _ = std::fs::remove_file(&token_file);
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&token_file)
                .map_err(|e| LiveError::Input(format!("{}: {e}", token_file.display())))?;
            writeln!(f, "{token}").map_err(|e| LiveError::Input(e.to_string()))?;
        }
        let mut cluster = LocalCluster {
            agents: Vec::new(),
            names: nodes.iter().map(|n| n.name.clone()).collect(),
            token_file,
            token,
            net: Some(net),
        };
        for (i, n) in nodes.iter().enumerate() {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            // Into the host's network namespace only: `ip netns exec` would also remount /sys,
            // hiding /sys/fs/cgroup and with it every workload limit.
            let ns_path = format!("/run/netns/{}", cluster.net().hosts[i]);
            let ns = std::fs::File::open(&ns_path)
                .map_err(|e| LiveError::Input(format!("{ns_path}: {e}")))?;
            let ns_fd = {
                use std::os::fd::AsRawFd;
                ns.as_raw_fd()
            };
            let mut cmd = Command::new(exe);
            cmd.args([
                "agent",
                "--listen",
                &agent_addr(i).to_string(),
                "--token-file",
            ])
            .arg(&cluster.token_file)
            .args(["--name", &n.name])
            .args(["--cpu-milli", &n.allocatable.cpu_milli.to_string()])
            .args([
                "--memory-mib",
                &(n.allocatable.memory_bytes >> 20).to_string(),
            ])
            .args(["--allow", allow, "--max-workloads", "256"]);
            if !labels.is_empty() {
                cmd.args(["--labels", &labels.join(",")]);
            }
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only setns(2), async-signal-safe, on a descriptor
            // opened above and held open until spawn returns.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .map_err(|e| LiveError::Input(format!("starting the agent for {}: {e}", n.name)))?;
            drop(ns);
            cluster.agents.push(Arc::new(Mutex::new(Some(child))));
        }
        for (i, node) in nodes.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if cluster.connect(i).is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(LiveError::Input(format!(
                        "the agent for {} did not listen on {} within 10 s",
                        node.name,
                        agent_addr(i)
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(cluster)
    }

    fn net(&self) -> &Network {
        self.net.as_ref().expect("present until drop")
    }

    fn connect(&self, i: usize) -> Result<TcpStream, LiveError> {
        connect_from(&self.net().underlay, i)
    }

    /// How the controller reaches each agent and what a fault does to it.
    pub fn links(&self) -> Vec<AgentLink> {
        (0..self.names.len())
            .map(|i| {
                let underlay = self.net().underlay.clone();
                let host = self.net().hosts[i].clone();
                let agent = self.agents[i].clone();
                AgentLink {
                    node: self.names[i].clone(),
                    connect: Box::new(move || connect_from(&underlay, i)),
                    fault: Box::new(move |kind| match kind {
                        FaultKind::KillAgent => {
                            if let Some(c) =
                                agent.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
                            {
                                let _ = c.kill();
                                let _ = c.wait();
                            }
                            Ok(())
                        }
                        FaultKind::CutLink => {
                            sys::ip(&host, &["link", "set", "eth0", "down"]).map(|_| ())
                        }
                    }),
                }
            })
            .collect()
    }
}

fn connect_from(underlay: &str, i: usize) -> Result<TcpStream, LiveError> {
    let addr = agent_addr(i);
    sys::in_netns(underlay, move || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(100))
    })
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // SIGTERM: each agent kills its workloads and removes its cgroups, then exits.
        for a in &self.agents {
            if let Some(c) = a.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                // SAFETY: kill has no memory effects; the pid is our own child's.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            }
        }
        for a in &self.agents {
            if let Some(mut c) = a.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let deadline = Instant::now() + Duration::from_secs(5);
                while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // What a killed agent left: its workloads and cgroups.
        crate::agent::clean_stale_cgroups();
        let _ = std::fs::remove_file(&self.token_file);
        drop(self.net.take());
    }
}
