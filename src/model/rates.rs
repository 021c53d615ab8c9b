//! iostat's arithmetic (sysstat `compute_ext_disk_stats`) over two counter readings.
//!
//! Every figure here matches what `iostat -x` prints for the same interval. Where iostat
//! prints 0.00 for a latency with no completed request, we say `None`: no request means no
//! latency was observed, which is not the same as a zero latency.

use serde::Serialize;

use super::sample::DiskCounters;

const SECTOR_BYTES: f64 = 512.0;

/// Per-second figures for one device over one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub device: String,
    /// Length of the interval the figures cover, in seconds.
    pub interval_s: f64,
    pub r_s: f64,
    pub w_s: f64,
    /// Discards per second; `None` on kernels that do not report discards.
    pub d_s: Option<f64>,
    /// Flushes per second; `None` on kernels that do not report flushes.
    pub f_s: Option<f64>,
    pub rrqm_s: f64,
    pub wrqm_s: f64,
    pub rkb_s: f64,
    pub wkb_s: f64,
    pub dkb_s: Option<f64>,
    /// Mean time (ms) a read took, queueing included. `None` when no read completed.
    pub r_await: Option<f64>,
    pub w_await: Option<f64>,
    pub d_await: Option<f64>,
    pub f_await: Option<f64>,
    /// Mean time (ms) of reads, writes and discards together, as iostat's `await`.
    pub await_ms: Option<f64>,
    /// Mean request size in kB (iostat's rareq-sz / wareq-sz).
    pub rareq_sz: Option<f64>,
    pub wareq_sz: Option<f64>,
    /// Mean size in kB of all reads and writes: what EBS counts operations with.
    pub areq_sz: Option<f64>,
    /// Average number of requests outstanding (aqu-sz).
    pub aqu_sz: f64,
    /// Percentage of the interval with at least one request in flight (%util).
    pub util_pct: f64,
    /// Requests in flight at the end of the interval.
    pub in_flight: u64,
}

impl Rates {
    /// Reads plus writes per second: the operations a volume's IOPS provision is about.
    pub fn iops(&self) -> f64 {
        self.r_s + self.w_s
    }

    /// Bytes per second read and written.
    pub fn bytes_s(&self) -> f64 {
        (self.rkb_s + self.wkb_s) * 1024.0
    }
}

fn delta(prev: u64, cur: u64) -> Option<u64> {
    cur.checked_sub(prev)
}

fn delta_opt(prev: Option<u64>, cur: Option<u64>) -> Result<Option<u64>, ()> {
    match (prev, cur) {
        (Some(p), Some(c)) => c.checked_sub(p).map(Some).ok_or(()),
        _ => Ok(None),
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Derives the rates of one device from two readings `dt_ms` milliseconds apart.
///
/// Returns `None` when no honest figure exists for the interval: a non-positive interval,
/// a different device behind the name (major:minor changed), or any cumulative counter
/// that went backwards (device reset or replaced, 32-bit wrap on old kernels).
pub fn derive(prev: &DiskCounters, cur: &DiskCounters, dt_ms: f64) -> Option<Rates> {
    if dt_ms.is_nan() || dt_ms <= 0.0 || prev.major != cur.major || prev.minor != cur.minor {
        return None;
    }
    let reads = delta(prev.reads, cur.reads)?;
    let writes = delta(prev.writes, cur.writes)?;
    let rmerged = delta(prev.reads_merged, cur.reads_merged)?;
    let wmerged = delta(prev.writes_merged, cur.writes_merged)?;
    let rsect = delta(prev.sectors_read, cur.sectors_read)?;
    let wsect = delta(prev.sectors_written, cur.sectors_written)?;
    let rms = delta(prev.read_ms, cur.read_ms)?;
    let wms = delta(prev.write_ms, cur.write_ms)?;
    let ticks = delta(prev.io_ticks_ms, cur.io_ticks_ms)?;
    let weighted = delta(prev.weighted_ms, cur.weighted_ms)?;
    let discards = delta_opt(prev.discards, cur.discards).ok()?;
    // Not reported, but a backwards step still marks a reset.
    delta_opt(prev.discards_merged, cur.discards_merged).ok()?;
    let dsect = delta_opt(prev.sectors_discarded, cur.sectors_discarded).ok()?;
    let dms = delta_opt(prev.discard_ms, cur.discard_ms).ok()?;
    let flushes = delta_opt(prev.flushes, cur.flushes).ok()?;
    let fms = delta_opt(prev.flush_ms, cur.flush_ms).ok()?;

    let dt_s = dt_ms / 1000.0;
    let per_s = |n: u64| n as f64 / dt_s;
    let kb_s = |sectors: u64| sectors as f64 * SECTOR_BYTES / 1024.0 / dt_s;

    let nr_ios = reads + writes + discards.unwrap_or(0);
    let all_ms = rms + wms + dms.unwrap_or(0);
    Some(Rates {
        device: cur.name.clone(),
        interval_s: dt_s,
        r_s: per_s(reads),
        w_s: per_s(writes),
        d_s: discards.map(per_s),
        f_s: flushes.map(per_s),
        rrqm_s: per_s(rmerged),
        wrqm_s: per_s(wmerged),
        rkb_s: kb_s(rsect),
        wkb_s: kb_s(wsect),
        dkb_s: dsect.map(kb_s),
        r_await: ratio(rms, reads),
        w_await: ratio(wms, writes),
        d_await: discards.zip(dms).and_then(|(n, ms)| ratio(ms, n)),
        f_await: flushes.zip(fms).and_then(|(n, ms)| ratio(ms, n)),
        await_ms: ratio(all_ms, nr_ios),
        rareq_sz: ratio(rsect, reads).map(|s| s / 2.0),
        wareq_sz: ratio(wsect, writes).map(|s| s / 2.0),
        areq_sz: ratio(rsect + wsect, reads + writes).map(|s| s / 2.0),
        aqu_sz: weighted as f64 / dt_ms,
        // The kernel can account a few ms more busy time than wall time across an interval
        // boundary; iostat caps the display at 100% and so do we.
        util_pct: (ticks as f64 / dt_ms * 100.0).min(100.0),
        in_flight: cur.in_flight,
    })
}
