//! Shared pieces of the tests that need real devices and tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a real-device test cannot run here, or `None` when it can. With
/// `IOSENTINEL_REQUIRE_REAL_DEVICES=1` (set by CI, which runs as root) a missing
/// prerequisite is a failure instead of a skip.
pub fn missing_prerequisite(tools: &[&str]) -> Option<String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref() != Some("0") {
        return Some("needs root (losetup)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no loop device support (/dev/loop-control missing)".into());
    }
    for t in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{t} is not installed"));
        }
    }
    None
}

pub fn required() -> bool {
    std::env::var("IOSENTINEL_REQUIRE_REAL_DEVICES").is_ok_and(|v| v == "1")
}

/// A file-backed loop device with direct I/O, detached on drop.
pub struct LoopDevice {
    pub name: String,
    _dir: tempfile::TempDir,
}

impl LoopDevice {
    pub fn new(size_mb: u64) -> Result<LoopDevice, String> {
        // Under the target dir rather than /tmp: /tmp may be tmpfs, which has no O_DIRECT.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(base).map_err(|e| e.to_string())?;
        let file = dir.path().join("disk.img");
        let f = std::fs::File::create(&file).map_err(|e| e.to_string())?;
        f.set_len(size_mb << 20).map_err(|e| e.to_string())?;
        // Preallocate so writes do not also pay for block allocation in the host filesystem.
        let _ = Command::new("fallocate")
            .arg("-l")
            .arg(format!("{size_mb}M"))
            .arg(&file)
            .status();
        let out = Command::new("losetup")
            .args(["--find", "--show", "--direct-io=on"])
            .arg(&file)
            .output()
            .map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = dev.trim_start_matches("/dev/").to_string();
        Ok(LoopDevice { name, _dir: dir })
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/dev").join(&self.name)
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(self.path()).status();
    }
}

/// Writes a configuration that watches exactly `device` (loop devices are skipped by default).
pub fn config_watching(dir: &Path, device: &str, extra: &str) -> PathBuf {
    let path = dir.join("iosentinel.yaml");
    std::fs::write(
        &path,
        format!("devices:\n  include: [\"{device}\"]\n{extra}"),
    )
    .unwrap();
    path
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iosentinel"))
}
