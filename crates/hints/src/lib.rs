//! crypta's hints: the mutations a replica missed while it was down, kept until it is back.
//!
//! - [`HintsStore::write_hint`] stores a hint (target [`HostId`], mutation bytes, creation
//!   time) in the host's current file: `<host uuid>-<id>-1.hints`, written exactly like a
//!   commit log segment (records with a CRC32 each, chunks compressed and encrypted with
//!   `system_info_encryption`'s settings, a trailer with the key ids once sealed), through
//!   `crypta-commitlog`'s log-file layer. [`HintsStore::flush`] makes them durable.
//! - [`HintsStore::dispatch`] hands a host's hints, oldest first, to a callback that says
//!   [`Delivery::Delivered`] or [`Delivery::Failed`]; a failure stops the dispatch and the
//!   host's delivery cursor (`<host uuid>.cursor`, replaced atomically) remembers the first
//!   undelivered hint, so the next dispatch, after a restart too, resumes there. A file is
//!   deleted only once every hint in it is delivered or expired.
//! - Hints older than `max_hint_window_in_ms` are never delivered: not stored, skipped at
//!   dispatch, and whole expired files dropped by [`HintsStore::purge_expired`].
//! - [`HintsStore::pending`]: hints, files and bytes per host.
//! - Crash safety: at open, a host's file left unsealed by a crash is recovered like the
//!   commit log's newest segment (the torn tail is cut, every whole hint before it kept).
//!
//! Format: `docs/format/hints.md`.
#![forbid(unsafe_code)]

mod config;
mod cursor;
mod error;
mod files;
mod hint;
mod host;
mod reader;
mod store;

pub use config::{
    Clock, DEFAULT_CURSOR_EVERY, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_HINT_WINDOW, HintsConfig,
};
pub use error::HintsError;
pub use hint::Hint;
pub use host::HostId;
pub use reader::{HintsFile, StoredHint, read_hints_file};
pub use store::{Delivery, DispatchReport, HintWrite, HintsStore, PendingHints};
