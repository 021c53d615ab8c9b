//! Sampler plus one state tracker per device: the same core behind `status`, the daemon
//! and (later) replay. Produces transitions and the health document.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::{Config, VolumeType};
use crate::eval::{State, Tracker, Transition, VolumeSpec};
use crate::sampler::{Sampler, SamplerEvent, Tick};
use crate::source::diskstats::DiskstatsError;
use crate::source::pressure::{self, Pressure};

/// Host-side context: when the CPU, not the disk, is the bottleneck it shows here.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HostPressure {
    pub io: Option<Pressure>,
    pub cpu: Option<Pressure>,
}

/// One volume in `/v1/health` (field names documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct VolumeHealth {
    pub device: String,
    pub volume_id: Option<String>,
    #[serde(rename = "type")]
    pub volume_type: VolumeType,
    pub label: Option<String>,
    pub mounts: Vec<String>,
    pub state: State,
    pub reason: String,
    pub since_unix: f64,
    pub state_seconds: f64,
    pub delivered_ratio: Option<f64>,
    pub deliverable_iops: Option<f64>,
    pub iops: Option<f64>,
    pub ebs_ops_s: Option<f64>,
    pub throughput_bytes_s: Option<f64>,
    pub queue_depth: Option<f64>,
    pub await_ms: Option<f64>,
    pub in_flight: Option<u64>,
    pub provision_utilisation: Option<f64>,
    pub provisioned_iops: Option<f64>,
    pub provisioned_throughput_mibps: Option<f64>,
    pub nominal_latency_ms: f64,
    pub latency_source: &'static str,
    pub sample_age_s: Option<f64>,
}

/// The `/v1/health` document.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Worst of the volumes: stalled > degraded > unknown > warning > ok.
    pub status: &'static str,
    pub host: String,
    pub version: &'static str,
    pub generated_unix: f64,
    pub pressure: HostPressure,
    pub volumes: Vec<VolumeHealth>,
}

pub struct Step {
    pub tick: Tick,
    pub transitions: Vec<Transition>,
}

pub struct Monitor {
    sampler: Sampler,
    cfg: Config,
    proc_root: PathBuf,
    trackers: BTreeMap<String, Tracker>,
    origin_unix: f64,
    pub pressure: HostPressure,
    /// The reading before `pressure`, for the stall-time deltas.
    pub pressure_prev: HostPressure,
    last_ms: f64,
    stepped: bool,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Monitor {
    pub fn new(proc_root: PathBuf, sys_root: PathBuf, cfg: Config) -> Monitor {
        let sampler = Sampler::new(proc_root.clone(), sys_root, cfg.devices.clone());
        Monitor {
            origin_unix: unix_now() - sampler.now_ms() / 1000.0,
            sampler,
            cfg,
            proc_root,
            trackers: BTreeMap::new(),
            pressure: HostPressure::default(),
            pressure_prev: HostPressure::default(),
            last_ms: 0.0,
            stepped: false,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    pub fn trackers(&self) -> impl Iterator<Item = &Tracker> {
        self.trackers.values()
    }

    pub fn tracker(&self, device: &str) -> Option<&Tracker> {
        self.trackers.get(device)
    }

    pub fn unix_at(&self, ms: f64) -> f64 {
        self.origin_unix + ms / 1000.0
    }

    /// Reads diskstats and PSI, derives rates and feeds every tracker. A failed read is
    /// returned after the trackers have been told (they go `unknown` once stale).
    pub fn step(&mut self) -> Result<Step, DiskstatsError> {
        self.stepped = true;
        self.pressure_prev = self.pressure;
        self.pressure = HostPressure {
            io: pressure::read(&self.proc_root, "io"),
            cpu: pressure::read(&self.proc_root, "cpu"),
        };
        match self.sampler.tick() {
            Ok(tick) => Ok(self.evaluate(tick)),
            Err(e) => {
                let now = self.sampler.now_ms();
                let eval = &self.cfg.evaluation;
                for t in self.trackers.values_mut() {
                    t.no_sample(now, eval);
                }
                Err(e)
            }
        }
    }

    /// Whether `step` ran at least once (successfully or not).
    pub fn stepped(&self) -> bool {
        self.stepped
    }

    fn evaluate(&mut self, tick: Tick) -> Step {
        let now = tick.taken_ms;
        self.last_ms = now;
        for e in &tick.events {
            if let SamplerEvent::Appeared(d) = e {
                let spec = VolumeSpec::from_config(d, self.cfg.volume(d));
                self.trackers
                    .entry(d.clone())
                    .or_insert_with(|| Tracker::new(spec, now));
            }
        }
        let eval = &self.cfg.evaluation;
        let mut transitions = Vec::new();
        for (name, t) in self.trackers.iter_mut() {
            let tr = match tick.rates.iter().find(|r| &r.device == name) {
                Some(r) => t.observe(r, now, eval),
                None => t.no_sample(now, eval),
            };
            transitions.extend(tr);
        }
        // A vanished device that stays gone is forgotten once it has gone unknown.
        let present: Vec<&str> = self
            .sampler
            .current()
            .map(|s| s.devices.iter().map(|d| d.name.as_str()).collect())
            .unwrap_or_default();
        self.trackers
            .retain(|name, t| present.contains(&name.as_str()) || t.state() != State::Unknown);
        if let Some(cpu) = self.pressure.cpu.filter(|c| c.some_avg10 >= 50.0) {
            for tr in transitions.iter_mut().filter(|t| t.to.is_fault()) {
                tr.reason.push_str(&format!(
                    "; host CPU pressure {:.0}% (some, avg10): the host may be the bottleneck too",
                    cpu.some_avg10
                ));
            }
        }
        Step { tick, transitions }
    }

    pub fn volume_health(&self, t: &Tracker) -> VolumeHealth {
        let spec = t.spec();
        let j = t.last();
        let (latency, source) = t.latency_ms(&self.cfg.evaluation);
        VolumeHealth {
            device: spec.device.clone(),
            volume_id: spec.volume_id.clone(),
            volume_type: spec.volume_type,
            label: spec.label.clone(),
            mounts: self.sampler.mounts_of(&spec.device).to_vec(),
            state: t.state(),
            reason: t.reason(&self.cfg.evaluation),
            since_unix: self.unix_at(t.since_ms()),
            state_seconds: (self.last_ms - t.since_ms()).max(0.0) / 1000.0,
            delivered_ratio: j.and_then(|j| j.delivered_ratio),
            deliverable_iops: j.and_then(|j| j.deliverable_iops),
            iops: j.map(|j| j.iops),
            ebs_ops_s: j.map(|j| j.ebs_ops_s),
            throughput_bytes_s: j.map(|j| j.bytes_s),
            queue_depth: j.map(|j| j.queue_depth),
            await_ms: j.and_then(|j| j.await_ms),
            in_flight: j.map(|j| j.in_flight),
            provision_utilisation: j.and_then(|j| j.utilisation),
            provisioned_iops: spec.provisioned_iops,
            provisioned_throughput_mibps: spec.provisioned_mibps,
            nominal_latency_ms: latency,
            latency_source: source,
            sample_age_s: t
                .last_sample_ms()
                .map(|s| (self.sampler.now_ms() - s).max(0.0) / 1000.0),
        }
    }

    pub fn health(&self, host: &str) -> Health {
        let volumes: Vec<VolumeHealth> = self
            .trackers
            .values()
            .map(|t| self.volume_health(t))
            .collect();
        let worst = |s: State| volumes.iter().any(|v| v.state == s);
        let status = if worst(State::Stalled) {
            "stalled"
        } else if worst(State::Degraded) {
            "degraded"
        } else if worst(State::Unknown) {
            "unknown"
        } else if worst(State::AtLimit)
            || worst(State::BurstDepleted)
            || worst(State::InstanceLimit)
        {
            "warning"
        } else {
            "ok"
        };
        Health {
            status,
            host: host.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            generated_unix: unix_now(),
            pressure: self.pressure,
            volumes,
        }
    }
}
