//! Which mount points live on which disk, from `<proc-root>/self/mountinfo`, so a figure or
//! an alert can say "the disk under /var/lib/postgresql" rather than "nvme1n1".

use std::collections::BTreeMap;
use std::path::Path;

use super::devices::BlockTopology;

/// One mount as far as we care: device number and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    pub mount_point: String,
    pub fs_type: String,
}

/// Parses mountinfo text; lines that do not parse are skipped (they would only cost us a
/// label, never a figure).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| procfs::process::MountInfo::from_line(line).ok())
        .filter_map(|m| {
            let (maj, min) = m.majmin.split_once(':')?;
            Some(Mount {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                mount_point: unescape(&m.mount_point.to_string_lossy()),
                fs_type: m.fs_type,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Maps each whole disk to the mount points it holds, through partitions and stacked
/// devices (LVM, md). `names` maps "major:minor" to the kernel name (from diskstats).
pub fn by_disk(
    mounts: &[Mount],
    names: &BTreeMap<(u32, u32), String>,
    topo: &BlockTopology,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in mounts {
        let Some(name) = names.get(&(m.major, m.minor)) else {
            continue;
        };
        for disk in topo.backing_disks(name) {
            let points = out.entry(disk).or_default();
            if !points.contains(&m.mount_point) {
                points.push(m.mount_point.clone());
            }
        }
    }
    for points in out.values_mut() {
        points.sort();
    }
    out
}

/// Reads `<proc_root>/self/mountinfo`; an unreadable file yields no mounts.
pub fn read(proc_root: &Path) -> Vec<Mount> {
    std::fs::read_to_string(proc_root.join("self/mountinfo"))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape(r"/mnt/my\040data"), "/mnt/my data");
        assert_eq!(unescape(r"/a\\b"), r"/a\\b");
        assert_eq!(unescape(r"/x\04"), r"/x\04");
    }
}
