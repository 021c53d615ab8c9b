//! Which block devices to watch: whole disks by default, judged from sysfs (a whole disk
//! is a directory in `<sys-root>/block`, a partition has a `partition` file), with a
//! name-based fallback where sysfs is not available (containers, fixture trees).

use std::collections::HashMap;
use std::path::Path;

use crate::config::DeviceFilter;

/// What sysfs says about the block devices present.
#[derive(Debug, Clone, Default)]
pub struct BlockTopology {
    /// partition name → the whole disk it belongs to
    pub parent: HashMap<String, String>,
    /// stacked device (dm-*, md*) → the devices below it (`slaves/`)
    pub lower: HashMap<String, Vec<String>>,
    /// whole disks listed in `<sys-root>/block`; empty when sysfs is unavailable
    pub disks: Vec<String>,
}

impl BlockTopology {
    /// Reads `<sys-root>/block`. A missing or unreadable sysfs gives an empty topology,
    /// not an error: the name-based fallback takes over.
    pub fn read(sys_root: &Path) -> BlockTopology {
        let mut topo = BlockTopology::default();
        let Ok(entries) = std::fs::read_dir(sys_root.join("block")) else {
            return topo;
        };
        for entry in entries.flatten() {
            let disk = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if let Ok(children) = std::fs::read_dir(&dir) {
                for child in children.flatten() {
                    if child.path().join("partition").exists() {
                        let part = child.file_name().to_string_lossy().into_owned();
                        topo.parent.insert(part, disk.clone());
                    }
                }
            }
            if let Ok(slaves) = std::fs::read_dir(dir.join("slaves")) {
                let mut lower: Vec<String> = slaves
                    .flatten()
                    .map(|s| s.file_name().to_string_lossy().into_owned())
                    .collect();
                lower.sort();
                if !lower.is_empty() {
                    topo.lower.insert(disk.clone(), lower);
                }
            }
            topo.disks.push(disk);
        }
        topo.disks.sort();
        topo
    }

    pub fn is_partition(&self, name: &str) -> bool {
        if !self.disks.is_empty() {
            return self.parent.contains_key(name);
        }
        looks_like_partition(name)
    }

    /// The whole disks that hold `name`: itself for a disk, its parent for a partition,
    /// and for a stacked device (LVM, md) the disks under it, recursively.
    pub fn backing_disks(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_backing(name, &mut out, 0);
        out.sort();
        out.dedup();
        out
    }

    fn collect_backing(&self, name: &str, out: &mut Vec<String>, depth: usize) {
        if depth > 8 {
            return;
        }
        if let Some(parent) = self.parent.get(name) {
            return self.collect_backing(parent, out, depth + 1);
        }
        match self.lower.get(name) {
            Some(lower) => {
                for l in lower {
                    self.collect_backing(l, out, depth + 1);
                }
            }
            None => out.push(name.to_string()),
        }
    }
}

/// Name-based guess used only without sysfs: `sda1`, `xvdf2`, `nvme0n1p1`, `mmcblk0p1`.
fn looks_like_partition(name: &str) -> bool {
    let ends_digit = name.ends_with(|c: char| c.is_ascii_digit());
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
        return ends_digit && stem.ends_with('p');
    }
    let is_scsi_like = ["sd", "vd", "hd", "xvd"]
        .iter()
        .any(|p| name.starts_with(p));
    is_scsi_like && ends_digit
}

fn is_virtual(name: &str) -> bool {
    ["loop", "ram", "zram", "dm-", "md", "sr", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Whether `name` is watched under `filter`. An explicit include pattern always wins over
/// the default skips, so `include: ["loop*"]` is enough to watch loop devices.
pub fn is_watched(name: &str, filter: &DeviceFilter, topo: &BlockTopology) -> bool {
    if filter.exclude.iter().any(|p| glob_match(p, name)) {
        return false;
    }
    if !filter.include.is_empty() {
        return filter.include.iter().any(|p| glob_match(p, name));
    }
    if topo.is_partition(name) && !filter.partitions {
        return false;
    }
    !is_virtual(name) || filter.virtual_devices
}

/// Shell-style matching with `*` and `?`, enough for device names.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("nvme*", "nvme1n1"));
        assert!(glob_match("sd?", "sdb"));
        assert!(!glob_match("sd?", "sdb1"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("loop*", "xloop0"));
    }

    #[test]
    fn partition_names_without_sysfs() {
        let topo = BlockTopology::default();
        for p in ["sda1", "xvdf2", "nvme0n1p1", "mmcblk0p3", "vda1"] {
            assert!(topo.is_partition(p), "{p}");
        }
        for d in ["sda", "xvdf", "nvme0n1", "mmcblk0", "vda", "loop0"] {
            assert!(!topo.is_partition(d), "{d}");
        }
    }

    #[test]
    fn default_filter_keeps_whole_real_disks() {
        let f = DeviceFilter::default();
        let topo = BlockTopology::default();
        assert!(is_watched("nvme1n1", &f, &topo));
        assert!(!is_watched("nvme1n1p1", &f, &topo));
        for v in ["loop0", "ram0", "zram0", "dm-0", "md127"] {
            assert!(!is_watched(v, &f, &topo), "{v}");
        }
        let with_loop = DeviceFilter {
            include: vec!["loop*".into()],
            ..DeviceFilter::default()
        };
        assert!(is_watched("loop3", &with_loop, &topo));
        assert!(!is_watched("nvme1n1", &with_loop, &topo));
    }
}
