//! Pressure stall information (`<proc-root>/pressure/{io,cpu}`): tells "the disk is fine,
//! the host is CPU-starved" apart from a slow disk.

use std::path::Path;

use serde::Serialize;

/// The `some`/`full` averages and totals of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Pressure {
    pub some_avg10: f64,
    pub some_avg60: f64,
    pub some_total_us: u64,
    /// `None` for cpu on kernels before 5.13, which only report `some`.
    pub full_avg10: Option<f64>,
    pub full_total_us: Option<u64>,
}

pub fn parse(text: &str) -> Option<Pressure> {
    let mut p = Pressure::default();
    let mut seen_some = false;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let kind = it.next()?;
        let mut avg10 = None;
        let mut avg60 = None;
        let mut total = None;
        for kv in it {
            let (k, v) = kv.split_once('=')?;
            match k {
                "avg10" => avg10 = v.parse::<f64>().ok(),
                "avg60" => avg60 = v.parse::<f64>().ok(),
                "total" => total = v.parse::<u64>().ok(),
                _ => {}
            }
        }
        match kind {
            "some" => {
                p.some_avg10 = avg10?;
                p.some_avg60 = avg60?;
                p.some_total_us = total?;
                seen_some = true;
            }
            "full" => {
                p.full_avg10 = avg10;
                p.full_total_us = total;
            }
            _ => return None,
        }
    }
    seen_some.then_some(p)
}

/// Reads one resource (`io`, `cpu`, `memory`); `None` where the kernel has no PSI.
pub fn read(proc_root: &Path, resource: &str) -> Option<Pressure> {
    let text = std::fs::read_to_string(proc_root.join("pressure").join(resource)).ok()?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_lines() {
        let p = parse("some avg10=1.50 avg60=0.20 avg300=0.00 total=870853\nfull avg10=0.02 avg60=0.02 avg300=0.00 total=786747\n").unwrap();
        assert_eq!(p.some_avg10, 1.5);
        assert_eq!(p.some_total_us, 870853);
        assert_eq!(p.full_total_us, Some(786747));
        assert!(parse("garbage").is_none());
        assert!(parse("").is_none());
    }
}
