//! One interval's judgement of one volume, from Little's law: a healthy volume at queue
//! depth q with nominal latency L completes q/L requests per second, up to its provision.

use serde::Serialize;

use crate::config::{VolumeConfig, VolumeType};
use crate::model::Rates;

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// What a device is and what was paid for, whatever the source (config, AWS).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct VolumeSpec {
    pub device: String,
    pub volume_id: Option<String>,
    pub volume_type: VolumeType,
    pub provisioned_iops: Option<f64>,
    pub provisioned_mibps: Option<f64>,
    /// Latency given in the configuration; wins over the default and the learned value.
    pub nominal_latency_ms: Option<f64>,
    pub label: Option<String>,
}

impl VolumeSpec {
    pub fn from_config(device: &str, cfg: Option<&VolumeConfig>) -> VolumeSpec {
        match cfg {
            None => VolumeSpec {
                device: device.to_string(),
                ..VolumeSpec::default()
            },
            Some(v) => VolumeSpec {
                device: device.to_string(),
                volume_id: v.volume_id.clone(),
                volume_type: v.volume_type,
                provisioned_iops: v.provisioned_iops.map(|p| p.0 as f64),
                provisioned_mibps: v.provisioned_throughput_mibps.map(|p| p.0 as f64),
                nominal_latency_ms: v.nominal_latency_ms.map(|p| p.0),
                label: v.label.clone(),
            },
        }
    }

    /// A volume is judged only against something it was promised: a provision, or a
    /// latency the operator stated. A local disk of unknown capacity that saturates looks
    /// exactly like a degraded one, so it is watched for stalls only.
    pub fn judgeable(&self) -> bool {
        self.provisioned_iops.is_some()
            || self.provisioned_mibps.is_some()
            || self.nominal_latency_ms.is_some()
    }

    /// Bytes EBS counts as one operation: 256 KiB on SSD, 1 MiB on HDD volumes.
    pub fn op_bytes(&self) -> f64 {
        match self.volume_type {
            VolumeType::St1 | VolumeType::Sc1 => MIB,
            _ => 256.0 * KIB,
        }
    }
}

/// Default healthy latency per request by volume type (ms). Deliberately generous: a
/// gp3 volume at its usual 1-2 ms must never look degraded; the seed incident's volume
/// delivered a quarter of its provision, i.e. roughly four times its latency.
pub fn default_latency_ms(t: VolumeType) -> f64 {
    match t {
        VolumeType::Io2 => 1.0,
        VolumeType::Io1 => 2.0,
        VolumeType::Gp3 | VolumeType::Gp2 => 3.0,
        VolumeType::St1 | VolumeType::Sc1 => 25.0,
        VolumeType::Local | VolumeType::Unknown => 2.0,
    }
}

/// One interval's figures, measured against the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// Completed reads + writes per second.
    pub iops: f64,
    /// The same in EBS operations (large requests count several).
    pub ebs_ops_s: f64,
    pub bytes_s: f64,
    pub queue_depth: f64,
    pub await_ms: Option<f64>,
    pub in_flight: u64,
    /// max(EBS ops / provisioned IOPS, bytes / provisioned throughput); `None` without a provision.
    pub utilisation: Option<f64>,
    /// Requests per second a healthy volume would complete under this demand.
    pub deliverable_iops: Option<f64>,
    /// iops / deliverable; `None` when there is too little demand to judge.
    pub delivered_ratio: Option<f64>,
    /// Which bound set the deliverable figure: "latency" (q/L) or "provision".
    pub bound: Option<&'static str>,
    /// Enough demand (queue and completions) to judge.
    pub demand: bool,
    /// Requests in flight and none completed during the interval.
    pub no_completions: bool,
}

/// Judges one interval. `latency_ms` is the nominal latency in force for this volume.
pub fn judge(
    rates: &Rates,
    spec: &VolumeSpec,
    latency_ms: f64,
    min_queue_depth: f64,
    min_iops: f64,
) -> Judgement {
    let iops = rates.iops();
    let bytes_s = rates.bytes_s();
    let req_bytes = rates.areq_sz.map(|kb| kb * KIB);
    let ops_per_req = req_bytes
        .map(|b| (b / spec.op_bytes()).ceil().max(1.0))
        .unwrap_or(1.0);
    let ebs_ops_s = iops * ops_per_req;
    let prov_bytes = spec.provisioned_mibps.map(|m| m * MIB);

    let ops_util = spec.provisioned_iops.map(|p| ebs_ops_s / p);
    let tput_util = prov_bytes.map(|p| bytes_s / p);
    let utilisation = match (ops_util, tput_util) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let demand = rates.aqu_sz >= min_queue_depth && iops >= min_iops;
    let mut deliverable: Option<(f64, &'static str)> = None;
    let mut bound = |v: f64, why: &'static str| {
        if deliverable.is_none_or(|(d, _)| v < d) {
            deliverable = Some((v, why));
        }
    };
    if let Some(p) = spec.provisioned_iops {
        bound(p / ops_per_req, "provision");
    }
    if let (Some(p), Some(b)) = (prov_bytes, req_bytes.filter(|b| *b > 0.0)) {
        bound(p / b, "provision");
    }
    if spec.judgeable() && latency_ms > 0.0 {
        bound(rates.aqu_sz / (latency_ms / 1000.0), "latency");
    }
    let ratio = match deliverable {
        Some((d, _)) if demand && spec.judgeable() && d > 0.0 => Some(iops / d),
        _ => None,
    };
    Judgement {
        iops,
        ebs_ops_s,
        bytes_s,
        queue_depth: rates.aqu_sz,
        await_ms: rates.await_ms,
        in_flight: rates.in_flight,
        utilisation,
        deliverable_iops: deliverable.map(|(d, _)| d),
        delivered_ratio: ratio,
        bound: deliverable.map(|(_, b)| b),
        demand,
        no_completions: iops == 0.0 && rates.in_flight > 0,
    }
}
