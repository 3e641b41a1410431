//! crypta, the engine: keyspaces and tables with per-table encryption over an LSM tree.
//!
//! [`Engine::open`] a [`Config`] (from `crypta.yaml`), run schema statements with
//! [`Engine::execute_cql`], and read and write with [`Engine::put`], [`Engine::get`],
//! [`Engine::delete`], [`Engine::scan`] and [`Engine::batch`]. Writes go to the commit log
//! (encrypted when `system_info_encryption` is on), then to a memtable that is flushed to an
//! SSTable encrypted with the table's options; [`Engine::upgradesstables`] rewrites SSTables
//! under new settings or keys.
#![forbid(unsafe_code)]

pub mod config;
pub mod cql;
mod engine;
mod error;
pub mod keys;
pub mod manifest;
pub mod memtable;
pub mod mutation;
pub mod schema;

pub use config::{Config, ConfigError, SyncMode};
pub use crypta_sstable::CacheStats;
pub use engine::{
    Ballot, BatchOp, CompactionReport, Engine, KeyUsage, MAX_KEY_LEN, MAX_VALUE_LEN, Paxos,
    PaxosState, Rows, UpgradeOptions, UpgradeProgress, UpgradeReport, split_table,
};
pub use error::{Error, Result};
