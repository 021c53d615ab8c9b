//! Reads `<proc-root>/diskstats` through the procfs crate, one line at a time, so that one
//! malformed line costs that device one sample instead of costing every device the read.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::DiskCounters;

#[derive(Debug, Error)]
pub enum DiskstatsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A line that could not be understood; the rest of the file is still used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line_no: usize,
    pub reason: String,
    pub text: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "diskstats line {}: {}: {:?}",
            self.line_no, self.reason, self.text
        )
    }
}

/// Parses the text of a diskstats file (14-, 18- or 20-field kernel formats).
pub fn parse(text: &str) -> (Vec<DiskCounters>, Vec<BadLine>) {
    let mut devices = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(d) => devices.push(d),
            Err(reason) => bad.push(BadLine {
                line_no: i + 1,
                reason,
                text: line.chars().take(200).collect(),
            }),
        }
    }
    (devices, bad)
}

fn parse_line(line: &str) -> Result<DiskCounters, String> {
    let fields = line.split_whitespace().count();
    // 14 fields: up to kernel 4.17; 18: discards (4.18+); 20: flushes (5.5+). Anything else
    // is a truncated or foreign line: procfs would fill missing optional fields with None
    // and hide a torn read.
    if !matches!(fields, 14 | 18 | 20) {
        return Err(format!("expected 14, 18 or 20 fields, found {fields}"));
    }
    let d = procfs::DiskStat::from_line(line).map_err(|e| e.to_string())?;
    let optional = [
        d.discards,
        d.discards_merged,
        d.sectors_discarded,
        d.time_discarding,
        d.flushes,
        d.time_flushing,
    ];
    if optional.iter().take(fields - 14).any(Option::is_none) {
        return Err("discard/flush field is not a number".into());
    }
    Ok(DiskCounters {
        major: u32::try_from(d.major).map_err(|_| "negative major number".to_string())?,
        minor: u32::try_from(d.minor).map_err(|_| "negative minor number".to_string())?,
        name: d.name,
        reads: d.reads,
        reads_merged: d.merged,
        sectors_read: d.sectors_read,
        read_ms: d.time_reading,
        writes: d.writes,
        writes_merged: d.writes_merged,
        sectors_written: d.sectors_written,
        write_ms: d.time_writing,
        in_flight: d.in_progress,
        io_ticks_ms: d.time_in_progress,
        weighted_ms: d.weighted_time_in_progress,
        discards: d.discards,
        discards_merged: d.discards_merged,
        sectors_discarded: d.sectors_discarded,
        discard_ms: d.time_discarding,
        flushes: d.flushes,
        flush_ms: d.time_flushing,
    })
}

/// Reads and parses `<proc_root>/diskstats`.
pub fn read(proc_root: &Path) -> Result<(Vec<DiskCounters>, Vec<BadLine>), DiskstatsError> {
    let path = proc_root.join("diskstats");
    let text =
        std::fs::read_to_string(&path).map_err(|source| DiskstatsError::Read { path, source })?;
    Ok(parse(&text))
}
