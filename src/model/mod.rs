//! Plain data that flows from the sources to the evaluation: raw counter samples and the
//! iostat-style rates derived from two of them.
pub mod rates;
pub mod sample;

pub use rates::{derive, Rates};
pub use sample::{DiskCounters, Snapshot};
