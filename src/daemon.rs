//! Wires sources to the evaluation and the sinks; owns the loops and the signals.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use iosentinel::config::Config;
use iosentinel::sampler::{Sampler, SamplerEvent, Tick};
use iosentinel::status::{self, DeviceStatus, StatusReport};

use crate::cli::Common;

fn sampler(common: &Common, cfg: &Config) -> Sampler {
    Sampler::new(
        common.proc_root.clone(),
        common.sys_root.clone(),
        cfg.devices.clone(),
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn report(s: &Sampler, tick: &Tick) -> StatusReport {
    let notes = tick
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
        interval_s: tick.rates.first().map(|r| r.interval_s).unwrap_or(0.0),
        devices: tick
            .rates
            .iter()
            .map(|r| DeviceStatus {
                mounts: s.mounts_of(&r.device).to_vec(),
                rates: r.clone(),
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
    let mut s = sampler(common, cfg);
    s.tick().context("reading diskstats")?;
    let mut deadline = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut printed = 0;
    while count.is_none_or(|c| printed < c) {
        deadline += interval;
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        let tick = s.tick().context("reading diskstats")?;
        let rep = report(&s, &tick);
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
        let mut s = sampler(&common, &cfg);
        let mut ticker = tokio::time::interval(cfg.interval.0);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(interval = ?cfg.interval.0, proc_root = %common.proc_root.display(), "iosentinel started");
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = tokio::signal::ctrl_c() => break,
            }
            match s.tick() {
                Ok(tick) => log_events(&tick.events),
                Err(e) => tracing::warn!(error = %e, "cannot sample"),
            }
        }
        tracing::info!("iosentinel stopping");
        Ok(())
    })
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
