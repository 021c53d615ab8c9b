//! Parsing and rate derivation on fixture diskstats texts: every kernel format, malformed
//! lines, resets, devices appearing and vanishing.

use std::path::{Path, PathBuf};

use iosentinel::config::DeviceFilter;
use iosentinel::model::derive;
use iosentinel::sampler::{Sampler, SamplerEvent};
use iosentinel::source::diskstats;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/diskstats")
            .join(name),
    )
    .unwrap()
}

fn sampler() -> Sampler {
    // A sys root that does not exist: the name-based partition rules apply.
    Sampler::new(
        PathBuf::from("/nonexistent-proc"),
        PathBuf::from("/nonexistent-sys"),
        DeviceFilter::default(),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn fourteen_field_format_has_no_discards_or_flushes() {
    let (devs, bad) = diskstats::parse(&fixture("format14.txt"));
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(devs.len(), 2);
    assert_eq!(devs[0].name, "sda");
    assert_eq!(devs[0].weighted_ms, 2000);
    assert_eq!(devs[0].discards, None);
    assert_eq!(devs[0].flushes, None);
}

#[test]
fn eighteen_field_format_has_discards_only() {
    let (devs, bad) = diskstats::parse(&fixture("format18.txt"));
    assert!(bad.is_empty());
    assert_eq!(devs[0].discards, Some(30));
    assert_eq!(devs[0].discard_ms, Some(90));
    assert_eq!(devs[0].flushes, None);
}

#[test]
fn twenty_field_format_has_flushes() {
    let (devs, _) = diskstats::parse(&fixture("format20.txt"));
    assert_eq!(devs[0].flushes, Some(50));
    assert_eq!(devs[0].flush_ms, Some(25));
}

#[test]
fn malformed_lines_are_reported_and_the_rest_is_kept() {
    let (devs, bad) = diskstats::parse(&fixture("malformed.txt"));
    let names: Vec<_> = devs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["nvme0n1", "nvme3n1"]);
    let bad_lines: Vec<_> = bad.iter().map(|b| b.line_no).collect();
    assert_eq!(bad_lines, [2, 3, 4, 5, 6, 7]);
    assert!(bad[0].reason.contains("found 6"), "{}", bad[0].reason);
}

#[test]
fn rates_match_iostat_arithmetic() {
    let (t0, _) = diskstats::parse(&fixture("seq_t0.txt"));
    let (t1, _) = diskstats::parse(&fixture("seq_t1.txt"));
    let r = derive(&t0[1], &t1[1], 1000.0).unwrap();
    assert_eq!(r.device, "nvme1n1");
    assert!(close(r.r_s, 2000.0) && close(r.w_s, 1000.0));
    assert!(close(r.rrqm_s, 10.0) && close(r.wrqm_s, 10.0));
    assert!(close(r.rkb_s, 16000.0) && close(r.wkb_s, 8000.0));
    assert!(close(r.r_await.unwrap(), 1.5) && close(r.w_await.unwrap(), 2.5));
    assert!(close(r.await_ms.unwrap(), 5500.0 / 3000.0));
    assert!(close(r.aqu_sz, 10.0));
    assert!(close(r.util_pct, 100.0));
    assert!(close(r.rareq_sz.unwrap(), 8.0) && close(r.areq_sz.unwrap(), 8.0));
    assert_eq!(r.d_s, Some(0.0));
    assert_eq!(r.d_await, None, "no discard completed: no discard latency");
    assert!(close(r.f_s.unwrap(), 10.0) && close(r.f_await.unwrap(), 0.5));
    assert_eq!(r.in_flight, 16);
    // Twice the interval: every per-second figure halves, latencies do not move.
    let r2 = derive(&t0[1], &t1[1], 2000.0).unwrap();
    assert!(close(r2.r_s, 1000.0) && close(r2.aqu_sz, 5.0) && close(r2.util_pct, 50.0));
    assert!(close(r2.r_await.unwrap(), 1.5));
    // An idle device: zero rates, no latency.
    let idle = derive(&t0[0], &t1[0], 1000.0).unwrap();
    assert_eq!((idle.r_s, idle.r_await, idle.await_ms), (0.0, None, None));
}

#[test]
fn backwards_counter_gives_no_rate() {
    let (t1, _) = diskstats::parse(&fixture("seq_t1.txt"));
    let (t2, _) = diskstats::parse(&fixture("seq_t2.txt"));
    assert!(derive(&t1[1], &t2[1], 1000.0).is_none());
    // One counter alone going backwards is enough (e.g. a 32-bit wrap of sectors).
    let mut wrapped = t1[1].clone();
    wrapped.sectors_written = 5;
    assert!(derive(&t1[1], &wrapped, 1000.0).is_none());
    // A different device behind the same name (replaced): no rate either.
    let mut replaced = t1[1].clone();
    replaced.minor += 1;
    assert!(derive(&t1[1], &replaced, 1000.0).is_none());
    assert!(derive(&t1[1], &t1[1], 0.0).is_none(), "zero interval");
}

#[test]
fn sequence_with_reset_appear_and_vanish() {
    let mut s = sampler();
    let first = s.ingest(diskstats::parse(&fixture("seq_t0.txt")).0, vec![], 0.0);
    assert!(first.rates.is_empty(), "a first reading has no rates");
    assert_eq!(first.events.len(), 3);

    let t1 = s.ingest(diskstats::parse(&fixture("seq_t1.txt")).0, vec![], 1000.0);
    assert_eq!(t1.rates.len(), 3);
    assert!(t1.events.is_empty(), "{:?}", t1.events);

    let t2 = s.ingest(diskstats::parse(&fixture("seq_t2.txt")).0, vec![], 2000.0);
    let names: Vec<_> = t2.rates.iter().map(|r| r.device.as_str()).collect();
    assert_eq!(names, ["nvme0n1"], "reset and new devices give no rate yet");
    assert!(t2.events.contains(&SamplerEvent::Reset("nvme1n1".into())));
    assert!(t2
        .events
        .contains(&SamplerEvent::Vanished("nvme2n1".into())));
    assert!(t2
        .events
        .contains(&SamplerEvent::Appeared("nvme3n1".into())));

    // After a reset the next interval has rates again, from the new baseline.
    let mut t3_devs = diskstats::parse(&fixture("seq_t2.txt")).0;
    t3_devs[1].reads += 100;
    let t3 = s.ingest(t3_devs, vec![], 3000.0);
    let nvme1 = t3.rates.iter().find(|r| r.device == "nvme1n1").unwrap();
    assert!(close(nvme1.r_s, 100.0));
    assert!(t3.rates.iter().any(|r| r.device == "nvme3n1"));
}

#[test]
fn partitions_and_virtual_devices_are_skipped_by_default() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/root");
    let mut s = Sampler::new(root.join("proc"), root.join("sys"), DeviceFilter::default());
    let tick = s.tick().unwrap();
    assert!(tick.rates.is_empty());
    let names: Vec<_> = s
        .current()
        .unwrap()
        .devices
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["nvme0n1", "nvme1n1", "nvme2n1"]);
    assert_eq!(s.mounts_of("nvme0n1"), ["/"]);
    assert_eq!(s.mounts_of("nvme1n1"), ["/var/lib/postgresql"]);
    // Mounted through LVM (dm-0 → nvme2n1), with an escaped space in the path.
    assert_eq!(s.mounts_of("nvme2n1"), ["/srv/wal archive"]);
}

mod properties {
    use iosentinel::config::Config;
    use iosentinel::source::{diskstats, mounts, pressure};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn diskstats_parser_never_panics(text in ".{0,400}") {
            let (devs, bad) = diskstats::parse(&text);
            prop_assert!(devs.len() + bad.len() <= text.lines().count());
        }

        #[test]
        fn diskstats_lines_of_numbers_never_panic(
            fields in proptest::collection::vec("[0-9]{1,25}|-?[0-9]{1,3}|[a-z0-9]{1,6}", 0..24)
        ) {
            let line = fields.join(" ");
            let _ = diskstats::parse(&line);
        }

        #[test]
        fn mountinfo_parser_never_panics(text in ".{0,400}") {
            let _ = mounts::parse(&text);
        }

        #[test]
        fn pressure_parser_never_panics(text in ".{0,200}") {
            let _ = pressure::parse(&text);
        }

        #[test]
        fn config_parser_gives_value_or_located_error(text in ".{0,300}") {
            if let Err(e) = Config::parse(&text, "x.yaml") {
                prop_assert!(e.to_string().starts_with("x.yaml:"), "{}", e);
            }
        }

        #[test]
        fn config_parser_on_yaml_like_text(
            key in "interval|listen|devices|volumes|evaluation|bogus",
            val in "[-0-9a-z.:\\[\\]{} ]{0,30}"
        ) {
            let text = format!("{key}: {val}\n");
            if let Err(e) = Config::parse(&text, "y.yaml") {
                // Located within the text: its one line, or end of input just after it.
                let msg = e.to_string();
                let line: usize = msg.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
                prop_assert!(msg.starts_with("y.yaml:") && (1..=2).contains(&line), "{}", msg);
            }
        }
    }
}
