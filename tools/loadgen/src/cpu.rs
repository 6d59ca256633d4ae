//! Where the CPU went during a run, from `/proc` (Linux; elsewhere nothing is
//! reported): this process, optionally the server's, and the whole machine.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    at: Instant,
    own_ticks: Option<u64>,
    server_ticks: Option<u64>,
    /// (busy, total) ticks of all cores.
    machine: Option<(u64, u64)>,
    cores: usize,
}

/// CPU use over a window, in cores (1.0 = one core busy all along).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuUse {
    /// Cores of the machine.
    pub cores: usize,
    /// This process (the load generator, or for `raw` the whole benchmark
    /// including SQLite).
    pub own_cores: Option<f64>,
    /// The server processes (`--server-pid`), added up.
    pub server_cores: Option<f64>,
    /// All processes of the machine (including a database server).
    pub machine_cores: Option<f64>,
}

/// utime + stime of a process, in ticks.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: skip past it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line; 12 and 13 after the name and state.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total ticks of all cores, and the number of cores.
fn machine_ticks() -> Option<((u64, u64), usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    // idle + iowait
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some(((total.saturating_sub(idle), total), cores))
}

impl Sample {
    /// The counters now; `servers` are other processes to follow (their
    /// ticks added up; none when one cannot be read).
    pub fn now(servers: &[u32]) -> Self {
        let machine = machine_ticks();
        Self {
            at: Instant::now(),
            own_ticks: process_ticks("self"),
            server_ticks: if servers.is_empty() {
                None
            } else {
                servers
                    .iter()
                    .map(|pid| process_ticks(&pid.to_string()))
                    .sum()
            },
            machine: machine.map(|(m, _)| m),
            cores: machine.map_or(0, |(_, c)| c),
        }
    }

    /// The use between `self` and a later sample.
    pub fn until(&self, later: &Sample) -> Option<CpuUse> {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 || self.machine.is_none() {
            return None;
        }
        let cores_of = |a: Option<u64>, b: Option<u64>| {
            Some(round2(b?.checked_sub(a?)? as f64 / TICKS_PER_SECOND / secs))
        };
        let machine = match (self.machine, later.machine) {
            (Some((busy_a, total_a)), Some((busy_b, total_b))) if total_b > total_a => {
                Some(round2(
                    busy_b.saturating_sub(busy_a) as f64 / (total_b - total_a) as f64
                        * self.cores as f64,
                ))
            }
            _ => None,
        };
        Some(CpuUse {
            cores: self.cores,
            own_cores: cores_of(self.own_ticks, later.own_ticks),
            server_cores: cores_of(self.server_ticks, later.server_ticks),
            machine_cores: machine,
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
