//! The volume state machine on synthetic rate sequences.

use iosentinel::config::{EvalConfig, VolumeType};
use iosentinel::eval::state::External;
use iosentinel::eval::{State, Tracker, Transition, VolumeSpec};
use iosentinel::model::Rates;

/// One second of I/O at `iops` requests per second, `queue` outstanding on average
/// (Little's law gives the latency), `kb` per request.
fn rates(iops: f64, queue: f64, kb: f64) -> Rates {
    let await_ms = (iops > 0.0).then(|| queue / iops * 1000.0);
    Rates {
        device: "nvme1n1".into(),
        interval_s: 1.0,
        r_s: iops,
        w_s: 0.0,
        d_s: None,
        f_s: None,
        rrqm_s: 0.0,
        wrqm_s: 0.0,
        rkb_s: iops * kb,
        wkb_s: 0.0,
        dkb_s: None,
        r_await: await_ms,
        w_await: None,
        d_await: None,
        f_await: None,
        await_ms,
        rareq_sz: (iops > 0.0).then_some(kb),
        wareq_sz: None,
        areq_sz: (iops > 0.0).then_some(kb),
        aqu_sz: queue,
        util_pct: if queue > 0.0 { 100.0 } else { 0.0 },
        in_flight: queue.round() as u64,
    }
}

fn spec(t: VolumeType, iops: Option<f64>, mibps: Option<f64>, latency: Option<f64>) -> VolumeSpec {
    VolumeSpec {
        device: "nvme1n1".into(),
        volume_type: t,
        provisioned_iops: iops,
        provisioned_mibps: mibps,
        nominal_latency_ms: latency,
        ..VolumeSpec::default()
    }
}

fn io2() -> VolumeSpec {
    spec(VolumeType::Io2, Some(16000.0), None, Some(1.0))
}

/// Feeds one sample per second starting at second `from`; returns the transitions.
struct Run {
    t: Tracker,
    cfg: EvalConfig,
    now: f64,
    log: Vec<Transition>,
}

impl Run {
    fn new(s: VolumeSpec) -> Run {
        Run {
            t: Tracker::new(s, 0.0),
            cfg: EvalConfig::default(),
            now: 0.0,
            log: vec![],
        }
    }
    fn feed(&mut self, secs: usize, r: &Rates) -> &mut Self {
        for _ in 0..secs {
            self.now += 1000.0;
            if let Some(tr) = self.t.observe(r, self.now, &self.cfg) {
                self.log.push(tr);
            }
        }
        self
    }
    fn silent(&mut self, secs: usize) -> &mut Self {
        for _ in 0..secs {
            self.now += 1000.0;
            if let Some(tr) = self.t.no_sample(self.now, &self.cfg) {
                self.log.push(tr);
            }
        }
        self
    }
    fn states(&self) -> Vec<State> {
        self.log.iter().map(|t| t.to).collect()
    }
    fn entered(&self, s: State) -> usize {
        self.log.iter().filter(|t| t.to == s).count()
    }
}

#[test]
fn idle_disk_is_idle_not_sick() {
    let mut r = Run::new(io2());
    r.feed(300, &rates(3.0, 0.01, 4.0));
    assert_eq!(r.t.state(), State::Idle);
    assert_eq!(r.entered(State::Degraded), 0);
    assert!(
        r.t.reason(&r.cfg).contains("too little demand"),
        "{}",
        r.t.reason(&r.cfg)
    );
    assert!(r.t.last().unwrap().delivered_ratio.is_none());
}

#[test]
fn healthy_volume_is_ok() {
    let mut r = Run::new(io2());
    r.feed(300, &rates(4000.0, 4.0, 16.0)); // 1 ms per request: exactly nominal
    assert_eq!(r.states(), [State::Ok]);
    let ratio = r.t.last().unwrap().delivered_ratio.unwrap();
    assert!((ratio - 1.0).abs() < 1e-9, "{ratio}");
}

#[test]
fn gp3_at_its_usual_two_milliseconds_does_not_alarm() {
    let mut r = Run::new(spec(VolumeType::Gp3, Some(3000.0), Some(125.0), None));
    r.feed(600, &rates(1000.0, 2.0, 8.0)); // 2 ms
    r.feed(600, &rates(1500.0, 1.5, 8.0)); // 1 ms
    assert_eq!(r.entered(State::Degraded), 0, "{:?}", r.log);
    assert_eq!(r.t.state(), State::Ok);
}

#[test]
fn delivering_the_provision_is_at_limit_not_degraded() {
    let mut r = Run::new(spec(VolumeType::Io2, Some(3000.0), None, Some(1.0)));
    r.feed(10, &rates(2000.0, 2.0, 16.0));
    // Deep queue, latency far above nominal, but the volume delivers all it was paid for.
    r.feed(300, &rates(3000.0, 64.0, 16.0));
    assert_eq!(r.t.state(), State::AtLimit);
    assert_eq!(r.entered(State::Degraded), 0);
    assert!(
        r.t.reason(&r.cfg).contains("3000 EBS ops/s of 3000 IOPS"),
        "{}",
        r.t.reason(&r.cfg)
    );
}

#[test]
fn large_requests_count_as_several_ebs_operations() {
    // 250 requests of 1 MiB = 1000 EBS operations of 256 KiB: the whole provision.
    let mut r = Run::new(spec(VolumeType::Io1, Some(1000.0), None, Some(2.0)));
    r.feed(60, &rates(250.0, 8.0, 1024.0));
    assert_eq!(r.t.last().unwrap().ebs_ops_s, 1000.0);
    assert_eq!(r.t.state(), State::AtLimit);
}

#[test]
fn throughput_provision_counts_too() {
    let mut r = Run::new(spec(VolumeType::Gp3, Some(16000.0), Some(125.0), None));
    r.feed(60, &rates(1000.0, 16.0, 128.0)); // 125 MiB/s, at 16 ms per request
    assert_eq!(r.t.state(), State::AtLimit);
    assert!((r.t.last().unwrap().utilisation.unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn degraded_exactly_after_the_window() {
    let mut r = Run::new(io2());
    r.feed(30, &rates(4000.0, 4.0, 16.0));
    // Seed incident: a quarter of what it should deliver at this queue depth.
    r.feed(59, &rates(2000.0, 8.0, 16.0));
    assert_eq!(
        r.t.state(),
        State::Ok,
        "59 s below threshold is not yet the whole window"
    );
    assert!(
        r.t.reason(&r.cfg).contains("below 90% for 59s of 60s"),
        "{}",
        r.t.reason(&r.cfg)
    );
    r.feed(1, &rates(2000.0, 8.0, 16.0));
    assert_eq!(r.t.state(), State::Degraded);
    let tr = r.log.last().unwrap();
    assert!(
        tr.reason
            .contains("25% of the 8000 a healthy io2 volume delivers at queue depth 8.0"),
        "{}",
        tr.reason
    );
}

#[test]
fn flapping_volume_pages_once() {
    let mut r = Run::new(io2());
    r.feed(10, &rates(4000.0, 4.0, 16.0));
    // Short dips never last the window.
    for _ in 0..10 {
        r.feed(20, &rates(2000.0, 8.0, 16.0))
            .feed(5, &rates(4000.0, 4.0, 16.0));
    }
    assert_eq!(r.entered(State::Degraded), 0);
    // Once degraded, short recoveries (shorter than the recovery window) keep it degraded.
    r.feed(60, &rates(2000.0, 8.0, 16.0));
    for _ in 0..10 {
        r.feed(30, &rates(4000.0, 4.0, 16.0))
            .feed(20, &rates(2000.0, 8.0, 16.0));
    }
    assert_eq!(r.entered(State::Degraded), 1, "{:?}", r.states());
    assert_eq!(r.t.state(), State::Degraded);
}

#[test]
fn recovery_needs_margin_and_window() {
    let mut r = Run::new(io2());
    r.feed(61, &rates(2000.0, 8.0, 16.0));
    assert_eq!(r.t.state(), State::Degraded);
    // 92% is above the threshold but inside the margin: still degraded.
    r.feed(300, &rates(3680.0, 4.0, 16.0));
    assert_eq!(r.t.state(), State::Degraded);
    r.feed(59, &rates(4000.0, 4.0, 16.0));
    assert_eq!(r.t.state(), State::Degraded);
    r.feed(1, &rates(4000.0, 4.0, 16.0));
    assert_eq!(r.t.state(), State::Ok);
    assert_eq!(r.states(), [State::Ok, State::Degraded, State::Ok]);
}

#[test]
fn stall_detected_after_stall_after() {
    let mut r = Run::new(io2());
    r.feed(10, &rates(4000.0, 4.0, 16.0));
    let mut stuck = rates(0.0, 6.0, 16.0);
    stuck.in_flight = 6;
    r.feed(9, &stuck);
    assert_ne!(r.t.state(), State::Stalled);
    r.feed(1, &stuck);
    assert_eq!(r.t.state(), State::Stalled);
    assert!(r
        .log
        .last()
        .unwrap()
        .reason
        .contains("6 requests in flight and none completed for 10s"));
    r.feed(1, &rates(4000.0, 4.0, 16.0));
    assert_eq!(r.t.state(), State::Ok, "completions resume: stall over");
}

#[test]
fn no_samples_become_unknown_then_recover() {
    let mut r = Run::new(io2());
    r.feed(10, &rates(4000.0, 4.0, 16.0));
    r.silent(4);
    assert_eq!(r.t.state(), State::Ok);
    r.silent(1);
    assert_eq!(r.t.state(), State::Unknown);
    assert!(r.t.reason(&r.cfg).contains("no fresh sample for 5s"));
    r.feed(1, &rates(4000.0, 4.0, 16.0));
    assert_eq!(r.t.state(), State::Ok);
}

#[test]
fn local_disk_without_provision_is_never_called_degraded() {
    let mut r = Run::new(spec(VolumeType::Local, None, None, None));
    r.feed(300, &rates(150.0, 32.0, 4.0)); // saturated HDD: 213 ms
    assert_eq!(r.entered(State::Degraded), 0);
    assert!(
        r.t.reason(&r.cfg).contains("only stalls"),
        "{}",
        r.t.reason(&r.cfg)
    );
    let mut stuck = rates(0.0, 3.0, 4.0);
    stuck.in_flight = 3;
    r.feed(10, &stuck);
    assert_eq!(r.t.state(), State::Stalled);
}

#[test]
fn learned_latency_tracks_a_fast_volume() {
    let mut r = Run::new(spec(VolumeType::Gp3, Some(16000.0), None, None));
    r.feed(200, &rates(4000.0, 2.0, 8.0)); // 0.5 ms: faster than the 3 ms default
    let (l, src) = r.t.latency_ms(&r.cfg);
    assert_eq!(src, "learned");
    assert!(
        (l - 0.75).abs() < 1e-9,
        "bounded to a quarter of the default: {l}"
    );
    // Now 4.5 ms at the same queue: six times slower than learned, though within what the
    // default alone would have called healthy.
    r.feed(61, &rates(444.0, 2.0, 8.0));
    assert_eq!(r.t.state(), State::Degraded);
    let mut no_learning = Run::new(spec(VolumeType::Gp3, Some(16000.0), None, None));
    no_learning.cfg.learn_latency = false;
    no_learning.feed(200, &rates(4000.0, 2.0, 8.0));
    assert_eq!(no_learning.t.latency_ms(&no_learning.cfg).1, "type default");
}

#[test]
fn burst_and_instance_limits_are_not_degradation() {
    let mut r = Run::new(spec(VolumeType::Gp2, Some(300.0), None, None));
    r.t.external = External {
        burst_balance_pct: Some(0.0),
        instance_limit_exceeded: None,
    };
    r.feed(120, &rates(300.0, 30.0, 4.0));
    assert_eq!(r.t.state(), State::BurstDepleted);
    assert!(r.t.reason(&r.cfg).contains("burst balance 0%"));

    let mut r = Run::new(io2());
    r.t.external.instance_limit_exceeded = Some(true);
    r.feed(120, &rates(2000.0, 8.0, 16.0));
    assert_eq!(r.t.state(), State::InstanceLimit);
    assert_eq!(r.entered(State::Degraded), 0);
}

#[test]
fn informational_states_settle_before_changing() {
    let mut r = Run::new(io2());
    r.feed(10, &rates(4000.0, 4.0, 16.0));
    // A bursty workload: busy 3 s, quiet 2 s, never long enough to settle into idle.
    for _ in 0..20 {
        r.feed(3, &rates(4000.0, 4.0, 16.0))
            .feed(2, &rates(1.0, 0.0, 4.0));
    }
    assert_eq!(r.states(), [State::Ok]);
    r.feed(5, &rates(1.0, 0.0, 4.0));
    assert_eq!(r.states(), [State::Ok, State::Idle]);
}
