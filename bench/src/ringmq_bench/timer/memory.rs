//! Memory mode: `--pending N` timers due far ahead, the broker's RSS
//! before and after.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::{producer_heartbeat, runtime_sum, send_all, Due, Target, TimerArgs};
use crate::conn::{Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::{TIMER_LOAD_WAIT, TIMER_SETTLE};
use crate::producer::{random_alphanumeric, round3};
use crate::stats::{now_micros, ErrorLog};
use crate::stop_on_signal;

/// How often the broker is asked how many timers it holds.
const PENDING_POLL: Duration = Duration::from_millis(250);

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `RssAnon`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The process holding a listening TCP socket on `port` (from
/// `/proc/net/tcp{,6}` and the `/proc/<pid>/fd` links), other than
/// `exclude`.
fn pid_listening_on(port: u16, exclude: u32) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... inode (field 9).
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == exclude {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| link.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// RSS figures of the broker at one moment, KiB.
#[derive(Debug, Clone, Copy)]
struct Rss {
    vm_rss: u64,
    anon: u64,
}

fn rss(pid: u32) -> Result<Rss> {
    let read = |field| {
        status_kib(pid, field)
            .ok_or_else(|| Error::Usage(format!("cannot read {field} of /proc/{pid}/status")))
    };
    Ok(Rss {
        vm_rss: read("VmRSS")?,
        anon: read("RssAnon")?,
    })
}

pub(super) fn run(args: &TimerArgs, n: u64, target: &Target, config: &ConnConfig) -> Result<()> {
    if target.addrs.len() != 1 {
        return Err(Error::Usage(format!(
            "--pending measures one broker's memory; the topic is on {} brokers",
            target.addrs.len()
        )));
    }
    let addr = &target.addrs[0];
    let pid = match args.broker_pid {
        Some(p) => p,
        None => {
            let port = addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| Error::Usage(format!("no port in the broker address {addr}")))?;
            pid_listening_on(port, std::process::id()).ok_or_else(|| {
                Error::Usage(format!(
                    "no local process listens on port {port} ({addr}): give --broker-pid"
                ))
            })?
        }
    };
    let stop = stop_on_signal();
    let errors = ErrorLog::new();
    let run_id = format!("{}-{}", std::process::id(), now_micros());
    let client_id = format!("timer-bench@{run_id}");
    let mut send_conns = target.connect(config, &producer_heartbeat(&client_id))?;
    let mut info = vec![Conn::connect(addr, config.clone())?];
    let body = Bytes::from(random_alphanumeric(args.size));
    if args.warmup > 0 {
        let warm = send_all(
            &mut send_conns,
            target,
            &args.topic,
            args.warmup,
            args.window,
            &body,
            &format!("{run_id}-warmup"),
            Due::Never,
            &errors,
            &stop,
        )?;
        if !args.json {
            println!(
                "[Warm-up] {} plain messages sent, {} failed in {:.3} s",
                warm.ok,
                warm.failed,
                warm.elapsed.as_secs_f64()
            );
        }
    }
    std::thread::sleep(TIMER_SETTLE);
    let before = rss(pid)?;
    let pending_before = runtime_sum(&mut info, "timerPending")?.unwrap_or(0);
    let cache_before = runtime_sum(&mut info, "tailCacheBytes")?;
    // The broker's own count of what its timer heaps and done bits hold
    // (ringmq's `timerMemoryBytes`), next to the RSS it shows up in.
    let heap_before = runtime_sum(&mut info, "timerMemoryBytes")?;
    let ahead_ms = (args.ahead_days * 86_400_000.0) as i64;
    let due = if args.plain {
        Due::Never
    } else {
        Due::Ahead(ahead_ms)
    };
    if !args.json {
        println!(
            "[Timer memory] broker pid {pid} at {addr}: {n} {} of {} bytes; before: VmRSS {} KiB, RssAnon {} KiB, timers pending {pending_before}",
            if args.plain {
                "plain messages (no delivery time)".to_owned()
            } else {
                format!("timers due in {} days", args.ahead_days)
            },
            args.size,
            before.vm_rss,
            before.anon
        );
    }
    // In steps: after each, wait until the broker's heap holds every timer
    // sent so far, let it settle, read the RSS.
    let steps = args.steps.clamp(1, n);
    let mut points = vec![(0u64, before)];
    let (mut ok, mut failed, mut send_secs) = (0u64, 0u64, 0f64);
    let mut pending = pending_before;
    for k in 0..steps {
        let this = n / steps + u64::from(k < n % steps);
        let sent = send_all(
            &mut send_conns,
            target,
            &args.topic,
            this,
            args.window,
            &body,
            &format!("{run_id}-{k}"),
            due,
            &errors,
            &stop,
        )?;
        ok += sent.ok;
        failed += sent.failed;
        send_secs += sent.elapsed.as_secs_f64();
        pending = runtime_sum(&mut info, "timerPending")?.unwrap_or(0);
        if !args.plain {
            let deadline = Instant::now() + TIMER_LOAD_WAIT;
            while pending < pending_before + ok
                && Instant::now() < deadline
                && !stop.load(Ordering::Relaxed)
            {
                std::thread::sleep(PENDING_POLL);
                pending = runtime_sum(&mut info, "timerPending")?.unwrap_or(0);
            }
        }
        std::thread::sleep(TIMER_SETTLE);
        let r = rss(pid)?;
        points.push((ok, r));
        if !args.json && steps > 1 {
            println!(
                "[Step {}/{steps}] {ok} sent, timers pending {pending}: VmRSS {} KiB, RssAnon {} KiB",
                k + 1,
                r.vm_rss,
                r.anon
            );
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let after = points.last().expect("the first point is the start").1;
    let cache_after = runtime_sum(&mut info, "tailCacheBytes")?;
    let heap_after = runtime_sum(&mut info, "timerMemoryBytes")?;
    let added = pending.saturating_sub(pending_before);
    let heap_per_timer = heap_after
        .zip(heap_before)
        .map(|(a, b)| (a as f64 - b as f64) / added.max(1) as f64);
    let per = |kib_before: u64, kib_after: u64| {
        (kib_after as f64 - kib_before as f64) * 1024.0 / ok.max(1) as f64
    };
    let (per_rss, per_anon) = (
        per(before.vm_rss, after.vm_rss),
        per(before.anon, after.anon),
    );
    let fit = |f: fn(&Rss) -> u64| {
        slope(
            &points
                .iter()
                .map(|(x, r)| (*x as f64, f(r) as f64 * 1024.0))
                .collect::<Vec<_>>(),
        )
    };
    let (slope_rss, slope_anon) = if points.len() > 2 {
        (fit(|r| r.vm_rss), fit(|r| r.anon))
    } else {
        (None, None)
    };
    let mib_per_million = |b: f64| b * 1e6 / (1u64 << 20) as f64;
    let cache_delta = cache_after
        .zip(cache_before)
        .map(|(a, b)| a as i64 - b as i64);
    if args.json {
        let steps_json: Vec<_> = points
            .iter()
            .map(|(x, r)| json!({"sent": x, "rss_kib": r.vm_rss, "rss_anon_kib": r.anon}))
            .collect();
        println!(
            "{}",
            json!({
                "type": "summary", "role": "timer-memory", "topic": args.topic,
                "plain": args.plain, "warmup": args.warmup, "message_size": args.size,
                "ahead_days": args.ahead_days, "broker_pid": pid, "requested": n, "sent": ok,
                "send_failed": failed, "send_seconds": round3(send_secs),
                "timers_pending_before": pending_before, "timers_pending_after": pending,
                "rss_before_kib": before.vm_rss, "rss_after_kib": after.vm_rss,
                "rss_anon_before_kib": before.anon, "rss_anon_after_kib": after.anon,
                "tail_cache_delta_bytes": cache_delta, "steps": steps_json,
                "rss_bytes_per_msg": round3(per_rss), "rss_anon_bytes_per_msg": round3(per_anon),
                "rss_mib_per_million": round3(mib_per_million(per_rss)),
                "rss_anon_mib_per_million": round3(mib_per_million(per_anon)),
                "rss_slope_bytes_per_msg": slope_rss.map(round3),
                "rss_anon_slope_bytes_per_msg": slope_anon.map(round3),
                "timer_memory_before_bytes": heap_before, "timer_memory_after_bytes": heap_after,
                "timer_memory_bytes_per_timer": heap_per_timer.map(round3),
            })
        );
    } else {
        println!(
            "[Send] {ok} sent, {failed} failed in {send_secs:.3} s; broker timers pending {pending} (+{added})"
        );
        println!(
            "[Memory] VmRSS {} -> {} KiB ({:.1} bytes per message, {:.1} MiB per million); RssAnon {} -> {} KiB ({:.1} bytes per message, {:.1} MiB per million); tail cache {:+} bytes",
            before.vm_rss,
            after.vm_rss,
            per_rss,
            mib_per_million(per_rss),
            before.anon,
            after.anon,
            per_anon,
            mib_per_million(per_anon),
            cache_delta.unwrap_or(0)
        );
        if let (Some(a), Some(b), Some(per)) = (heap_before, heap_after, heap_per_timer) {
            println!(
                "[Memory] broker timer structures (timerMemoryBytes): {a} -> {b} bytes ({per:.1} bytes per pending timer)"
            );
        }
        if let (Some(a), Some(b)) = (slope_rss, slope_anon) {
            println!(
                "[Memory] least-squares slope over the {} readings: VmRSS {a:.1} bytes per message ({:.1} MiB per million), RssAnon {b:.1} bytes per message",
                points.len(),
                mib_per_million(a)
            );
        }
    }
    for (what, count) in errors.summary() {
        eprintln!("ringmq-bench: {count} x {what}");
    }
    if failed > 0 {
        return Err(Error::Usage(format!("{failed} sends failed")));
    }
    if !args.plain && added < ok {
        return Err(Error::Usage(format!(
            "the broker counts {added} new pending timers, {ok} were sent"
        )));
    }
    Ok(())
}

/// Least-squares slope of `y` over `x`; `None` without two distinct `x`.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").is_some_and(|k| k > 0));
        assert!(status_kib(me, "NoSuchField").is_none());
    }

    #[test]
    fn listening_socket_owner() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(pid_listening_on(port, 0), Some(std::process::id()));
        assert_eq!(pid_listening_on(port, std::process::id()), None);
        drop(l);
        assert_eq!(pid_listening_on(port, 0), None);
    }

    #[test]
    fn least_squares_slope() {
        let s = slope(&[(0.0, 10.0), (1.0, 12.0), (2.0, 14.0)]).unwrap();
        assert!((s - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 5.0)]), None);
    }
}
