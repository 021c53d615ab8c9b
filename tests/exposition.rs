//! Golden test of the whole /metrics exposition on the fixture tree: a renamed metric, a
//! changed label or a lost help text shows up as a diff. `UPDATE_GOLDEN=1` rewrites it.

use std::path::{Path, PathBuf};

use iosentinel::config::Config;
use iosentinel::monitor::Monitor;
use iosentinel::sink::metrics::Metrics;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Lines whose values depend on the clock, not on the input.
fn deterministic(text: &str) -> String {
    text.lines()
        .filter(|l| {
            ![
                "iosentinel_last_sample_timestamp_seconds ",
                "iosentinel_sample_duration_seconds",
                "iosentinel_volume_state_duration_seconds{",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

pub fn exposition() -> String {
    let cfg = Config::parse(
        "volumes:\n  - device: nvme1n1\n    volume_id: vol-0123456789abcdef0\n    type: io2\n    provisioned_iops: 16000\n    provisioned_throughput_mibps: 1000\n",
        "test.yaml",
    )
    .unwrap();
    let mut m = Monitor::new(root().join("root/proc"), root().join("root/sys"), cfg);
    let metrics = Metrics::new();
    for _ in 0..2 {
        let step = m.step().unwrap();
        metrics.observe(&m, &step.tick, &step.transitions, 0.0001);
    }
    metrics.render()
}

#[test]
fn exposition_matches_golden() {
    let golden_path = root().join("metrics.golden");
    let got = deterministic(&exposition());
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&golden_path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden_path)
        .expect("tests/fixtures/metrics.golden (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        got, want,
        "exposition changed; review, then UPDATE_GOLDEN=1 cargo test --test exposition"
    );
    // The figures the golden must hold, so that regenerating it blindly cannot hide a loss.
    for needle in [
        "iosentinel_volume_provisioned_iops{device=\"nvme1n1\",volume_id=\"vol-0123456789abcdef0\"} 16000",
        "iosentinel_volume_state{device=\"nvme1n1\",state=\"idle\",volume_id=\"vol-0123456789abcdef0\"} 1",
        "iosentinel_volume_state{device=\"nvme0n1\",state=\"idle\",volume_id=\"\"} 1",
        "iosentinel_host_pressure_avg10_ratio{kind=\"some\",resource=\"cpu\"} 0.8",
        "iosentinel_disk_in_flight_requests{device=\"nvme1n1\",volume_id=\"vol-0123456789abcdef0\"} 8",
        "iosentinel_build_info{version=",
        "# TYPE iosentinel_disk_completed_operations_total counter",
    ] {
        assert!(want.contains(needle), "golden lacks {needle}");
    }
}
