//! The machine a run happened on, the commit it measured, and the
//! calibration workload that tells how fast the machine is right now.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::model::Machine;

/// Reads what can be read about this machine; unknown parts are `?`.
pub fn describe() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("?".to_string(), |(_, v)| v.trim().to_string());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or("?".to_string(), |v| v.trim_matches('"').to_string());
    let hostname = read("/etc/hostname").trim().to_string();
    Machine {
        hostname: if hostname.is_empty() {
            "?".into()
        } else {
            hostname
        },
        cpus: threads(),
        cpu_model,
        memory_gib,
        os,
    }
}

/// The threads this process may use.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `(commit, dirty)` of the git tree at `root`, or `("unknown", false)`.
pub fn commit(root: &Path) -> (String, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            (head, dirty)
        }
        None => ("unknown".into(), false),
    }
}

/// Now, UTC, to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Rounds of the calibration workload: about a quarter of a second per try
/// in a release build on the 2-core machine the baseline was made on.
/// Changing the workload changes what `calibration_seconds` means: make a
/// new baseline with it.
const CALIBRATION_ROUNDS: usize = 500;

/// Seconds a fixed workload takes on every thread at once, best of three:
/// floating-point arithmetic over a buffer larger than most L2 caches, in a
/// strided walk. Run before each suite, it tells how fast the machine is at
/// that moment (shared machines vary by several times from day to day), so
/// that times can be compared across runs as ratios corrected for it.
pub fn calibrate() -> f64 {
    calibrate_with(CALIBRATION_ROUNDS)
}

fn calibrate_with(rounds: usize) -> f64 {
    let threads = threads();
    (0..3)
        .map(|_| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    s.spawn(move || black_box(workload(t as u64 + 1, rounds)));
                }
            });
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The calibration work of one thread.
fn workload(seed: u64, rounds: usize) -> f64 {
    const LEN: usize = 1 << 18; // 2 MiB of f64
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state
    };
    let data: Vec<f64> = (0..LEN)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    let mut acc = 0.0f64;
    for round in 0..rounds {
        let scale = 1.0 + round as f64 * 1e-3;
        // A strided walk, so that the caches and the prefetcher both work.
        let step = 1 + (next() as usize % 7) * 2;
        let mut i = next() as usize % LEN;
        for _ in 0..LEN {
            acc = acc * 0.999_999 + data[i] * scale;
            i = (i + step) % LEN;
        }
    }
    black_box(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_takes_time_and_the_workload_is_deterministic() {
        let t = calibrate_with(4);
        assert!(t > 0.0 && t.is_finite());
        assert_eq!(workload(3, 4), workload(3, 4));
        assert_ne!(workload(3, 4), workload(4, 4));
        // Twice the rounds, more time (best of three each: robust to a
        // hiccup in either).
        assert!(calibrate_with(64) > calibrate_with(8));
    }

    #[test]
    fn the_machine_is_described() {
        let m = describe();
        assert!(m.cpus >= 1);
        assert!(!m.hostname.is_empty() && !m.os.is_empty());
        let (commit, _) = commit(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(!commit.is_empty());
        assert!(now().ends_with('Z'));
    }
}
