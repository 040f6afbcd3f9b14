//! What the live controller and a node agent say to each other: one JSON object per line over
//! TCP, a request carrying the shared token and an answer to each. A line longer than
//! [`MAX_MESSAGE`] is refused, so no peer can make the other buffer without bound.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// The longest request or answer line, bytes.
pub const MAX_MESSAGE: usize = 64 << 10;

/// The most workloads an agent may run: its heartbeat lists them all in one message, each at
/// most about 150 bytes (a 64-character id and four numbers), so 400 fit in [`MAX_MESSAGE`].
pub const MAX_WORKLOADS: usize = 400;

/// A request as sent: the token on every one (there are no sessions to hijack).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub token: String,
    #[serde(flatten)]
    pub request: Request,
}

/// What a controller may ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The node's state: name, capacity, labels, workloads. Sent every interval, it is the
    /// heartbeat.
    Heartbeat,
    /// Start workload `id`: `command` (on the agent's allow-list) with `args`, limited to
    /// `cpu_milli` and `memory_mib` by a cgroup.
    Start {
        id: String,
        command: String,
        #[serde(default)]
        args: Vec<String>,
        cpu_milli: u64,
        memory_mib: u64,
    },
    /// Stop workload `id` (SIGKILL) and forget it.
    Stop { id: String },
}

/// A workload as the agent reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub id: String,
    pub pid: u32,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    /// `None` while it runs; its exit code (or −signal) once it ended.
    pub exit: Option<i32>,
}

/// A node's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub labels: Vec<(String, String)>,
    /// How workloads are limited: `cgroup v2`, `cgroup v1` or why not.
    pub limits: String,
    pub workloads: Vec<Workload>,
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Node(NodeState),
    Started { id: String, pid: u32 },
    Stopped { id: String },
    Error { message: String },
}

/// Reads one line of at most [`MAX_MESSAGE`] bytes. `Ok(None)` at end of stream; an
/// oversized line is an error of kind `InvalidData` (the rest of it is not read).
pub fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    read_line_into(r, &mut Vec::new())
}

/// [`read_line`] that keeps what it has read of a line in `line` when reading fails, so a
/// read timeout in the middle of a slow message loses nothing: call again with the same
/// buffer. `line` is empty again once a line is returned.
pub fn read_line_into(
    r: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then(|| std::mem::take(line)));
        }
        // Never more than one byte past the limit: enough to know the line is too long.
        let room = (MAX_MESSAGE + 2 - line.len()).min(buf.len());
        let (take, done) = match buf[..room].iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (room, false),
        };
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if line.len() > MAX_MESSAGE + 1 {
            line.clear();
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("message longer than {MAX_MESSAGE} bytes"),
            ));
        }
        if done {
            line.pop();
            return Ok(Some(std::mem::take(line)));
        }
    }
}

/// Writes `v` as one JSON line.
pub fn write_line(w: &mut impl Write, v: &impl Serialize) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    text.push(b'\n');
    w.write_all(&text)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_back_and_unknown_fields_are_refused() {
        let e = Envelope {
            token: "t".into(),
            request: Request::Start {
                id: "p1".into(),
                command: "sleep".into(),
                args: vec!["1".into()],
                cpu_milli: 500,
                memory_mib: 64,
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"op\":\"start\""), "{text}");
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.request, e.request);
        assert!(serde_json::from_str::<Envelope>(r#"{"token":"t","op":"format_disk"}"#).is_err());
    }

    #[test]
    fn a_full_agents_heartbeat_fits_in_one_message() {
        let w = Workload {
            id: "x".repeat(64),
            pid: u32::MAX,
            cpu_milli: 1_000_000,
            memory_mib: 1 << 20,
            exit: Some(-i32::MAX),
        };
        let state = Response::Node(NodeState {
            name: "n".repeat(253),
            cpu_milli: u64::MAX,
            memory_mib: u64::MAX,
            labels: vec![("k".repeat(63), "v".repeat(63)); 16],
            limits: "cgroup v2".into(),
            workloads: vec![w; MAX_WORKLOADS],
        });
        let n = serde_json::to_vec(&state).unwrap().len();
        assert!(n < MAX_MESSAGE, "{n} bytes");
    }

    #[test]
    fn lines_are_bounded() {
        let mut ok = std::io::Cursor::new(b"{\"a\":1}\nrest".to_vec());
        assert_eq!(read_line(&mut ok).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(read_line(&mut ok).unwrap().unwrap(), b"rest");
        assert_eq!(read_line(&mut ok).unwrap(), None);
        // A line whose second half comes after a read timeout comes out whole.
        struct Stalling(Vec<&'static [u8]>);
        impl std::io::Read for Stalling {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.0.first().copied() {
                    None => Ok(0),
                    Some(b"") => {
                        self.0.remove(0);
                        Err(std::io::ErrorKind::TimedOut.into())
                    }
                    Some(chunk) => {
                        buf[..chunk.len()].copy_from_slice(chunk);
                        self.0.remove(0);
                        Ok(chunk.len())
                    }
                }
            }
        }
        let mut slow = std::io::BufReader::new(Stalling(vec![b"{\"a\"", b"", b":1}\n"]));
        let mut part = Vec::new();
        let e = read_line_into(&mut slow, &mut part).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            read_line_into(&mut slow, &mut part).unwrap().unwrap(),
            b"{\"a\":1}"
        );
        let mut big = std::io::Cursor::new(vec![b'x'; MAX_MESSAGE * 3]);
        let e = read_line(&mut big).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            (big.position() as usize) < MAX_MESSAGE * 2,
            "stopped reading early"
        );
    }
}
