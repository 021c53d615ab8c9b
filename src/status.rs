//! `iosentinel status`: an iostat-like table, or one JSON object per interval.

use std::fmt::Write as _;

use serde::Serialize;

use crate::eval::State;
use crate::model::Rates;

/// One device's line in a status report.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceStatus {
    /// Mount points on this disk (through partitions, LVM, md).
    pub mounts: Vec<String>,
    pub volume_id: Option<String>,
    pub provisioned_iops: Option<f64>,
    /// Delivered / deliverable under the observed demand; null when idle or unprovisioned.
    pub delivered_ratio: Option<f64>,
    pub state: State,
    pub reason: String,
    #[serde(flatten)]
    pub rates: Rates,
}

/// One interval's report, as printed by `status --json` (field names are documented in the
/// README and stable).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Seconds since the Unix epoch at the end of the interval.
    pub unix_time: f64,
    pub interval_s: f64,
    pub devices: Vec<DeviceStatus>,
    /// Things that went wrong while sampling this interval (bad lines, resets).
    pub notes: Vec<String>,
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
}

/// Formats a report as a table, iostat's column names and precision.
pub fn table(report: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>7} {:>7} {:>6} {:>5}  mounts",
        "Device",
        "r/s",
        "w/s",
        "rkB/s",
        "wkB/s",
        "r_await",
        "w_await",
        "aqu-sz",
        "%util",
        "inflt",
        "areq"
    );
    for d in &report.devices {
        let r = &d.rates;
        let _ =
            writeln!(
            out,
            "{:<12} {:>9.2} {:>9.2} {:>10.2} {:>10.2} {:>8} {:>8} {:>7.2} {:>7.2} {:>6} {:>5} {:>7} {:>6} {:<14} {}",
            d.rates.device,
            r.r_s,
            r.w_s,
            r.rkb_s,
            r.wkb_s,
            opt(r.r_await),
            opt(r.w_await),
            r.aqu_sz,
            r.util_pct,
            r.in_flight,
            r.areq_sz.map(|x| format!("{x:.0}k")).unwrap_or_else(|| "-".into()),
            d.provisioned_iops.map(|p| format!("{p:.0}")).unwrap_or_else(|| "-".into()),
            opt(d.delivered_ratio),
            d.state.as_str(),
            d.mounts.join(","),
        );
    }
    for d in report
        .devices
        .iter()
        .filter(|d| d.state != State::Ok && d.state != State::Idle)
    {
        let _ = writeln!(
            out,
            "{}: {}: {}",
            d.rates.device,
            d.state.as_str(),
            d.reason
        );
    }
    for n in &report.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
