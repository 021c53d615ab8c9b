//! Turns successive diskstats reads into per-device rates. Holds the previous reading, so
//! it is the one place that knows about devices appearing, vanishing or being reset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use crate::config::DeviceFilter;
use crate::model::{derive, DiskCounters, Rates, Snapshot};
use crate::source::devices::{is_watched, BlockTopology};
use crate::source::diskstats::{self, BadLine, DiskstatsError};
use crate::source::mounts;

/// What changed in the set of devices, or went wrong, during one tick. The daemon logs
/// these; they are events, not per-sample noise.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerEvent {
    Appeared(String),
    Vanished(String),
    /// A counter went backwards or the device number changed: no rate this interval.
    Reset(String),
    BadLine(BadLine),
}

/// The outcome of one tick.
#[derive(Debug, Clone)]
pub struct Tick {
    /// When the reading was taken, on the sampler's clock (see `Sampler::now_ms`).
    pub taken_ms: f64,
    /// Rates of watched devices that existed in both readings and were not reset.
    pub rates: Vec<Rates>,
    pub events: Vec<SamplerEvent>,
}

pub struct Sampler {
    proc_root: PathBuf,
    sys_root: PathBuf,
    filter: DeviceFilter,
    topo: BlockTopology,
    origin: Instant,
    prev: Option<Snapshot>,
    /// Mount points per whole disk, refreshed when the device set changes.
    mounts: BTreeMap<String, Vec<String>>,
}

impl Sampler {
    pub fn new(proc_root: PathBuf, sys_root: PathBuf, filter: DeviceFilter) -> Sampler {
        let topo = BlockTopology::read(&sys_root);
        Sampler {
            proc_root,
            sys_root,
            filter,
            topo,
            origin: Instant::now(),
            prev: None,
            mounts: BTreeMap::new(),
        }
    }

    /// Reads diskstats now and derives rates against the previous reading.
    pub fn tick(&mut self) -> Result<Tick, DiskstatsError> {
        let (devices, bad) = diskstats::read(&self.proc_root)?;
        let taken_ms = self.now_ms();
        Ok(self.ingest(devices, bad, taken_ms))
    }

    /// The pure half of `tick`: takes an already parsed reading and its time.
    pub fn ingest(&mut self, devices: Vec<DiskCounters>, bad: Vec<BadLine>, taken_ms: f64) -> Tick {
        let mut events: Vec<SamplerEvent> = bad.into_iter().map(SamplerEvent::BadLine).collect();
        let prev_names: BTreeSet<&str> = self
            .prev
            .as_ref()
            .map(|p| p.devices.iter().map(|d| d.name.as_str()).collect())
            .unwrap_or_default();
        let cur_names: BTreeSet<&str> = devices.iter().map(|d| d.name.as_str()).collect();
        let set_changed = self.prev.is_none() || prev_names != cur_names;
        if set_changed {
            self.topo = BlockTopology::read(&self.sys_root);
            // Every device, partitions included: a mount usually sits on a partition.
            let names = devices
                .iter()
                .map(|d| ((d.major, d.minor), d.name.clone()))
                .collect();
            self.mounts = mounts::by_disk(&mounts::read(&self.proc_root), &names, &self.topo);
        }
        let watched: Vec<DiskCounters> = devices
            .into_iter()
            .filter(|d| is_watched(&d.name, &self.filter, &self.topo))
            .collect();

        let mut rates = Vec::with_capacity(watched.len());
        if let Some(prev) = &self.prev {
            let dt_ms = taken_ms - prev.taken_ms;
            for cur in &watched {
                match prev.device(&cur.name) {
                    Some(p) => match derive(p, cur, dt_ms) {
                        Some(r) => rates.push(r),
                        None if dt_ms > 0.0 => events.push(SamplerEvent::Reset(cur.name.clone())),
                        None => {}
                    },
                    None => events.push(SamplerEvent::Appeared(cur.name.clone())),
                }
            }
            for p in &prev.devices {
                if !watched.iter().any(|c| c.name == p.name) {
                    events.push(SamplerEvent::Vanished(p.name.clone()));
                }
            }
        } else {
            events.extend(
                watched
                    .iter()
                    .map(|d| SamplerEvent::Appeared(d.name.clone())),
            );
        }
        self.prev = Some(Snapshot {
            taken_ms,
            devices: watched,
        });
        Tick {
            taken_ms,
            rates,
            events,
        }
    }

    /// The watched devices' counters as last read.
    pub fn current(&self) -> Option<&Snapshot> {
        self.prev.as_ref()
    }

    /// Milliseconds on the sampler's monotonic clock, the time base of every snapshot.
    pub fn now_ms(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1000.0
    }

    /// Mount points held by a whole disk (through partitions, LVM, md).
    pub fn mounts_of(&self, device: &str) -> &[String] {
        self.mounts.get(device).map(Vec::as_slice).unwrap_or(&[])
    }
}
