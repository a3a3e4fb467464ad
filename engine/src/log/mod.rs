//! One partition's log: checkpoint files and the leader epoch history.

pub mod checkpoint;
pub mod leader_epoch;
