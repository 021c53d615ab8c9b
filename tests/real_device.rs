//! Tests that need real parts: block devices (loop devices driven by fio, as root) and
//! external tools (promtool). Without them they are reported as ignored with the reason,
//! never as passed; CI sets IOSENTINEL_REQUIRE_REAL_DEVICES=1 and so must run them.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let mut args = Arguments::from_args();
    // One at a time: a loaded CPU skews the start of the two samplers' windows.
    args.test_threads = Some(1);
    let tests = vec![
        gated(
            "status_matches_iostat_on_a_loop_device",
            &["fio", "iostat", "losetup"],
            status_matches_iostat,
        ),
        gated(
            "degraded_device_is_detected_and_heals",
            &[
                "fio",
                "losetup",
                "gcc",
                "pkg-config",
                "fusermount3",
                "promtool",
            ],
            degrade_and_heal,
        ),
        tool(
            "promtool_lints_the_exposition",
            &["promtool"],
            promtool_lints_exposition,
        ),
        tool(
            "promtool_tests_the_alert_rules",
            &["promtool"],
            promtool_tests_rules,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}

/// A trial that is ignored (with the reason in its name) when its prerequisites are missing.
fn gated(name: &str, tools: &[&str], f: fn() -> Result<(), Failed>) -> Trial {
    trial(name, common::missing_prerequisite(tools), f)
}

/// Like `gated`, for tests that need tools but not root.
fn tool(name: &str, tools: &[&str], f: fn() -> Result<(), Failed>) -> Trial {
    trial(name, common::missing_tools(tools), f)
}

fn trial(name: &str, missing: Option<String>, f: fn() -> Result<(), Failed>) -> Trial {
    match missing {
        None => Trial::test(name, f),
        Some(why) if common::required() => Trial::test(name, move || {
            Err(format!("required but cannot run: {why}").into())
        }),
        Some(why) => {
            eprintln!("SKIPPED {name}: {why}");
            Trial::test(format!("{name} (skipped: {why})"), || Ok(())).with_ignored_flag(true)
        }
    }
}

/// Within 1% of iostat, or within the rounding of iostat's two-decimal output.
fn agree(what: &str, ours: f64, iostat: f64) -> Result<(), String> {
    // %util counts ms of io_ticks: the few ms by which the two samplers' windows differ
    // are worth up to ~0.1 point at any load, so 1% of a small %util is below resolution.
    let floor = if what == "util_pct" { 0.1 } else { 0.006 };
    let tol = (iostat.abs() * 0.01).max(floor);
    if (ours - iostat).abs() <= tol {
        Ok(())
    } else {
        Err(format!(
            "{what}: iosentinel {ours:.3} vs iostat {iostat:.3} (tolerance {tol:.3})"
        ))
    }
}

fn status_matches_iostat() -> Result<(), Failed> {
    let dev = common::LoopDevice::new(256)?;
    let tmp = tempfile::tempdir()?;
    let cfg = common::config_watching(tmp.path(), &dev.name, "");
    // A steady mixed load with a fixed rate, so that two samplers started a few ms apart see
    // the same interval's work.
    let mut fio = Command::new("fio")
        .args([
            "--name=steady",
            "--thread",
            "--direct=1",
            "--ioengine=libaio",
            "--iodepth=4",
            "--rw=randrw",
            "--rwmixread=70",
        ])
        .args([
            "--bs=4k",
            "--rate_iops=700,300",
            "--time_based",
            "--runtime=14",
            "--output=/dev/null",
        ])
        .arg(format!("--filename={}", dev.path().display()))
        .stdout(Stdio::null())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_secs(2));

    let iostat = Command::new("iostat")
        .args(["-x", "-d", "-y", "-o", "JSON"])
        .arg(&dev.name)
        .args(["5", "1"])
        .stdout(Stdio::piped())
        .spawn()?;
    let ours = common::bin()
        .args([
            "status",
            "--json",
            "--interval",
            "5s",
            "--count",
            "1",
            "--config",
        ])
        .arg(&cfg)
        .output()?;
    let iostat = iostat.wait_with_output()?;
    let _ = fio.kill();
    let _ = fio.wait();
    if !ours.status.success() {
        return Err(format!(
            "iosentinel status failed: {}",
            String::from_utf8_lossy(&ours.stderr)
        )
        .into());
    }

    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout)?;
    let ours = ours["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["device"] == dev.name.as_str()))
        .ok_or("device missing from status output")?
        .clone();
    let iostat: serde_json::Value = serde_json::from_slice(&iostat.stdout)?;
    let theirs = iostat["sysstat"]["hosts"][0]["statistics"][0]["disk"][0].clone();
    if theirs["disk_device"] != dev.name.as_str() {
        return Err(format!("unexpected iostat output: {iostat}").into());
    }
    let num =
        |v: &serde_json::Value, k: &str| v[k].as_f64().ok_or_else(|| format!("no {k} in {v}"));
    let pairs = [
        ("r_s", "r/s"),
        ("w_s", "w/s"),
        ("rkb_s", "rkB/s"),
        ("wkb_s", "wkB/s"),
        ("r_await", "r_await"),
        ("w_await", "w_await"),
        ("aqu_sz", "aqu-sz"),
        ("util_pct", "util"),
    ];
    let mut errors = Vec::new();
    for (o, t) in pairs {
        let (a, b) = (num(&ours, o)?, num(&theirs, t)?);
        eprintln!("{o:>9}: iosentinel {a:10.3}  iostat {b:10.3}");
        if let Err(e) = agree(o, a, b) {
            errors.push(e);
        }
    }
    // The load really happened: otherwise agreeing on zeros proves nothing.
    if num(&ours, "r_s")? < 500.0 {
        errors.push(format!(
            "fio load did not arrive: r/s {}",
            num(&ours, "r_s")?
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; ").into())
    }
}

const WINDOW_S: f64 = 10.0;
const RECOVERY_S: f64 = 5.0;

/// The state of `device` in the daemon's /v1/health, with its reason.
fn volume_state(port: u16, device: &str) -> Option<(String, String)> {
    let body = common::http_get(port, "/v1/health")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let vol = v["volumes"]
        .as_array()?
        .iter()
        .find(|x| x["device"] == device)?
        .clone();
    Some((
        vol["state"].as_str()?.to_string(),
        vol["reason"].as_str().unwrap_or("").to_string(),
    ))
}

/// Polls the state every 200 ms for `secs`; fails if a forbidden state shows up; returns
/// the time the wanted state first appeared, if it did.
fn watch(
    port: u16,
    dev: &str,
    secs: f64,
    want: Option<&str>,
    forbidden: &[&str],
) -> Result<Option<f64>, String> {
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        if let Some((state, reason)) = volume_state(port, dev) {
            if forbidden.contains(&state.as_str()) {
                return Err(format!(
                    "{dev} was {state} after {:.1}s: {reason}",
                    start.elapsed().as_secs_f64()
                ));
            }
            if want == Some(state.as_str()) {
                eprintln!(
                    "  {dev}: {state} after {:.1}s: {reason}",
                    start.elapsed().as_secs_f64()
                );
                return Ok(Some(start.elapsed().as_secs_f64()));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(None)
}

/// A real device is degraded (latency added under a fixed fio queue depth) and healed; the
/// daemon must say `degraded` within the window plus two samples, never while healthy or
/// idle, and return to `ok` after the heal.
fn degrade_and_heal() -> Result<(), Failed> {
    let dev = common::DelayDevice::new(128)?;
    let tmp = tempfile::tempdir()?;
    // io2-like volume: 1 ms per request when healthy, a provision far above what the
    // loop device does so that latency is what binds.
    let cfg = common::config_watching(
        tmp.path(),
        &dev.name,
        &format!(
            "volumes:\n  - device: {}\n    type: io2\n    provisioned_iops: 200000\n    nominal_latency_ms: 1.0\n\
             evaluation:\n  window: {WINDOW_S}s\n  recovery_window: {RECOVERY_S}s\n  settle: 2s\n",
            dev.name
        ),
    );
    let port = common::free_port();
    let _daemon = common::Child(
        common::bin()
            .args(["run", "--listen", &format!("127.0.0.1:{port}"), "--config"])
            .arg(&cfg)
            .stderr(Stdio::null())
            .spawn()?,
    );
    // Idle first: nothing runs on the device.
    let idle = watch(
        port,
        &dev.name,
        10.0,
        Some("idle"),
        &["degraded", "stalled"],
    )?;
    idle.ok_or("the idle device never showed as idle")?;
    watch(port, &dev.name, 3.0, None, &["degraded", "stalled", "ok"])?;

    let _fio = common::Child(
        Command::new("fio")
            .args([
                "--name=db",
                "--thread",
                "--direct=1",
                "--ioengine=libaio",
                "--iodepth=8",
                "--rw=randrw",
                "--bs=8k",
            ])
            .args(["--time_based", "--runtime=120", "--output=/dev/null"])
            .arg(format!("--filename={}", dev.path().display()))
            .stdout(Stdio::null())
            .spawn()?,
    );
    watch(port, &dev.name, 8.0, Some("ok"), &["degraded", "stalled"])?
        .ok_or("healthy load never showed as ok")?;
    // Healthy under load for longer than the window: never degraded.
    watch(
        port,
        &dev.name,
        WINDOW_S + 2.0,
        None,
        &["degraded", "stalled", "idle"],
    )?;

    // Degrade: 5 ms per request at queue depth 8 is ~1 600 IOPS where 8 000 are due.
    dev.set_delay_us(5000)?;
    let detected = watch(
        port,
        &dev.name,
        WINDOW_S + 10.0,
        Some("degraded"),
        &["stalled"],
    )?
    .ok_or("the degraded device was never reported degraded")?;
    eprintln!("  detection time {detected:.1}s (window {WINDOW_S}s)");
    if detected > WINDOW_S + 2.0 + 0.5 {
        return Err(format!(
            "degraded reported after {detected:.1}s, more than window + 2 samples"
        )
        .into());
    }
    if detected < WINDOW_S - 0.5 {
        return Err(format!(
            "degraded reported after {detected:.1}s, before the window was complete"
        )
        .into());
    }
    let metrics = common::http_get(port, "/metrics").ok_or("no /metrics")?;
    let line = format!(
        "iosentinel_volume_state{{device=\"{}\",state=\"degraded\",volume_id=\"\"}} 1",
        dev.name
    );
    if !metrics.contains(&line) {
        return Err(format!("/metrics lacks {line}").into());
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), metrics.as_bytes())?;
    let lint = promtool.wait_with_output()?;
    if !lint.status.success() {
        return Err(format!(
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        )
        .into());
    }

    // Heal: back to ok after the recovery window (plus settle and sampling slack).
    dev.set_delay_us(0)?;
    let healed = watch(port, &dev.name, RECOVERY_S + 10.0, Some("ok"), &["stalled"])?
        .ok_or("never returned to ok after the heal")?;
    eprintln!("  back to ok {healed:.1}s after the heal (recovery window {RECOVERY_S}s)");
    // The interval in which the delay was removed is mostly healthy and counts as such,
    // so the recovery window may start up to one sample (1 s) before the heal.
    if healed < RECOVERY_S - 1.0 {
        return Err(format!("left degraded after {healed:.1}s, before the recovery window").into());
    }
    Ok(())
}

fn run_promtool(args: &[&str], stdin: Option<&str>) -> Result<(), Failed> {
    let mut cmd = Command::new("promtool");
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let Some(text) = stdin {
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

fn promtool_lints_exposition() -> Result<(), Failed> {
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics.golden"
    ))?;
    run_promtool(&["check", "metrics"], Some(&golden))
}

fn promtool_tests_rules() -> Result<(), Failed> {
    run_promtool(
        &["check", "rules", "config/rules/iosentinel.rules.yml"],
        None,
    )?;
    run_promtool(
        &["test", "rules", "config/rules/iosentinel.rules.test.yml"],
        None,
    )
}
