//! iosentinel: is the disk under this database delivering what was provisioned, and would
//! failing over to the standby help? The pure core (parsing, rates, evaluation) lives in
//! this library; `main.rs` only wires it to the command line.
pub mod config;
pub mod eval;
pub mod model;
pub mod monitor;
pub mod sampler;
pub mod sink;
pub mod source;
pub mod status;
