//! The real binary against fixture trees and configuration files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iosentinel"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/root")
}

#[test]
fn status_json_on_a_fixture_tree() {
    let out = bin()
        .args([
            "status",
            "--json",
            "--interval",
            "100ms",
            "--count",
            "2",
            "--config",
            "/dev/null",
        ])
        .arg("--proc-root")
        .arg(root().join("proc"))
        .arg("--sys-root")
        .arg(root().join("sys"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one object per interval: {stdout}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let devs = v["devices"].as_array().unwrap();
    let names: Vec<_> = devs.iter().map(|d| d["device"].as_str().unwrap()).collect();
    assert_eq!(names, ["nvme0n1", "nvme1n1", "nvme2n1"]);
    let pg = &devs[1];
    assert_eq!(pg["mounts"][0], "/var/lib/postgresql");
    // Static counters: zero rates, latencies absent rather than zero, in-flight as read.
    assert_eq!(pg["r_s"], 0.0);
    assert!(pg["r_await"].is_null());
    assert_eq!(pg["in_flight"], 8);
    for field in [
        "interval_s",
        "w_s",
        "rkb_s",
        "wkb_s",
        "w_await",
        "aqu_sz",
        "util_pct",
        "areq_sz",
        "f_s",
        "d_s",
    ] {
        assert!(pg.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn status_table_names_the_mounts() {
    let out = bin()
        .args([
            "status",
            "--interval",
            "100ms",
            "--count",
            "1",
            "--config",
            "/dev/null",
        ])
        .arg("--proc-root")
        .arg(root().join("proc"))
        .arg("--sys-root")
        .arg(root().join("sys"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("aqu-sz") && stdout.contains("%util"),
        "{stdout}"
    );
    let line = stdout.lines().find(|l| l.starts_with("nvme1n1")).unwrap();
    assert!(line.ends_with("/var/lib/postgresql"), "{line}");
}

#[test]
fn missing_proc_root_is_a_clear_error() {
    let out = bin()
        .args([
            "status",
            "--count",
            "1",
            "--config",
            "/dev/null",
            "--proc-root",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/diskstats"), "{err}");
}

fn check_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iosentinel.yaml");
    std::fs::write(&path, text).unwrap();
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/iosentinel.yaml");
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn malformed_configs_name_file_line_and_field() {
    let cases = [
        (
            "volumes:\n  - device: nvme1n1\n    provisioned_iops: -5\n",
            ":3:",
            "volumes[0].provisioned_iops: expected a positive integer",
        ),
        (
            "volumes:\n  - device: nvme1n1\n    provisioned_iops: lots\n",
            ":3:",
            "volumes[0].provisioned_iops: invalid type",
        ),
        (
            "interval: 1s\nintervall: 2s\n",
            ":2:",
            "intervall: unknown field",
        ),
        (
            "evaluation:\n  window: soon\n",
            ":2:",
            "evaluation.window: expected a duration",
        ),
        (
            "evaluation:\n  degraded_ratio: 1.5\n",
            ":2:",
            "evaluation.degraded_ratio: expected a number between 0 and 1",
        ),
        (
            "volumes:\n  - device: xvdf\n    type: gp4\n",
            ":3:",
            "volumes[0].type: unknown variant `gp4`",
        ),
        (
            "volumes:\n  - device: xvdf\n    volume_id: vol-xyz\n",
            ":3:",
            "volumes[0].volume_id: expected an EBS volume id",
        ),
        (
            "volumes:\n  - device: a\n  - device: a\n",
            ":3:",
            "volumes[1].device: device listed twice",
        ),
        ("listen: not-an-address\n", ":1:", "listen:"),
        ("devices: [1, 2\n", ":", "iosentinel.yaml"),
    ];
    for (text, at, msg) in cases {
        let (ok, err) = check_config(text);
        assert!(!ok, "accepted: {text}");
        assert!(
            err.contains("iosentinel.yaml") && err.contains(at) && err.contains(msg),
            "for {text:?} got {err}"
        );
    }
    assert!(
        check_config("# nothing but a comment\n").0,
        "a config of only comments means defaults"
    );
}
