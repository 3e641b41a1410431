//! Opening an engine: lock, keys, manifest, system tables, SSTables, commit log replay.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex, RwLock};

use crypta_commitlog::{CommitLog, CommitLogConfig, OsStorage, Position, ReplayOptions};
use crypta_compression::CompressionOptions;
use crypta_sstable::ChunkCache;

use super::table::LiveSstable;
use super::{Engine, Inner, now_micros, system};
use crate::config::{Config, SyncMode};
use crate::keys::{AnyProvider, KeyRegistry};
use crate::manifest::{self, ManifestState};
use crate::memtable::Memtable;
use crate::{Error, Result, mutation};

fn make_dir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| Error::Io {
            operation: "creating directory",
            path: path.to_path_buf(),
            source,
        })
}

/// Takes the data directory's exclusive lock (`LOCK`, held while the file stays open): one
/// engine, or one reader of its files, at a time.
pub(super) fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    let lock_path = data_dir.join("LOCK");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|source| Error::Io {
            operation: "opening the lock file",
            path: lock_path.clone(),
            source,
        })?;
    if lock.try_lock().is_err() {
        return Err(Error::Locked {
            dir: data_dir.to_path_buf(),
            lock: lock_path,
        });
    }
    Ok(lock)
}

pub(super) fn open(config: Config) -> Result<Engine> {
    for d in [
        &config.data_directory,
        &config.commitlog_directory,
        &config.hints_directory,
        &config.system_key_directory,
    ] {
        make_dir(d)?;
    }
    let data_dir = config.data_directory.clone();
    let lock = lock_data_dir(&data_dir)?;

    let keys = Arc::new(KeyRegistry::new(&config.local_key_file())?);
    let mut live_kmip = std::collections::BTreeMap::new();
    for (group, gc) in &config.kmip_hosts {
        let p = super::kmip::provider(group, gc)?;
        keys.set_kmip_group(group, p.clone());
        live_kmip.insert(group.clone(), (gc.clone(), p));
    }
    let any: Arc<dyn crypta_keys::KeyProvider> = Arc::new(AnyProvider(keys.clone()));

    let mut state = manifest::load(&data_dir)?.unwrap_or_default();
    let system_options = system_compression(&config);
    if system::ensure_system_tables(&mut state, &system_options) {
        manifest::store(&data_dir, &state)?;
    }
    remove_orphans(&data_dir, &state);
    // Before anything needs a key: every KMIP group in use must answer with a usable key.
    super::kmip::check_groups_in_use(&config, &keys, &state, &system_options)?;

    // The commit log and hints use system_info_encryption's settings when it is enabled.
    let log_keys = match &system_options.encryption {
        Some(e) => Some(keys.provider_for(&e.key_provider)?),
        None => None,
    };
    let commitlog = CommitLog::open(
        &config.commitlog_directory,
        CommitLogConfig {
            segment_size: u64::from(config.commitlog_segment_size_mb) * 1024 * 1024,
            sync: match config.commitlog_sync {
                SyncMode::Periodic => {
                    crypta_commitlog::SyncMode::Periodic(config.commitlog_sync_period)
                }
                SyncMode::Batch => crypta_commitlog::SyncMode::Batch,
                SyncMode::Group => {
                    crypta_commitlog::SyncMode::Group(config.commitlog_sync_group_window)
                }
            },
            compression: system_options.clone(),
            storage: Arc::new(OsStorage),
        },
        Some(log_keys.clone().unwrap_or_else(|| any.clone())),
    )?;
    let hints = crypta_hints::HintsStore::open(
        &config.hints_directory,
        crypta_hints::HintsConfig {
            compression: system_options.clone(),
            max_hint_window: config.max_hint_window,
            ..crypta_hints::HintsConfig::default()
        },
        Some(log_keys.clone().unwrap_or_else(|| any.clone())),
    )?;

    let inner = Arc::new(Inner {
        data_dir: data_dir.clone(),
        _lock: lock,
        keys,
        commitlog,
        hints,
        state: Mutex::new(state.clone()),
        tables: RwLock::new(HashMap::new()),
        cache: Arc::new(ChunkCache::new(
            usize::try_from(config.file_cache_size_mb).unwrap_or(64) * 1024 * 1024,
        )),
        clock: AtomicI64::new(now_micros()),
        gate: RwLock::new(()),
        poisoned: Mutex::new(None),
        closed: AtomicBool::new(false),
        worker: Mutex::new(None),
        worker_thread: Mutex::new(None),
        paxos_lock: Mutex::new(()),
        live_kmip: Mutex::new(live_kmip),
        config,
    });

    // Tables and their live SSTables.
    {
        let mut tables = inner
            .tables
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for def in state.tables.values() {
            let mut table = inner.new_table(def, inner.codec_for(def)?);
            let mut live = Vec::new();
            let mut failed: Option<super::table::Unavailable> = None;
            for name in &def.sstables {
                let path = data_dir.join(name);
                let opened = crypta_sstable::recorded_options(&path)
                    .map_err(Error::from)
                    .and_then(|options| inner.provider_for_options(&options))
                    .and_then(|keys| {
                        crypta_sstable::Sstable::open(&path, keys, Some(inner.cache.clone()))
                            .map_err(Error::from)
                    });
                match opened {
                    Ok(reader) => live.push(Arc::new(LiveSstable {
                        name: name.clone(),
                        path,
                        reader,
                    })),
                    // The system tables' files are needed to open at all (batches to finish).
                    Err(e) if def.keyspace == crate::schema::SYSTEM_KEYSPACE => return Err(e),
                    // One table's file does not take the others down (see `Table::unavailable`).
                    Err(e) => {
                        let u = failed.get_or_insert_with(|| super::table::Unavailable {
                            files: Vec::new(),
                            reason: e.to_string(),
                        });
                        u.files.push(path);
                    }
                }
            }
            if let Some(u) = failed {
                log::error!(
                    "table {}.{} is unavailable: {} of its SSTables could not be opened; the first: {}",
                    def.keyspace,
                    def.name,
                    u.files.len(),
                    u.reason
                );
                table.unavailable = Some(u);
            }
            *table
                .sstables
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
            tables.insert(def.id, Arc::new(table));
        }
    }

    replay(&inner, &state, any.as_ref())?;
    inner.start_worker()?;
    inner.start_config_watcher()?;
    let engine = Engine { inner };
    system::finish_interrupted_batches(&engine.inner)?;
    Ok(engine)
}

/// The codec of system resources: `system_info_encryption` when enabled, else plain.
fn system_compression(config: &Config) -> CompressionOptions {
    if config.system_info_encryption.enabled {
        config.system_info_encryption.options.clone()
    } else {
        CompressionOptions {
            chunk_length_kb: config.system_info_encryption.options.chunk_length_kb,
            ..CompressionOptions::default()
        }
    }
}

/// Replays the commit log into memtables: every record of a table not yet in its SSTables.
fn replay(
    inner: &Arc<Inner>,
    state: &ManifestState,
    keys: &dyn crypta_keys::KeyProvider,
) -> Result<()> {
    let tables = super::table::read(&inner.tables).clone();
    let mut max_ts = 0i64;
    let options = ReplayOptions {
        skip_corrupt_segments: inner.config.commitlog_ignore_replay_errors,
    };
    let report = crypta_commitlog::replay(
        &inner.config.commitlog_directory,
        Some(keys),
        options,
        |pos: Position, record: &[u8]| {
            let muts = mutation::decode(record).map_err(|e| {
                Box::new(Error::BadRecord {
                    position: format!("segment {} offset {}", pos.segment, pos.offset),
                    reason: e.to_string(),
                }) as Box<dyn std::error::Error + Send + Sync>
            })?;
            for m in muts {
                let Some(def) = state.tables.get(&m.table) else {
                    continue; // the table was dropped since
                };
                let flushed = Position {
                    segment: def.flushed_position[0],
                    offset: def.flushed_position[1],
                };
                if pos < flushed {
                    continue;
                }
                if let Some(t) = tables.get(&m.table) {
                    max_ts = max_ts.max(m.cell.timestamp);
                    let mem: Arc<Memtable> = super::table::read(&t.active).clone();
                    mem.apply(&m.key, m.cell, pos);
                }
            }
            Ok(())
        },
    )
    .map_err(|source| Error::Replay { source })?;
    inner
        .clock
        .fetch_max(max_ts, std::sync::atomic::Ordering::AcqRel);
    if report.records > 0 {
        log::info!(
            "replayed {} commit log records from {} segments",
            report.records,
            report.segments
        );
    }
    Ok(())
}

/// Removes SSTables no manifest refers to (left by a crash between writing a file and
/// recording it, or between recording a rewrite and deleting what it replaced) and
/// temporary files.
fn remove_orphans(dir: &Path, state: &ManifestState) {
    let live: std::collections::HashSet<&str> = state
        .tables
        .values()
        .flat_map(|t| t.sstables.iter().map(String::as_str))
        .collect();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let orphan = (name.ends_with(".db") && !live.contains(name.as_str()))
            || name.contains(".tmp")
            || name == "MANIFEST.tmp";
        if orphan {
            log::info!("removing {} (not in the manifest)", e.path().display());
            if let Err(err) = fs::remove_file(e.path()) {
                log::warn!("could not remove {}: {err}", e.path().display());
            }
        }
    }
}
