//! `agent`: the node agent live mode drives, as a command — its token read, its labels and
//! bounds checked, listening until Ctrl-C (then its workloads are killed and its cgroups
//! removed).

use std::path::PathBuf;

use crate::error::Error;

/// `agent`'s request.
#[derive(Clone, Debug)]
pub struct AgentRequest {
    /// `ADDR:PORT` to listen on.
    pub listen: String,
    pub token_file: PathBuf,
    /// Default: this machine's hostname.
    pub name: Option<String>,
    /// Default: every CPU.
    pub cpu_milli: Option<u64>,
    /// Default: all memory (MemTotal).
    pub memory_mib: Option<u64>,
    /// `key=value` labels.
    pub labels: Vec<String>,
    pub allow: Vec<String>,
    pub max_connections: usize,
    pub max_workloads: usize,
}

fn mem_total_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(1024, |kb| kb / 1024)
}

/// `agent`: serve a controller until Ctrl-C; `ready` hears the address once listening.
pub fn agent(r: &AgentRequest, ready: &mut dyn FnMut(&str)) -> Result<(), Error> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let token = orchsim_live::agent::read_token(&r.token_file)?;
    let labels = r
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Error::bad_input(format!("--labels: expected key=value, found `{l}`"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if r.max_connections == 0 || r.max_workloads == 0 {
        return Err(Error::bad_input(
            "--max-connections and --max-workloads must be at least 1",
        ));
    }
    if r.max_workloads > orchsim_live::protocol::MAX_WORKLOADS {
        return Err(Error::bad_input(format!(
            "--max-workloads: at most {} (a heartbeat lists every workload in one message of at most {} KiB)",
            orchsim_live::protocol::MAX_WORKLOADS,
            orchsim_live::protocol::MAX_MESSAGE >> 10
        )));
    }
    let name = r.name.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "node".into())
    });
    let listener = std::net::TcpListener::bind(&r.listen)
        .map_err(|e| Error::bad_input(format!("--listen {}: {e}", r.listen)))?;
    let at = listener.local_addr()?;
    let agent = Arc::new(orchsim_live::agent::Agent::new(
        orchsim_live::agent::Config {
            token,
            name: name.clone(),
            cpu_milli: r
                .cpu_milli
                .unwrap_or(orchsim_live::sys::cpus() as u64 * 1000),
            memory_mib: r.memory_mib.unwrap_or_else(mem_total_mib),
            labels,
            allow: r.allow.clone(),
            max_connections: r.max_connections,
            max_workloads: r.max_workloads,
        },
    ));
    orchsim_live::lab::install_interrupt_handler();
    ready(&format!(
        "agent {name} listening on {at}; allowed commands: {}",
        if r.allow.is_empty() {
            "none (--allow)".to_string()
        } else {
            r.allow.join(", ")
        }
    ));
    agent.serve(listener, &Arc::new(AtomicBool::new(false)))?;
    Ok(())
}
