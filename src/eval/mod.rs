//! The judgement: does each volume deliver what a healthy volume would under the demand it
//! sees? Pure functions of rates, specs and time; no I/O here.
pub mod judge;
pub mod state;

pub use judge::{judge, Judgement, VolumeSpec};
pub use state::{State, Tracker, Transition};
