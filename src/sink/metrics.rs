//! Prometheus exposition, in base units (seconds, bytes). Counters are advanced by each
//! interval's deltas, so a kernel counter reset never makes ours go backwards.

use prometheus::{
    Counter, CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, Opts,
    Registry,
};

use crate::eval::{State, Transition};
use crate::monitor::Monitor;
use crate::sampler::{SamplerEvent, Tick};

pub struct Metrics {
    pub registry: Registry,
    samples: Counter,
    sampler_errors: IntCounterVec,
    sample_duration: Histogram,
    last_sample: Gauge,
    ops: CounterVec,
    bytes: CounterVec,
    busy: CounterVec,
    weighted: CounterVec,
    op_time: CounterVec,
    iops: GaugeVec,
    throughput: GaugeVec,
    queue: GaugeVec,
    await_s: GaugeVec,
    in_flight: GaugeVec,
    prov_iops: GaugeVec,
    prov_tput: GaugeVec,
    ratio: GaugeVec,
    utilisation: GaugeVec,
    latency: GaugeVec,
    state: GaugeVec,
    state_seconds: GaugeVec,
    transitions: IntCounterVec,
    psi_avg10: GaugeVec,
    psi_total: CounterVec,
    pub http_requests: IntCounterVec,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    r.register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

const DEV: &[&str] = &["device", "volume_id"];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let g = |name: &str, help: &str, labels: &[&str]| {
            reg(&r, GaugeVec::new(Opts::new(name, help), labels).unwrap())
        };
        let c = |name: &str, help: &str, labels: &[&str]| {
            reg(&r, CounterVec::new(Opts::new(name, help), labels).unwrap())
        };
        let build = reg(
            &r,
            GaugeVec::new(
                Opts::new(
                    "iosentinel_build_info",
                    "Build of the running daemon (always 1).",
                ),
                &["version"],
            )
            .unwrap(),
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        Metrics {
            samples: reg(&r, Counter::new("iosentinel_samples_total", "Reads of /proc/diskstats.").unwrap()),
            sampler_errors: reg(
                &r,
                IntCounterVec::new(
                    Opts::new("iosentinel_sampler_errors_total", "Sampling problems by kind (read, bad_line, reset)."),
                    &["kind"],
                )
                .unwrap(),
            ),
            sample_duration: reg(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new("iosentinel_sample_duration_seconds", "Time to sample and evaluate all devices.")
                        .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05]),
                )
                .unwrap(),
            ),
            last_sample: reg(
                &r,
                Gauge::new("iosentinel_last_sample_timestamp_seconds", "Unix time of the last successful sample.").unwrap(),
            ),
            ops: c("iosentinel_disk_completed_operations_total", "Completed requests by operation (read, write).", &["device", "volume_id", "op"]),
            bytes: c("iosentinel_disk_transferred_bytes_total", "Bytes read and written.", &["device", "volume_id", "op"]),
            busy: c("iosentinel_disk_busy_seconds_total", "Time with at least one request in flight (io_ticks).", DEV),
            weighted: c("iosentinel_disk_queue_seconds_total", "Sum of request time in flight (weighted io_ticks); its rate is the queue depth.", DEV),
            op_time: c("iosentinel_disk_operation_seconds_total", "Time spent by completed requests, by operation.", &["device", "volume_id", "op"]),
            iops: g("iosentinel_disk_iops", "Completed reads and writes per second over the last interval.", DEV),
            throughput: g("iosentinel_disk_throughput_bytes_per_second", "Bytes read and written per second over the last interval.", DEV),
            queue: g("iosentinel_disk_queue_depth", "Average requests outstanding over the last interval (aqu-sz).", DEV),
            await_s: g("iosentinel_disk_await_seconds", "Mean request time over the last interval; absent without completions.", DEV),
            in_flight: g("iosentinel_disk_in_flight_requests", "Requests in flight at the last sample.", DEV),
            prov_iops: g("iosentinel_volume_provisioned_iops", "Provisioned IOPS of the volume.", DEV),
            prov_tput: g("iosentinel_volume_provisioned_throughput_bytes_per_second", "Provisioned throughput of the volume.", DEV),
            ratio: g("iosentinel_volume_delivered_ratio", "Delivered / deliverable under the observed demand; absent when idle or unprovisioned.", DEV),
            utilisation: g("iosentinel_volume_provision_utilisation_ratio", "max(EBS ops / provisioned IOPS, bytes / provisioned throughput).", DEV),
            latency: g("iosentinel_volume_nominal_latency_seconds", "Healthy per-request latency the judgement uses.", DEV),
            state: g("iosentinel_volume_state", "1 for the volume's current state, 0 for the others.", &["device", "volume_id", "state"]),
            state_seconds: g("iosentinel_volume_state_duration_seconds", "Time since the volume entered its current state.", DEV),
            transitions: reg(
                &r,
                IntCounterVec::new(Opts::new("iosentinel_volume_transitions_total", "State changes by new state."), &["device", "volume_id", "state"]).unwrap(),
            ),
            psi_avg10: g("iosentinel_host_pressure_avg10_ratio", "Pressure stall information, 10 s average, as a ratio.", &["resource", "kind"]),
            psi_total: c("iosentinel_host_pressure_stall_seconds_total", "Pressure stall time since start.", &["resource", "kind"]),
            http_requests: reg(
                &r,
                IntCounterVec::new(Opts::new("iosentinel_http_requests_total", "HTTP requests served by path."), &["path"]).unwrap(),
            ),
            registry: r,
        }
    }

    pub fn sample_failed(&self) {
        self.sampler_errors.with_label_values(&["read"]).inc();
    }

    /// Updates everything from one evaluated tick.
    pub fn observe(&self, m: &Monitor, tick: &Tick, transitions: &[Transition], elapsed_s: f64) {
        self.samples.inc();
        self.sample_duration.observe(elapsed_s);
        self.last_sample.set(m.unix_at(tick.taken_ms));
        for e in &tick.events {
            let kind = match e {
                SamplerEvent::BadLine(_) => "bad_line",
                SamplerEvent::Reset(_) => "reset",
                _ => continue,
            };
            self.sampler_errors.with_label_values(&[kind]).inc();
        }
        for r in &tick.rates {
            let vid = m
                .tracker(&r.device)
                .and_then(|t| t.spec().volume_id.clone())
                .unwrap_or_default();
            let l = [r.device.as_str(), vid.as_str()];
            let dt = r.interval_s;
            for (op, n, kb, wait) in [
                ("read", r.r_s, r.rkb_s, r.r_await),
                ("write", r.w_s, r.wkb_s, r.w_await),
            ] {
                let ol = [l[0], l[1], op];
                self.ops.with_label_values(&ol).inc_by(n * dt);
                self.bytes.with_label_values(&ol).inc_by(kb * 1024.0 * dt);
                self.op_time
                    .with_label_values(&ol)
                    .inc_by(wait.unwrap_or(0.0) * n * dt / 1000.0);
            }
            self.busy
                .with_label_values(&l)
                .inc_by(r.util_pct / 100.0 * dt);
            self.weighted.with_label_values(&l).inc_by(r.aqu_sz * dt);
            self.iops.with_label_values(&l).set(r.iops());
            self.throughput.with_label_values(&l).set(r.bytes_s());
            self.queue.with_label_values(&l).set(r.aqu_sz);
            self.in_flight.with_label_values(&l).set(r.in_flight as f64);
            match r.await_ms {
                Some(a) => self.await_s.with_label_values(&l).set(a / 1000.0),
                None => {
                    let _ = self.await_s.remove_label_values(&l);
                }
            }
        }
        for t in m.trackers() {
            let spec = t.spec();
            let vid = spec.volume_id.clone().unwrap_or_default();
            let l = [spec.device.as_str(), vid.as_str()];
            set_opt(&self.prov_iops, &l, spec.provisioned_iops);
            set_opt(
                &self.prov_tput,
                &l,
                spec.provisioned_mibps.map(|m| m * 1024.0 * 1024.0),
            );
            set_opt(&self.ratio, &l, t.last().and_then(|j| j.delivered_ratio));
            set_opt(&self.utilisation, &l, t.last().and_then(|j| j.utilisation));
            self.latency
                .with_label_values(&l)
                .set(t.latency_ms(&m.config().evaluation).0 / 1000.0);
            for s in State::ALL {
                self.state
                    .with_label_values(&[l[0], l[1], s.as_str()])
                    .set(if s == t.state() { 1.0 } else { 0.0 });
            }
            self.state_seconds
                .with_label_values(&l)
                .set(((tick.taken_ms - t.since_ms()) / 1000.0).max(0.0));
        }
        for tr in transitions {
            let vid = m
                .tracker(&tr.device)
                .and_then(|t| t.spec().volume_id.clone())
                .unwrap_or_default();
            self.transitions
                .with_label_values(&[tr.device.as_str(), vid.as_str(), tr.to.as_str()])
                .inc();
        }
        for (res, now, prev) in [
            ("io", &m.pressure.io, &m.pressure_prev.io),
            ("cpu", &m.pressure.cpu, &m.pressure_prev.cpu),
        ] {
            let Some(p) = now else { continue };
            self.psi_avg10
                .with_label_values(&[res, "some"])
                .set(p.some_avg10 / 100.0);
            if let Some(f) = p.full_avg10 {
                self.psi_avg10
                    .with_label_values(&[res, "full"])
                    .set(f / 100.0);
            }
            if let Some(q) = prev {
                let d = p.some_total_us.saturating_sub(q.some_total_us);
                self.psi_total
                    .with_label_values(&[res, "some"])
                    .inc_by(d as f64 / 1e6);
                if let (Some(a), Some(b)) = (p.full_total_us, q.full_total_us) {
                    self.psi_total
                        .with_label_values(&[res, "full"])
                        .inc_by(a.saturating_sub(b) as f64 / 1e6);
                }
            }
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}

fn set_opt(g: &GaugeVec, l: &[&str], v: Option<f64>) {
    match v {
        Some(v) => g.with_label_values(l).set(v),
        None => {
            let _ = g.remove_label_values(l);
        }
    }
}
