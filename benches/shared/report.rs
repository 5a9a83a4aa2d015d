//! Helpers shared by the loopback benchmarks (`benches/echo.rs`,
//! `benches/tokio.rs`): the clock of a throughput run, latency percentiles
//! and the state of the machine a run had.

use std::time::{Duration, Instant};

/// Times the echoes from number `warm` to `warm + messages`.
pub(crate) struct Clock {
    warm: u64,
    total: u64,
    start: Option<Instant>,
}

impl Clock {
    pub(crate) fn new(warm: u64, messages: u64) -> Self {
        Self {
            warm,
            total: warm + messages,
            start: None,
        }
    }

    /// Notes that `received` echoes have arrived; the measured time once
    /// they all have.
    pub(crate) fn tick(&mut self, received: u64) -> Option<Duration> {
        let now = Instant::now();
        if self.start.is_none() && received >= self.warm {
            self.start = Some(now);
        }
        (received >= self.total).then(|| now - self.start.unwrap_or(now))
    }

    /// [`tick`](Self::tick), reading the clock only when it starts or
    /// stops (for counts that arrive millions of times a second).
    pub(crate) fn at(&mut self, received: u64) -> Option<Duration> {
        let boundary = (self.start.is_none() && received >= self.warm) || received >= self.total;
        if boundary { self.tick(received) } else { None }
    }
}

/// Latency percentiles in microseconds.
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

impl Percentiles {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty());
        samples.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let at = |q: f64| {
            let rank = (q * samples.len() as f64).ceil() as usize;
            us(samples[rank.clamp(1, samples.len()) - 1])
        };
        let mean = samples.iter().map(|&d| us(d)).sum::<f64>() / samples.len() as f64;
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: us(samples[samples.len() - 1]),
            mean,
        }
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list`), as `taskset`
/// left them.
pub(crate) fn cpu_affinity() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map_or("unknown", str::trim)
        .to_owned()
}

/// The 1, 5 and 15-minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// What a benchmark program prints first: its title, the mode, where it
/// may run and how loaded the machine is, so that every figure it prints
/// is read with its conditions.
pub(crate) fn print_environment(title: &str, quick: bool) {
    println!("{title}");
    println!(
        "mode: {}; CPU affinity (Cpus_allowed_list): {}; available parallelism: {}",
        if quick { "--quick (1/10 size)" } else { "full" },
        cpu_affinity(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("load average at start: {}", load_average());
}

/// What a benchmark program prints last: how long it ran and the load
/// then.
pub(crate) fn print_finish(started: std::time::Instant) {
    println!();
    println!(
        "Finished in {:.1} s; load average now: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
