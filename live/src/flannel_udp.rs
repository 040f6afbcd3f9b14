//! flannel's `udp` backend is a userspace daemon: packets for other hosts' pod subnets are
//! routed into a TUN device (`flannel0`), read by flanneld, sent as the payload of a UDP
//! datagram to the destination host's flanneld (port 8285), and written into that host's TUN
//! device. This is that daemon: one thread per host polling its TUN device and its socket, as
//! flannel's `proxy_amd64.c` polls both in one loop.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::sys;
use crate::LiveError;

/// flannel's default UDP port for this backend (flannel `backend/udp`: `Port` default 8285).
pub const PORT: u16 = 8285;

/// `TUNSETIFF` = `_IOW('T', 202, int)` (linux/if_tun.h).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// The running daemons, one per host.
pub struct FlannelUdp {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Opens a TUN device `name` (no packet information header) in the calling thread's namespace.
fn open_tun(name: &str) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value for it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads one ifreq from the pointer, which lives across the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

impl FlannelUdp {
    /// Starts the daemon on every host. `peers[j]` is host `j`'s pod /24 (its first address)
    /// and its underlay address; `mtu` is the TUN device's (underlay MTU − 28).
    pub fn start(
        hosts: &[String],
        peers: &[(Ipv4Addr, Ipv4Addr)],
        mtu: u32,
    ) -> Result<FlannelUdp, LiveError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut daemon = FlannelUdp {
            stop: stop.clone(),
            threads: Vec::new(),
        };
        for (i, ns) in hosts.iter().enumerate() {
            let tun = sys::in_netns(ns, || open_tun("flannel0"))?;
            let (subnet, local) = peers[i];
            let o = subnet.octets();
            sys::ip_batch(
                ns,
                &format!(
                    "addr add {}.{}.{}.0/16 dev flannel0\nlink set flannel0 mtu {mtu} up\n",
                    o[0], o[1], o[2]
                ),
            )?;
            let sock = sys::in_netns(ns, move || UdpSocket::bind(SocketAddrV4::new(local, PORT)))?;
            sock.set_nonblocking(true)
                .map_err(|e| LiveError::Namespace {
                    name: ns.clone(),
                    message: e.to_string(),
                })?;
            let peers = peers.to_vec();
            let stop = stop.clone();
            daemon.threads.push(std::thread::spawn(move || {
                relay(tun, sock, &peers, mtu, &stop)
            }));
        }
        Ok(daemon)
    }

    /// Stops every daemon thread (they notice within 100 ms) and waits for them; their TUN
    /// devices disappear with the file descriptors.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for FlannelUdp {
    /// Also when `start` fails half-way: the hosts already started must not keep their
    /// namespaces alive through the daemon's sockets.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One host's daemon loop.
fn relay(
    mut tun: File,
    sock: UdpSocket,
    peers: &[(Ipv4Addr, Ipv4Addr)],
    mtu: u32,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; mtu as usize + 64];
    let mut fds = [
        libc::pollfd {
            fd: tun.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        if n <= 0 {
            continue;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Ok(len) = tun.read(&mut buf) {
                // IPv4 destination address: bytes 16..20 of the header.
                if len >= 20 && buf[0] >> 4 == 4 {
                    let dst = &buf[16..19];
                    if let Some((_, underlay)) = peers
                        .iter()
                        .find(|(subnet, _)| subnet.octets()[..3] == *dst)
                    {
                        let _ = sock.send_to(&buf[..len], SocketAddrV4::new(*underlay, PORT));
                    }
                }
            }
        }
        if fds[1].revents & libc::POLLIN != 0 {
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                let _ = tun.write(&buf[..len]);
            }
        }
    }
}
