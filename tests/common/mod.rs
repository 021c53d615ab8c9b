//! Shared pieces of the tests that need real devices and tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a real-device test cannot run here, or `None` when it can. With
/// `IOSENTINEL_REQUIRE_REAL_DEVICES=1` (set by CI, which runs as root) a missing
/// prerequisite is a failure instead of a skip.
pub fn missing_prerequisite(tools: &[&str]) -> Option<String> {
    missing_root().or_else(|| missing_tools(tools))
}

pub fn missing_root() -> Option<String> {
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
    None
}

pub fn missing_tools(tools: &[&str]) -> Option<String> {
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

/// A loop device on the FUSE delay filesystem (tests/support/delaydev.sh): its latency is
/// set while I/O runs. Torn down on drop.
pub struct DelayDevice {
    pub name: String,
    workdir: tempfile::TempDir,
}

fn delaydev() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/delaydev.sh")
}

impl DelayDevice {
    pub fn new(size_mb: u64) -> Result<DelayDevice, String> {
        let workdir =
            tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).map_err(|e| e.to_string())?;
        let out = Command::new(delaydev())
            .arg("up")
            .arg(workdir.path())
            .arg(size_mb.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "delaydev up failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(DelayDevice {
            name: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            workdir,
        })
    }

    pub fn set_delay_us(&self, us: u64) -> Result<(), String> {
        let st = Command::new(delaydev())
            .arg("delay")
            .arg(self.workdir.path())
            .arg(us.to_string())
            .status()
            .map_err(|e| e.to_string())?;
        st.success()
            .then_some(())
            .ok_or_else(|| "delaydev delay failed".to_string())
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/dev").join(&self.name)
    }
}

impl Drop for DelayDevice {
    fn drop(&mut self) {
        let _ = Command::new(delaydev())
            .arg("down")
            .arg(self.workdir.path())
            .status();
    }
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET; returns the body, or None if the server is not answering.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    head.split_whitespace()
        .nth(1)
        .is_some_and(|c| c == "200")
        .then(|| body.to_string())
}

/// A child process killed on drop.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
