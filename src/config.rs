//! YAML configuration → validated `Config`. Every field has a default so the daemon runs
//! with no file at all; every error names the file, the line/column and the field.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `file:line:column: field: message`, the form editors and CI logs understand.
    #[error("{file}:{line}:{column}: {field}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How often `/proc/diskstats` is read.
    #[serde(default = "default_interval")]
    pub interval: Dur,
    /// Address of the HTTP server (`/metrics`, `/v1/health`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub devices: DeviceFilter,
    #[serde(default)]
    pub volumes: Vec<VolumeConfig>,
    #[serde(default)]
    pub evaluation: EvalConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: default_interval(),
            listen: default_listen(),
            devices: DeviceFilter::default(),
            volumes: Vec::new(),
            evaluation: EvalConfig::default(),
        }
    }
}

fn default_interval() -> Dur {
    Dur(Duration::from_secs(1))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9929))
}

/// Which devices are watched. By default: whole disks, no partitions, no virtual devices
/// (loop, ram, zram, dm, md). An `include` list replaces the default choice entirely.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFilter {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub partitions: bool,
    #[serde(default, rename = "virtual")]
    pub virtual_devices: bool,
}

/// EBS volume types, plus `local` for instance store and anything not on EBS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Io1,
    Io2,
    Gp2,
    Gp3,
    St1,
    Sc1,
    Local,
    #[default]
    Unknown,
}

impl VolumeType {
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Io1 => "io1",
            VolumeType::Io2 => "io2",
            VolumeType::Gp2 => "gp2",
            VolumeType::Gp3 => "gp3",
            VolumeType::St1 => "st1",
            VolumeType::Sc1 => "sc1",
            VolumeType::Local => "local",
            VolumeType::Unknown => "unknown",
        }
    }
}

/// What one device is and what was paid for. Figures left out stay unknown (the AWS
/// source fills them on EC2); a device without any entry is still watched.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeConfig {
    /// Kernel device name as in /proc/diskstats (`nvme1n1`, `xvdf`, `loop3`).
    pub device: String,
    #[serde(default)]
    pub volume_id: Option<String>,
    #[serde(default, rename = "type")]
    pub volume_type: VolumeType,
    #[serde(default)]
    pub provisioned_iops: Option<Positive>,
    /// Provisioned throughput in MiB/s.
    #[serde(default)]
    pub provisioned_throughput_mibps: Option<Positive>,
    /// Latency (ms) of one request on this volume when healthy; overrides the type default
    /// and the learned value.
    #[serde(default)]
    pub nominal_latency_ms: Option<PositiveF64>,
    /// What lives there, for humans (`postgres data`). Mount points are found anyway.
    #[serde(default)]
    pub label: Option<String>,
}

/// Thresholds and windows of the volume judgement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Degraded when delivered/deliverable stays below this for `window`.
    pub degraded_ratio: Fraction,
    /// Leave `degraded` only once the ratio stays above degraded_ratio + margin ...
    pub recovery_margin: Fraction,
    /// ... for this long.
    pub recovery_window: Dur,
    pub window: Dur,
    /// `stalled` when requests are in flight and none completes for this long.
    pub stall_after: Dur,
    /// Below this average queue depth there is not enough demand to judge (idle).
    pub min_queue_depth: PositiveF64,
    /// ... nor below this many completed requests per second.
    pub min_iops: PositiveF64,
    /// `at_limit` when the volume delivers at least this fraction of its provision.
    pub at_limit_ratio: Fraction,
    /// Without a fresh sample for this long the state is `unknown`.
    pub stale_after: Dur,
    /// Learn each volume's healthy latency from its own history.
    pub learn_latency: bool,
    /// A change between ok, idle and at_limit must hold this long before it counts, so a
    /// bursty workload does not flap.
    pub settle: Dur,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            degraded_ratio: Fraction(0.90),
            recovery_margin: Fraction(0.05),
            recovery_window: Dur(Duration::from_secs(60)),
            window: Dur(Duration::from_secs(60)),
            stall_after: Dur(Duration::from_secs(10)),
            min_queue_depth: PositiveF64(0.5),
            min_iops: PositiveF64(5.0),
            at_limit_ratio: Fraction(0.95),
            stale_after: Dur(Duration::from_secs(5)),
            learn_latency: true,
            settle: Dur(Duration::from_secs(5)),
        }
    }
}

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses YAML text; `file` only names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        // An empty file (or one holding only comments) means "all defaults".
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e))?;
        config.validate(text, file)?;
        Ok(config)
    }

    /// Checks that span fields; located by searching the text for the offending entry.
    fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (i, v) in self.volumes.iter().enumerate() {
            if !seen.insert(v.device.as_str()) {
                return Err(located_nth(
                    text,
                    file,
                    &format!("volumes[{i}].device"),
                    &v.device,
                    1,
                    "device listed twice",
                ));
            }
            if let Some(id) = &v.volume_id {
                if !is_volume_id(id) {
                    return Err(located(
                        text,
                        file,
                        &format!("volumes[{i}].volume_id"),
                        id,
                        "expected an EBS volume id like vol-0123456789abcdef0",
                    ));
                }
            }
        }
        let e = &self.evaluation;
        if e.degraded_ratio.0 + e.recovery_margin.0 > 1.0 {
            return Err(located(
                text,
                file,
                "evaluation.recovery_margin",
                "recovery_margin",
                "degraded_ratio + recovery_margin must not exceed 1",
            ));
        }
        if self.interval.0 < Duration::from_millis(100) {
            return Err(located(
                text,
                file,
                "interval",
                "interval",
                "must be at least 100ms",
            ));
        }
        Ok(())
    }

    pub fn volume(&self, device: &str) -> Option<&VolumeConfig> {
        self.volumes.iter().find(|v| v.device == device)
    }
}

/// `vol-` followed by 8 or 17 hex digits.
pub fn is_volume_id(s: &str) -> bool {
    s.strip_prefix("vol-")
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn located(text: &str, file: &str, field: &str, needle: &str, message: &str) -> ConfigError {
    located_nth(text, file, field, needle, 0, message)
}

/// Validation runs after parsing, when serde_yaml's positions are gone: find the `nth`
/// line that mentions the offending value instead.
fn located_nth(
    text: &str,
    file: &str,
    field: &str,
    needle: &str,
    nth: usize,
    message: &str,
) -> ConfigError {
    let (line, column) = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
        .nth(nth)
        .unwrap_or((1, 1));
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        column,
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// serde_yaml says `path.to.field: message at line L column C`; we reorder that into the
/// conventional `file:L:C: path.to.field: message`.
fn yaml_error(file: &str, e: &serde_yaml::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let mut msg = e.to_string();
    if let Some(at) = msg.rfind(" at line ") {
        msg.truncate(at);
    }
    let (mut field, message) = match msg.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(' ') => {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), msg),
    };
    // For an unknown key the offending field is the key itself, not its parent.
    if let Some(key) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        field = if field.is_empty() {
            key.to_string()
        } else {
            format!("{field}.{key}")
        };
    }
    if field.is_empty() {
        field = "(document)".into();
    }
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        column,
        field,
        message,
    }
}

/// A duration written `250ms`, `1s`, `5m`, `1h`, or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (0.0..1e9)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 10s, 5m")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s)
                    .map(Dur)
                    .ok_or_else(|| E::custom("expected a duration such as 500ms, 10s, 5m"))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(n)))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Dur, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Dur, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom("expected a non-negative duration"))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Positive(pub u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Positive;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive integer")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Positive, E> {
                if n == 0 {
                    return Err(E::custom("expected a positive integer"));
                }
                Ok(Positive(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Positive, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom("expected a positive integer"))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A finite number greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct PositiveF64(pub f64);

impl<'de> Deserialize<'de> for PositiveF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number(d, "a positive number", |n| n > 0.0).map(PositiveF64)
    }
}

/// A number in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Fraction(pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number(d, "a number between 0 and 1", |n| n > 0.0 && n <= 1.0).map(Fraction)
    }
}

/// Range checks happen inside the visitor: serde_yaml attaches the field path and location
/// only to errors raised while it is deserializing that field.
fn number<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
    ok: fn(f64) -> bool,
) -> Result<f64, D::Error> {
    struct V(&'static str, fn(f64) -> bool);
    impl V {
        fn check<E: de::Error>(&self, n: f64) -> Result<f64, E> {
            if n.is_finite() && (self.1)(n) {
                Ok(n)
            } else {
                Err(E::custom(format!("expected {}", self.0)))
            }
        }
    }
    impl Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<f64, E> {
            self.check(n)
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<f64, E> {
            self.check(n as f64)
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<f64, E> {
            self.check(n as f64)
        }
    }
    d.deserialize_any(V(what, ok))
}

/// The default location of the configuration file.
pub fn default_path() -> PathBuf {
    PathBuf::from("/etc/iosentinel/iosentinel.yaml")
}
