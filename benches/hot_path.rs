//! The per-sample hot path: parse a 32-device diskstats text and derive every device's
//! rates, measured beside a bare read of /proc/diskstats (the floor we are judged against).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use iosentinel::config::{EvalConfig, VolumeType};
use iosentinel::eval::{Tracker, VolumeSpec};
use iosentinel::model::derive;
use iosentinel::source::diskstats;

/// 32 NVMe devices in the 20-field format, counters shifted by `k` to vary the text.
pub fn diskstats_text(k: u64) -> String {
    (0..32u64)
        .map(|i| {
            let b = 1_000_000 * (i + 1) + k * 997;
            format!(
                " 259 {i:>7} nvme{i}n1 {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n",
                b,
                b / 100,
                b * 8,
                b * 2,
                b / 2,
                b / 300,
                b * 4,
                b * 3,
                i % 9,
                b,
                b * 5,
                b / 50,
                0,
                b / 10,
                b / 40,
                b / 1000,
                b / 900
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let prev = diskstats::parse(&diskstats_text(0)).0;
    let text = diskstats_text(1);
    c.bench_function("read /proc/diskstats (floor)", |b| {
        b.iter(|| black_box(std::fs::read_to_string("/proc/diskstats").unwrap()))
    });
    c.bench_function("parse+derive 32 devices", |b| {
        b.iter(|| {
            let (cur, _) = diskstats::parse(black_box(&text));
            let rates: Vec<_> = prev
                .iter()
                .zip(&cur)
                .filter_map(|(p, c)| derive(p, c, 1000.0))
                .collect();
            black_box(rates)
        })
    });
    let cfg = EvalConfig::default();
    let mut trackers: Vec<Tracker> = prev
        .iter()
        .map(|d| {
            let spec = VolumeSpec {
                device: d.name.clone(),
                volume_type: VolumeType::Io2,
                provisioned_iops: Some(16000.0),
                provisioned_mibps: Some(1000.0),
                ..VolumeSpec::default()
            };
            Tracker::new(spec, 0.0)
        })
        .collect();
    let mut now = 0.0;
    c.bench_function("parse+derive+evaluate 32 devices", |b| {
        b.iter(|| {
            now += 1000.0;
            let (cur, _) = diskstats::parse(black_box(&text));
            for ((p, c), t) in prev.iter().zip(&cur).zip(trackers.iter_mut()) {
                if let Some(r) = derive(p, c, 1000.0) {
                    black_box(t.observe(&r, now, &cfg));
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
