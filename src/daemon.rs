//! Wires sources to the evaluation and the sinks; owns the loops and the signals.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use iosentinel::config::Config;
use iosentinel::eval::Transition;
use iosentinel::monitor::{unix_now, Monitor, Step};
use iosentinel::sampler::SamplerEvent;
use iosentinel::sink::http::{self, Shared};
use iosentinel::sink::metrics::Metrics;
use iosentinel::status::{self, DeviceStatus, StatusReport};

use crate::cli::Common;

fn monitor(common: &Common, cfg: &Config) -> Monitor {
    Monitor::new(
        common.proc_root.clone(),
        common.sys_root.clone(),
        cfg.clone(),
    )
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn report(m: &Monitor, step: &Step) -> StatusReport {
    let notes = step
        .tick
        .events
        .iter()
        .filter_map(|e| match e {
            SamplerEvent::BadLine(b) => Some(b.to_string()),
            SamplerEvent::Reset(d) => Some(format!(
                "{d}: counters went backwards, no figures this interval"
            )),
            _ => None,
        })
        .collect();
    StatusReport {
        unix_time: unix_now(),
        interval_s: step.tick.rates.first().map(|r| r.interval_s).unwrap_or(0.0),
        devices: step
            .tick
            .rates
            .iter()
            .map(|r| {
                let t = m.tracker(&r.device);
                DeviceStatus {
                    mounts: m.sampler().mounts_of(&r.device).to_vec(),
                    volume_id: t.and_then(|t| t.spec().volume_id.clone()),
                    provisioned_iops: t.and_then(|t| t.spec().provisioned_iops),
                    delivered_ratio: t.and_then(|t| t.last()).and_then(|j| j.delivered_ratio),
                    state: t
                        .map(|t| t.state())
                        .unwrap_or(iosentinel::eval::State::Unknown),
                    reason: t
                        .map(|t| t.reason(&m.config().evaluation))
                        .unwrap_or_default(),
                    rates: r.clone(),
                }
            })
            .collect(),
        notes,
    }
}

/// `iosentinel status`: a baseline read, then one report per interval on a fixed schedule
/// (no drift: each deadline is the previous one plus the interval).
pub fn status(
    common: &Common,
    cfg: &Config,
    interval: Duration,
    count: Option<u64>,
    json: bool,
) -> Result<()> {
    let mut m = monitor(common, cfg);
    m.step().context("reading diskstats")?;
    let mut deadline = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut printed = 0;
    while count.is_none_or(|c| printed < c) {
        deadline += interval;
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        let step = m.step().context("reading diskstats")?;
        let rep = report(&m, &step);
        if json {
            serde_json::to_writer(&mut out, &rep)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", status::table(&rep))?;
        }
        out.flush()?;
        printed += 1;
    }
    Ok(())
}

pub fn run(common: Common, cfg: Config) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let shared = Arc::new(Shared {
            metrics: Metrics::new(),
            monitor: Mutex::new(monitor(&common, &cfg)),
            host: hostname(),
        });
        // Bound here so that a port in use fails the start, not a later request.
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("listening on {}", cfg.listen))?;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let server = {
            let shared = shared.clone();
            let mut rx = stop_rx.clone();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = http::serve(listener, shared, stop).await {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            })
        };
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });

        let mut ticker = tokio::time::interval(cfg.interval.0);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(interval = ?cfg.interval.0, listen = %cfg.listen, proc_root = %common.proc_root.display(), "iosentinel started");
        let mut read_failing = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop_rx.wait_for(|s| *s) => break,
            }
            let started = Instant::now();
            let mut m = shared.monitor.lock().unwrap_or_else(|e| e.into_inner());
            match m.step() {
                Ok(step) => {
                    if read_failing {
                        tracing::info!("diskstats readable again");
                        read_failing = false;
                    }
                    log_events(&step.tick.events);
                    log_transitions(&m, &step.transitions);
                    shared.metrics.observe(&m, &step.tick, &step.transitions, started.elapsed().as_secs_f64());
                }
                Err(e) => {
                    shared.metrics.sample_failed();
                    if !read_failing {
                        tracing::error!(error = %e, "cannot sample; volumes go unknown until diskstats is readable");
                        read_failing = true;
                    }
                }
            }
        }
        tracing::info!("iosentinel stopping");
        let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn log_transitions(m: &Monitor, transitions: &[Transition]) {
    for t in transitions {
        let mounts = m.sampler().mounts_of(&t.device).join(",");
        let vid = m
            .tracker(&t.device)
            .and_then(|x| x.spec().volume_id.clone())
            .unwrap_or_default();
        if t.to.is_fault() {
            tracing::warn!(device = %t.device, volume_id = %vid, mounts = %mounts, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "volume state changed");
        } else {
            tracing::info!(device = %t.device, volume_id = %vid, mounts = %mounts, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "volume state changed");
        }
    }
}

fn log_events(events: &[SamplerEvent]) {
    for e in events {
        match e {
            SamplerEvent::Appeared(d) => tracing::info!(device = %d, "watching device"),
            SamplerEvent::Vanished(d) => tracing::warn!(device = %d, "device vanished"),
            SamplerEvent::Reset(d) => {
                tracing::warn!(device = %d, "counters went backwards (reset or replaced); no rates this interval")
            }
            SamplerEvent::BadLine(b) => tracing::warn!(%b, "malformed diskstats line skipped"),
        }
    }
}
