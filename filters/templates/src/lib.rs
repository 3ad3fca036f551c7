//! `templates`: online log template mining.
pub mod miner;
