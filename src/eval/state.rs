//! The per-volume state machine: sustained windows before `degraded`, hysteresis before
//! leaving it, a short settle time between the informational states so that a bursty
//! workload does not log a transition every second.

use std::collections::VecDeque;

use serde::Serialize;

use super::judge::{default_latency_ms, judge, Judgement, VolumeSpec};
use crate::config::EvalConfig;
use crate::model::Rates;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Idle,
    /// Delivering its provision: the application wants more than was paid for.
    AtLimit,
    /// gp2/st1/sc1 out of burst credits, running at baseline.
    BurstDepleted,
    /// The instance's EBS limit, not the volume, is the bottleneck.
    InstanceLimit,
    Degraded,
    Stalled,
    Unknown,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Ok,
        State::Idle,
        State::AtLimit,
        State::BurstDepleted,
        State::InstanceLimit,
        State::Degraded,
        State::Stalled,
        State::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Idle => "idle",
            State::AtLimit => "at_limit",
            State::BurstDepleted => "burst_depleted",
            State::InstanceLimit => "instance_limit",
            State::Degraded => "degraded",
            State::Stalled => "stalled",
            State::Unknown => "unknown",
        }
    }

    /// States that describe demand or capacity rather than a fault; they change with the
    /// workload and are debounced by the settle time.
    fn informational(self) -> bool {
        matches!(
            self,
            State::Ok | State::Idle | State::AtLimit | State::BurstDepleted | State::InstanceLimit
        )
    }

    /// Storage-side faults: the only states that argue for failing over.
    pub fn is_fault(self) -> bool {
        matches!(self, State::Degraded | State::Stalled)
    }
}

/// A state change, with the figures that caused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub device: String,
    pub from: State,
    pub to: State,
    pub reason: String,
    pub at_ms: f64,
}

/// What the AWS side reports about the volume, when it is known.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct External {
    pub burst_balance_pct: Option<f64>,
    pub instance_limit_exceeded: Option<bool>,
}

const LEARN_SAMPLES: usize = 600;
const LEARN_MIN: usize = 120;

pub struct Tracker {
    spec: VolumeSpec,
    pub external: External,
    state: State,
    since_ms: f64,
    last: Option<Judgement>,
    /// Nominal latency (and its source) the last judgement used.
    last_latency: (f64, &'static str),
    last_sample_ms: Option<f64>,
    below_since: Option<f64>,
    above_since: Option<f64>,
    no_completion_since: Option<f64>,
    pending: Option<(State, f64)>,
    healthy_latency: VecDeque<f64>,
    /// p90 of `healthy_latency`, refreshed every LEARN_REFRESH samples: sorting 600 values
    /// every second per device would dominate the hot path.
    learned_p90: Option<f64>,
    since_refresh: usize,
}

const LEARN_REFRESH: usize = 60;

impl Tracker {
    pub fn new(spec: VolumeSpec, now_ms: f64) -> Tracker {
        Tracker {
            spec,
            external: External::default(),
            state: State::Unknown,
            since_ms: now_ms,
            last: None,
            last_latency: (0.0, "type default"),
            last_sample_ms: None,
            below_since: None,
            above_since: None,
            no_completion_since: None,
            pending: None,
            healthy_latency: VecDeque::new(),
            learned_p90: None,
            since_refresh: 0,
        }
    }

    pub fn spec(&self) -> &VolumeSpec {
        &self.spec
    }

    pub fn set_spec(&mut self, spec: VolumeSpec) {
        self.spec = spec;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn since_ms(&self) -> f64 {
        self.since_ms
    }

    /// The figures behind the current state, as a sentence. Built on demand: only health,
    /// status and transitions read it, so the per-sample path never formats text.
    pub fn reason(&self, cfg: &EvalConfig) -> String {
        // Describe what the last sample pointed at, including a change still settling.
        let shown = self.pending.map_or(self.state, |(t, _)| t);
        match (&self.last, self.last_sample_ms) {
            (Some(j), Some(at)) if shown != State::Unknown => self.describe(shown, j, at, cfg),
            (_, Some(at)) => format!("no fresh sample for {:.0}s", (self.since_ms - at) / 1000.0),
            _ => "no sample yet".into(),
        }
    }

    pub fn last(&self) -> Option<&Judgement> {
        self.last.as_ref()
    }

    pub fn last_sample_ms(&self) -> Option<f64> {
        self.last_sample_ms
    }

    /// The nominal latency in force and where it comes from: the configuration, the
    /// volume's own healthy history (p90, bounded to a quarter..twice the type default),
    /// or the type default.
    pub fn latency_ms(&self, cfg: &EvalConfig) -> (f64, &'static str) {
        if let Some(l) = self.spec.nominal_latency_ms {
            return (l, "configured");
        }
        let default = default_latency_ms(self.spec.volume_type);
        if let Some(p90) = self.learned_p90.filter(|_| cfg.learn_latency) {
            return (p90.clamp(default / 4.0, default * 2.0), "learned");
        }
        (default, "type default")
    }

    /// Feeds one interval's rates; returns the transition it caused, if any.
    pub fn observe(&mut self, rates: &Rates, now_ms: f64, cfg: &EvalConfig) -> Option<Transition> {
        let (latency, latency_src) = self.latency_ms(cfg);
        let j = judge(
            rates,
            &self.spec,
            latency,
            cfg.min_queue_depth.0,
            cfg.min_iops.0,
        );
        let start_ms = now_ms - rates.interval_s * 1000.0;
        self.last_sample_ms = Some(now_ms);

        if j.no_completions {
            self.no_completion_since.get_or_insert(start_ms);
        } else {
            self.no_completion_since = None;
        }
        let threshold = cfg.degraded_ratio.0;
        let recovered = threshold + cfg.recovery_margin.0;
        let at_limit = j.utilisation.is_some_and(|u| u >= cfg.at_limit_ratio.0);
        let instance_limited = self.external.instance_limit_exceeded == Some(true);
        match j.delivered_ratio {
            Some(r) if r < threshold && !at_limit && !instance_limited => {
                self.below_since.get_or_insert(start_ms);
            }
            _ => self.below_since = None,
        }
        match j.delivered_ratio {
            Some(r) if r >= recovered || at_limit => {
                self.above_since.get_or_insert(start_ms);
            }
            _ => self.above_since = None,
        }

        let instant = if instance_limited && j.demand {
            State::InstanceLimit
        } else if at_limit && self.external.burst_balance_pct.is_some_and(|b| b < 1.0) {
            State::BurstDepleted
        } else if at_limit {
            State::AtLimit
        } else if j.demand || j.delivered_ratio.is_some() {
            State::Ok
        } else {
            State::Idle
        };
        let held = |since: Option<f64>, for_ms: f64| since.is_some_and(|s| now_ms - s >= for_ms);
        let degraded = if self.state == State::Degraded {
            !held(self.above_since, ms(cfg.recovery_window.0))
        } else {
            held(self.below_since, ms(cfg.window.0))
        };
        let target = if held(self.no_completion_since, ms(cfg.stall_after.0)) {
            State::Stalled
        } else if degraded {
            State::Degraded
        } else {
            instant
        };

        if target == State::Ok && j.delivered_ratio.is_some_and(|r| r >= threshold) {
            if let Some(a) = j.await_ms {
                if self.healthy_latency.len() == LEARN_SAMPLES {
                    self.healthy_latency.pop_front();
                }
                self.healthy_latency.push_back(a);
                self.since_refresh += 1;
                let n = self.healthy_latency.len();
                if n >= LEARN_MIN
                    && (self.learned_p90.is_none() || self.since_refresh >= LEARN_REFRESH)
                {
                    let mut v: Vec<f64> = self.healthy_latency.iter().copied().collect();
                    v.sort_by(f64::total_cmp);
                    self.learned_p90 = Some(v[(n * 9 / 10).min(n - 1)]);
                    self.since_refresh = 0;
                }
            }
        }
        self.last = Some(j);
        self.last_latency = (latency, latency_src);
        self.switch(target, now_ms, cfg)
    }

    /// Called on ticks that brought no rates for this device (vanished, reset, unreadable).
    pub fn no_sample(&mut self, now_ms: f64, cfg: &EvalConfig) -> Option<Transition> {
        let age = self.last_sample_ms.map(|t| now_ms - t);
        if age.is_some_and(|a| a < ms(cfg.stale_after.0)) || self.state == State::Unknown {
            return None;
        }
        self.switch(State::Unknown, now_ms, cfg)
    }

    fn switch(&mut self, target: State, now_ms: f64, cfg: &EvalConfig) -> Option<Transition> {
        if target == self.state {
            self.pending = None;
            return None;
        }
        if target.informational() && self.state.informational() {
            let since = match self.pending {
                Some((t, since)) if t == target => since,
                _ => now_ms,
            };
            self.pending = Some((target, since));
            if now_ms - since < ms(cfg.settle.0) {
                return None;
            }
        }
        let from = self.state;
        self.state = target;
        self.since_ms = now_ms;
        self.pending = None;
        Some(Transition {
            device: self.spec.device.clone(),
            from,
            to: target,
            reason: self.reason(cfg),
            at_ms: now_ms,
        })
    }

    fn describe(&self, target: State, j: &Judgement, now_ms: f64, cfg: &EvalConfig) -> String {
        let (latency, src) = self.last_latency;
        let lat = j
            .await_ms
            .map(|a| format!("{a:.2} ms"))
            .unwrap_or_else(|| "no completions".into());
        let prov = self
            .spec
            .provisioned_iops
            .map(|p| format!("{p:.0}"))
            .unwrap_or_else(|| "unknown".into());
        let ratio = j
            .delivered_ratio
            .map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or_else(|| "n/a".into());
        let kind = self.spec.volume_type.as_str();
        match target {
            State::Stalled => format!(
                "{} requests in flight and none completed for {:.0}s",
                j.in_flight,
                self.no_completion_since.map(|s| (now_ms - s) / 1000.0).unwrap_or(0.0)
            ),
            State::Degraded => format!(
                "delivering {:.0} IOPS, {ratio} of the {:.0} a healthy {kind} volume delivers at queue depth {:.1} \
                 (provisioned {prov}, nominal latency {latency:.2} ms {src}, observed {lat}); below {:.0}% {}",
                j.iops,
                j.deliverable_iops.unwrap_or(0.0),
                j.queue_depth,
                cfg.degraded_ratio.0 * 100.0,
                match self.below_since {
                    Some(s) => format!("for {:.0}s", (now_ms - s) / 1000.0),
                    None => "recently; recovering".into(),
                }
            ),
            State::AtLimit | State::BurstDepleted => format!(
                "at its provisioned limit: {:.0} EBS ops/s of {prov} IOPS, {:.1} MiB/s, {:.0}% of provision, queue depth {:.1}, {lat}{}",
                j.ebs_ops_s,
                j.bytes_s / (1024.0 * 1024.0),
                j.utilisation.unwrap_or(0.0) * 100.0,
                j.queue_depth,
                match self.external.burst_balance_pct {
                    Some(b) if target == State::BurstDepleted => format!("; burst balance {b:.0}%"),
                    _ => String::new(),
                }
            ),
            State::InstanceLimit => format!(
                "the instance's EBS limit is exceeded: {:.0} IOPS at queue depth {:.1}, {lat}",
                j.iops, j.queue_depth
            ),
            State::Idle => format!(
                "idle: {:.0} IOPS at queue depth {:.2}, too little demand to judge",
                j.iops, j.queue_depth
            ),
            State::Ok if !self.spec.judgeable() => format!(
                "{:.0} IOPS at queue depth {:.1}, {lat}; no provision known, so only stalls are detected",
                j.iops, j.queue_depth
            ),
            State::Ok | State::Unknown => {
                let pending = match self.below_since {
                    Some(s) => format!("; below {:.0}% for {:.0}s of {:.0}s", cfg.degraded_ratio.0 * 100.0, (now_ms - s) / 1000.0, cfg.window.0.as_secs_f64()),
                    None => String::new(),
                };
                format!(
                    "delivering {:.0} IOPS at queue depth {:.1}, {lat}: {ratio} of deliverable (provisioned {prov}, nominal {latency:.2} ms {src}){pending}",
                    j.iops, j.queue_depth
                )
            }
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
