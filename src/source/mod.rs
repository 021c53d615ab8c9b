//! Everything that reads the outside world. Each reader takes a root directory so tests
//! point it at a fixture tree instead of the live `/proc` and `/sys`.
pub mod devices;
pub mod diskstats;
pub mod mounts;
pub mod pressure;
