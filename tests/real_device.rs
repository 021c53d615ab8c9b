//! Tests on real block devices (loop devices driven by fio). They need root; without it
//! they are reported as ignored with the reason, never as passed.

mod common;

use std::process::{Command, Stdio};

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let tests = vec![gated(
        "status_matches_iostat_on_a_loop_device",
        &["fio", "iostat", "losetup"],
        status_matches_iostat,
    )];
    libtest_mimic::run(&args, tests).exit();
}

/// A trial that is ignored (with the reason in its name) when its prerequisites are missing.
fn gated(name: &str, tools: &[&str], f: fn() -> Result<(), Failed>) -> Trial {
    match common::missing_prerequisite(tools) {
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
    let tol = (iostat.abs() * 0.01).max(0.006);
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
