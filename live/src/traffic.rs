//! Our own traffic tools, so live mode does not depend on iperf or netperf being installed:
//! a TCP stream test (goodput, as `iperf3` measures it), a TCP request/response test (round
//! trips and their latency percentiles, as `netperf -t TCP_RR`) and a UDP test (what arrives of
//! a blast of datagrams). Sockets are opened inside the pods' namespaces and used from plain
//! threads of this process, like a client and a server process would.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cpu;
use crate::datapath::{Pod, PORTS};
use crate::lab;
use crate::sys;
use crate::LiveError;

/// How long a connection attempt or a stalled read or write may take before the test fails.
const STALL: Duration = Duration::from_secs(5);

/// The result of a TCP stream test.
#[derive(Clone, Debug, Serialize)]
pub struct Stream {
    pub flows: u32,
    pub bytes: u64,
    pub seconds: f64,
    pub gbps: f64,
    /// CPU seconds on all CPUs while it ran (/proc/stat), everything on the machine included.
    pub cpu_s: f64,
    pub cpu_s_per_gbit: f64,
}

/// The result of a TCP request/response test.
#[derive(Clone, Debug, Serialize)]
pub struct RequestResponse {
    pub transactions: u64,
    pub per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
}

/// The result of a UDP test.
#[derive(Clone, Debug, Serialize)]
pub struct Udp {
    pub datagram_bytes: u32,
    pub sent_gbps: f64,
    pub received_gbps: f64,
    /// Datagrams sent but not received, as a share of those sent.
    pub loss: f64,
}

fn traffic_err(test: &str, e: impl std::fmt::Display) -> LiveError {
    LiveError::Traffic {
        test: test.to_string(),
        message: e.to_string(),
    }
}

fn listen(ns: &str, port: u16) -> Result<TcpListener, LiveError> {
    sys::in_netns(ns, move || {
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
    })
}

fn connect(src: &Pod, dst: &Pod, port: u16, n: u32) -> Result<Vec<TcpStream>, LiveError> {
    let to = SocketAddr::V4(SocketAddrV4::new(dst.reach, port));
    sys::in_netns(&src.ns, move || {
        (0..n)
            .map(|_| {
                let s = TcpStream::connect_timeout(&to, STALL)?;
                s.set_read_timeout(Some(STALL))?;
                s.set_write_timeout(Some(STALL))?;
                Ok(s)
            })
            .collect()
    })
    .map_err(|e| {
        traffic_err(
            "connect",
            format!("{} → {} ({to}): {e}", src.name, dst.name),
        )
    })
}

fn accept(listener: &TcpListener, n: u32) -> Result<Vec<TcpStream>, LiveError> {
    (0..n)
        .map(|_| {
            let (s, _) = listener.accept().map_err(|e| traffic_err("accept", e))?;
            s.set_read_timeout(Some(STALL))
                .and_then(|_| s.set_write_timeout(Some(STALL)))
                .map_err(|e| traffic_err("accept", e))?;
            Ok(s)
        })
        .collect()
}

/// Whether `src` can open a TCP connection to `dst` on `port` within `timeout` (a dropped
/// SYN is a timeout, a refused one an answer too: both are "no"). Something must listen.
pub fn can_connect(src: &Pod, dst: &Pod, port: u16, timeout: Duration) -> Result<bool, LiveError> {
    let to = SocketAddr::V4(SocketAddrV4::new(dst.reach, port));
    sys::in_netns(&src.ns, move || {
        Ok(TcpStream::connect_timeout(&to, timeout).is_ok())
    })
}

/// A TCP listener on `port` in `pod`'s namespace, for [`can_connect`] to knock on.
pub fn listener(pod: &Pod, port: u16) -> Result<TcpListener, LiveError> {
    listen(&pod.ns, port)
}

/// `flows` TCP connections from `src` to `dst`, each writing `msg_size`-byte buffers for
/// `duration`. Goodput is what the receiver read, over the time from the first write to the
/// last byte read.
pub fn stream(
    src: &Pod,
    dst: &Pod,
    flows: u32,
    duration: Duration,
    msg_size: usize,
) -> Result<Stream, LiveError> {
    let listener = listen(&dst.ns, PORTS[0])?;
    let clients = connect(src, dst, PORTS[0], flows)?;
    let servers = accept(&listener, flows)?;
    let before = cpu::sample().map_err(|e| traffic_err("stream", e))?;
    let start = Instant::now();
    let (received, end) = std::thread::scope(|s| {
        let readers: Vec<_> = servers
            .into_iter()
            .map(|mut conn| {
                s.spawn(move || {
                    let mut buf = vec![0u8; 256 << 10];
                    let mut n = 0u64;
                    let mut last = Instant::now();
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) => return Ok((n, last)),
                            Ok(k) => {
                                n += k as u64;
                                last = Instant::now();
                            }
                            Err(e) => return Err(e),
                        }
                    }
                })
            })
            .collect();
        let writers: Vec<_> = clients
            .into_iter()
            .map(|mut conn| {
                s.spawn(move || {
                    let buf = vec![0x5au8; msg_size];
                    while start.elapsed() < duration && !lab::interrupted() {
                        conn.write_all(&buf)?;
                    }
                    conn.shutdown(Shutdown::Write)
                })
            })
            .collect();
        let mut failure = None;
        for w in writers {
            if let Err(e) = w.join().expect("a writer thread does not panic") {
                failure.get_or_insert(e);
            }
        }
        let mut total = 0u64;
        let mut end = start;
        for r in readers {
            match r.join().expect("a reader thread does not panic") {
                Ok((n, last)) => {
                    total += n;
                    end = end.max(last);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(traffic_err("stream", e)),
            None => Ok((total, end)),
        }
    })?;
    let after = cpu::sample().map_err(|e| traffic_err("stream", e))?;
    if lab::interrupted() {
        return Err(LiveError::Interrupted);
    }
    let seconds = end.duration_since(start).as_secs_f64();
    if received == 0 || seconds <= 0.0 {
        return Err(traffic_err(
            "stream",
            format!("nothing arrived from {} at {}", src.name, dst.name),
        ));
    }
    let gbps = received as f64 * 8.0 / seconds / 1e9;
    let cpu_s = before.busy_s_until(&after);
    Ok(Stream {
        flows,
        bytes: received,
        seconds,
        gbps,
        cpu_s,
        cpu_s_per_gbit: cpu_s / (received as f64 * 8.0 / 1e9),
    })
}

/// The `q` quantile (0–1) of sorted samples: the smallest value at or above that share.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One TCP connection (no Nagle) on which `src` sends a `msg_size`-byte request and `dst`
/// answers with as many bytes, back to back, for `duration`.
pub fn request_response(
    src: &Pod,
    dst: &Pod,
    duration: Duration,
    msg_size: usize,
) -> Result<RequestResponse, LiveError> {
    let listener = listen(&dst.ns, PORTS[1])?;
    let mut client = connect(src, dst, PORTS[1], 1)?.remove(0);
    let mut server = accept(&listener, 1)?.remove(0);
    client
        .set_nodelay(true)
        .and_then(|_| server.set_nodelay(true))
        .map_err(|e| traffic_err("request/response", e))?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; msg_size];
        loop {
            match server.read_exact(&mut buf) {
                Ok(()) => server.write_all(&buf)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    let req = vec![0x5au8; msg_size];
    let mut resp = vec![0u8; msg_size];
    let mut lat_us = Vec::new();
    let start = Instant::now();
    let mut result = Ok(());
    while start.elapsed() < duration && !lab::interrupted() {
        let t = Instant::now();
        if let Err(e) = client
            .write_all(&req)
            .and_then(|_| client.read_exact(&mut resp))
        {
            result = Err(e);
            break;
        }
        lat_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = client.shutdown(Shutdown::Write);
    let served = echo.join().expect("the echo thread does not panic");
    result
        .and(served)
        .map_err(|e| traffic_err("request/response", e))?;
    if lab::interrupted() {
        return Err(LiveError::Interrupted);
    }
    if lat_us.is_empty() {
        return Err(traffic_err("request/response", "no exchange completed"));
    }
    lat_us.sort_by(f64::total_cmp);
    Ok(RequestResponse {
        transactions: lat_us.len() as u64,
        per_s: lat_us.len() as f64 / seconds,
        p50_us: quantile(&lat_us, 0.50),
        p99_us: quantile(&lat_us, 0.99),
        p999_us: quantile(&lat_us, 0.999),
    })
}

/// `src` sends `datagram_bytes`-byte UDP datagrams to `dst` as fast as the socket takes them
/// for `duration`; `dst` counts what arrives.
pub fn udp(
    src: &Pod,
    dst: &Pod,
    duration: Duration,
    datagram_bytes: u32,
) -> Result<Udp, LiveError> {
    let port = PORTS[2];
    let rx = sys::in_netns(&dst.ns, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        s.set_read_timeout(Some(Duration::from_millis(300)))?;
        Ok(s)
    })?;
    let to = SocketAddrV4::new(dst.reach, port);
    let tx = sys::in_netns(&src.ns, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect(to)?;
        Ok(s)
    })?;
    let size = datagram_bytes as usize;
    let start = Instant::now();
    let (sent, (received, last)) = std::thread::scope(|s| {
        let counter = s.spawn(|| {
            let mut buf = vec![0u8; size + 1];
            let mut n = 0u64;
            let mut last = start;
            // Until the sender is done and nothing more arrives for the read timeout.
            loop {
                match rx.recv(&mut buf) {
                    Ok(k) => {
                        n += k as u64;
                        last = Instant::now();
                    }
                    Err(_) if start.elapsed() > duration => return (n, last),
                    Err(_) => {}
                }
            }
        });
        let buf = vec![0x5au8; size];
        let mut sent = 0u64;
        while start.elapsed() < duration && !lab::interrupted() {
            // A full socket buffer (ENOBUFS) drops the datagram: it was not sent.
            if tx.send(&buf).is_ok() {
                sent += size as u64;
            }
        }
        (
            sent,
            counter.join().expect("the counting thread does not panic"),
        )
    });
    if lab::interrupted() {
        return Err(LiveError::Interrupted);
    }
    let secs = duration.as_secs_f64();
    // What arrived, over the time it took to arrive (datagrams queued at the end arrive after
    // the sender stopped).
    let rx_secs = last.duration_since(start).as_secs_f64().max(secs);
    if received == 0 {
        return Err(traffic_err(
            "udp",
            format!("no datagram from {} arrived at {}", src.name, dst.name),
        ));
    }
    Ok(Udp {
        datagram_bytes,
        sent_gbps: sent as f64 * 8.0 / secs / 1e9,
        received_gbps: received as f64 * 8.0 / rx_secs / 1e9,
        loss: 1.0 - received as f64 / sent.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_the_smallest_sample_at_or_above_the_share() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 500.0);
        assert_eq!(quantile(&v, 0.99), 990.0);
        assert_eq!(quantile(&v, 0.999), 999.0);
        assert_eq!(quantile(&[7.0], 0.999), 7.0);
    }
}
