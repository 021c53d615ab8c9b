//! One reading of a device's cumulative counters, as the kernel prints them in
//! `/proc/diskstats`. Kept raw: rates are derived later from two readings, so that a
//! reset or a wrap between them can be detected instead of producing nonsense.

use serde::{Deserialize, Serialize};

/// Cumulative counters of one block device. Discard fields exist from kernel 4.18
/// (18-field format), flush fields from 5.5 (20 fields); older kernels leave them `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskCounters {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    pub reads: u64,
    pub reads_merged: u64,
    pub sectors_read: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub sectors_written: u64,
    pub write_ms: u64,
    /// Requests issued to the driver and not yet completed (instantaneous, not cumulative).
    pub in_flight: u64,
    /// Milliseconds during which at least one request was in flight (io_ticks).
    pub io_ticks_ms: u64,
    /// Sum over requests of the milliseconds each spent in flight (time_in_queue).
    pub weighted_ms: u64,
    pub discards: Option<u64>,
    pub discards_merged: Option<u64>,
    pub sectors_discarded: Option<u64>,
    pub discard_ms: Option<u64>,
    pub flushes: Option<u64>,
    pub flush_ms: Option<u64>,
}

/// Counters of every watched device read at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Monotonic time of the read, in milliseconds since an arbitrary origin. Only
    /// differences between snapshots mean anything.
    pub taken_ms: f64,
    pub devices: Vec<DiskCounters>,
}

impl Snapshot {
    pub fn device(&self, name: &str) -> Option<&DiskCounters> {
        self.devices.iter().find(|d| d.name == name)
    }
}
