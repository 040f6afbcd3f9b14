//! CPU time as the kernel counts it (/proc/stat), so a test's cost includes the softirq work
//! of every namespace's datapath, the daemons' and the traffic tools' own.

use std::time::Instant;

/// A reading of the machine-wide CPU counters.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    /// user + nice + system + irq + softirq, in clock ticks (guest time is inside user).
    busy_ticks: u64,
    at: Instant,
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Parses the aggregate `cpu` line of /proc/stat into busy ticks. Steal time is the
/// hypervisor's, idle and iowait are nobody's: none of them is counted.
fn busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal …
    if v.len() < 7 {
        return None;
    }
    Some(v[0] + v[1] + v[2] + v[5] + v[6])
}

/// Reads the counters now.
pub fn sample() -> std::io::Result<CpuSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let busy_ticks = busy_ticks(&stat).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "/proc/stat has no cpu line",
        )
    })?;
    Ok(CpuSample {
        busy_ticks,
        at: Instant::now(),
    })
}

impl CpuSample {
    /// CPU seconds spent on all CPUs between `self` and `later`.
    pub fn busy_s_until(&self, later: &CpuSample) -> f64 {
        later.busy_ticks.saturating_sub(self.busy_ticks) as f64 / ticks_per_s()
    }

    /// Wall seconds between the two readings.
    pub fn wall_s_until(&self, later: &CpuSample) -> f64 {
        later.at.duration_since(self.at).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_iowait_and_steal() {
        let stat = "cpu  100 5 50 9000 40 3 7 11 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(busy_ticks(stat), Some(100 + 5 + 50 + 3 + 7));
        assert_eq!(busy_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn the_counters_move_while_this_process_works() {
        let a = sample().unwrap();
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = sample().unwrap();
        assert!(a.busy_s_until(&b) >= 0.2, "{}", a.busy_s_until(&b));
        assert!(a.wall_s_until(&b) >= 0.3);
    }
}
