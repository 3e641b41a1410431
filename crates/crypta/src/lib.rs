//! crypta, the engine: keyspaces and tables with per-table encryption over an LSM tree.

pub mod config;
pub mod cql;
pub mod keys;
pub mod manifest;
pub mod memtable;
pub mod mutation;
pub mod schema;
