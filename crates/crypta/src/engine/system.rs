//! The system keyspace: `system.batchlog` (logged batches) and `system.paxos` (acceptor
//! state for conditional writes). Both are ordinary tables whose compression follows
//! `system_info_encryption`, so they are encrypted exactly when the commit log is.

use std::ops::Bound;
use std::sync::{Arc, PoisonError};

use crypta_compression::CompressionOptions;
use crypta_keys::wire::{Reader, WriteLe};
use crypta_sstable::Entry;

use super::{BatchOp, Inner};
use crate::manifest::{ManifestState, TableDef};
use crate::mutation::{self, Mutation};
use crate::schema::SYSTEM_KEYSPACE;
use crate::{Error, Result};

const BATCHLOG: &str = "batchlog";
const PAXOS: &str = "paxos";

/// Creates `system.batchlog` and `system.paxos` if missing and gives them `options` (the
/// system resources' codec). Returns whether the manifest changed.
pub(crate) fn ensure_system_tables(
    state: &mut ManifestState,
    options: &CompressionOptions,
) -> bool {
    let mut changed = false;
    if !state.keyspaces.contains_key(SYSTEM_KEYSPACE) {
        let mut replication = std::collections::BTreeMap::new();
        replication.insert("class".to_string(), "LocalStrategy".to_string());
        state.keyspaces.insert(
            SYSTEM_KEYSPACE.into(),
            crate::manifest::KeyspaceDef {
                name: SYSTEM_KEYSPACE.into(),
                replication,
                durable_writes: true,
            },
        );
        changed = true;
    }
    let map = options.to_map();
    for (name, key, value) in [(BATCHLOG, "id", "data"), (PAXOS, "row_key", "state")] {
        match state
            .tables
            .values_mut()
            .find(|t| t.keyspace == SYSTEM_KEYSPACE && t.name == name)
        {
            Some(t) if t.compression == map => {}
            Some(t) => {
                // system_info_encryption changed: new SSTables follow it; upgradesstables
                // rewrites the old ones.
                t.compression = map.clone();
                changed = true;
            }
            None => {
                state.next_table_id += 1;
                let id = state.next_table_id;
                state.tables.insert(
                    id,
                    TableDef {
                        id,
                        keyspace: SYSTEM_KEYSPACE.into(),
                        name: name.into(),
                        key_column: (key.into(), "blob".into()),
                        value_column: (value.into(), "blob".into()),
                        compression: map.clone(),
                        sstables: Vec::new(),
                        flushed_position: [0, 0],
                    },
                );
                changed = true;
            }
        }
    }
    changed
}

fn batchlog_table() -> String {
    format!("{SYSTEM_KEYSPACE}.{BATCHLOG}")
}

/// Writes a logged batch: batchlog entry, the mutations, removal of the entry.
pub(crate) fn logged_batch(inner: &Inner, ops: &[BatchOp]) -> Result<()> {
    let muts = inner.mutations(ops)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| Error::Poisoned(format!("OS random number generator failed: {e}")))?;
    let log = inner.table(&batchlog_table())?;
    let ts = inner.next_timestamp();
    inner.write(&[Mutation {
        table: log.id,
        key: id.to_vec(),
        cell: Entry {
            value: Some(mutation::encode(&muts)),
            timestamp: ts,
        },
    }])?;
    inner.write(&muts)?;
    inner.write(&[Mutation {
        table: log.id,
        key: id.to_vec(),
        cell: Entry {
            value: None,
            timestamp: inner.next_timestamp(),
        },
    }])
}

/// Re-applies batches whose batchlog entry is still live (the process died between writing
/// the entry and removing it), then removes their entries.
pub(crate) fn finish_interrupted_batches(inner: &Arc<Inner>) -> Result<()> {
    let log = inner.table(&batchlog_table())?;
    let pending: Vec<(Vec<u8>, Vec<u8>)> = inner
        .merged_range(&log, Bound::Unbounded, Bound::Unbounded)
        .filter_map(|r| match r {
            Ok((k, e)) => e.value.map(|v| Ok((k, v))),
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_>>()?;
    for (id, blob) in pending {
        let muts = mutation::decode(&blob).map_err(|e| Error::BadRecord {
            position: format!("system.batchlog entry {}", hex(&id)),
            reason: e.to_string(),
        })?;
        // Tables dropped since are skipped; the rest is re-applied with the batch's own
        // timestamps, so newer writes still win.
        let live: Vec<Mutation> = {
            let tables = super::table::read(&inner.tables);
            muts.into_iter()
                .filter(|m| tables.contains_key(&m.table))
                .collect()
        };
        log::info!(
            "finishing interrupted logged batch {} ({} writes)",
            hex(&id),
            live.len()
        );
        inner.write(&live)?;
        inner.write(&[Mutation {
            table: log.id,
            key: id,
            cell: Entry {
                value: None,
                timestamp: inner.next_timestamp(),
            },
        }])?;
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A paxos ballot: a timestamp in microseconds and a tie-breaker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    /// Microseconds since the epoch.
    pub micros: i64,
    /// Tie-breaker (a proposer id).
    pub node: u64,
}

/// An acceptor's state for one row, as `system.paxos` keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaxosState {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// The most recent accepted proposal: ballot and value (`None` value: a delete).
    pub accepted: Option<(Ballot, Option<Vec<u8>>)>,
    /// The most recent committed ballot.
    pub committed: Ballot,
}

impl PaxosState {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for b in [self.promised, self.committed] {
            out.put_u64(b.micros.cast_unsigned());
            out.put_u64(b.node);
        }
        match &self.accepted {
            None => out.put_u8(0),
            Some((b, v)) => {
                out.put_u8(if v.is_some() { 1 } else { 2 });
                out.put_u64(b.micros.cast_unsigned());
                out.put_u64(b.node);
                if let Some(v) = v {
                    out.put_u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
                    out.extend_from_slice(v);
                }
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let ballot = |r: &mut Reader<'_>| -> Option<Ballot> {
            Some(Ballot {
                micros: r.u64("ballot").ok()?.cast_signed(),
                node: r.u64("ballot").ok()?,
            })
        };
        let promised = ballot(&mut r)?;
        let committed = ballot(&mut r)?;
        let accepted = match r.u8("accepted").ok()? {
            0 => None,
            1 => {
                let b = ballot(&mut r)?;
                Some((
                    b,
                    Some(r.bytes_u32(mutation::MAX_FIELD, "value").ok()?.to_vec()),
                ))
            }
            2 => Some((ballot(&mut r)?, None)),
            _ => return None,
        };
        r.finish("paxos state").ok()?;
        Some(PaxosState {
            promised,
            accepted,
            committed,
        })
    }
}

/// This node's paxos acceptor over `system.paxos`. Public so that applications that
/// replicate can drive promise/accept/commit from other nodes' proposers.
#[derive(Clone, Debug)]
pub struct Paxos {
    inner: Arc<Inner>,
}

impl Paxos {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Paxos { inner }
    }

    fn row_key(&self, table: &str, key: &[u8]) -> Result<Vec<u8>> {
        let t = self.inner.table(table)?;
        let mut k = t.id.to_be_bytes().to_vec();
        k.extend_from_slice(key);
        Ok(k)
    }

    /// The acceptor state of `key` in `table`.
    pub fn state(&self, table: &str, key: &[u8]) -> Result<PaxosState> {
        let row = self.row_key(table, key)?;
        let t = self.inner.table(&format!("{SYSTEM_KEYSPACE}.{PAXOS}"))?;
        match self.inner.get_entry(&t, &row)?.and_then(|e| e.value) {
            None => Ok(PaxosState::default()),
            Some(v) => PaxosState::decode(&v).ok_or_else(|| Error::BadRecord {
                position: format!("system.paxos row for {table}"),
                reason: "undecodable acceptor state".into(),
            }),
        }
    }

    fn store(&self, table: &str, key: &[u8], s: &PaxosState) -> Result<()> {
        let row = self.row_key(table, key)?;
        let t = self.inner.table(&format!("{SYSTEM_KEYSPACE}.{PAXOS}"))?;
        self.inner.write(&[Mutation {
            table: t.id,
            key: row,
            cell: Entry {
                value: Some(s.encode()),
                timestamp: self.inner.next_timestamp(),
            },
        }])
    }

    /// Phase 1: promises not to accept ballots below `ballot` if it is the highest seen.
    /// Returns whether it promised, and the state (with any accepted proposal to finish).
    pub fn prepare(&self, table: &str, key: &[u8], ballot: Ballot) -> Result<(bool, PaxosState)> {
        let _g = self
            .inner
            .paxos_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut s = self.state(table, key)?;
        if ballot <= s.promised {
            return Ok((false, s));
        }
        s.promised = ballot;
        self.store(table, key, &s)?;
        Ok((true, s))
    }

    /// Phase 2: accepts `value` at `ballot` unless a higher ballot was promised.
    pub fn propose(
        &self,
        table: &str,
        key: &[u8],
        ballot: Ballot,
        value: Option<&[u8]>,
    ) -> Result<bool> {
        let _g = self
            .inner
            .paxos_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut s = self.state(table, key)?;
        if ballot < s.promised {
            return Ok(false);
        }
        s.promised = ballot;
        s.accepted = Some((ballot, value.map(<[u8]>::to_vec)));
        self.store(table, key, &s)?;
        Ok(true)
    }

    /// Phase 3: applies the accepted value to the table (with the ballot's timestamp) and
    /// records the commit.
    pub fn commit(
        &self,
        table: &str,
        key: &[u8],
        ballot: Ballot,
        value: Option<&[u8]>,
    ) -> Result<()> {
        let _g = self
            .inner
            .paxos_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let t = self.inner.table(table)?;
        self.inner.write(&[Mutation {
            table: t.id,
            key: key.to_vec(),
            cell: Entry {
                value: value.map(<[u8]>::to_vec),
                timestamp: ballot.micros,
            },
        }])?;
        let mut s = self.state(table, key)?;
        if ballot > s.committed {
            s.committed = ballot;
        }
        if s.accepted.as_ref().is_some_and(|(b, _)| *b <= ballot) {
            s.accepted = None;
        }
        self.store(table, key, &s)
    }
}

/// Single-node compare-and-set through the acceptor.
pub(crate) fn compare_and_set(
    inner: &Arc<Inner>,
    table: &str,
    key: &[u8],
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<bool> {
    let paxos = Paxos::new(inner.clone());
    let t = inner.table(table)?;
    for _ in 0..16 {
        let ballot = Ballot {
            micros: inner.next_timestamp(),
            node: 0,
        };
        let (promised, state) = paxos.prepare(table, key, ballot)?;
        if !promised {
            continue;
        }
        // Finish a proposal a previous round accepted but did not commit.
        if let Some((b, v)) = state.accepted
            && b > state.committed
        {
            paxos.commit(table, key, b, v.as_deref())?;
            continue;
        }
        let current = inner.get_entry(&t, key)?.and_then(|e| e.value);
        if current.as_deref() != expected {
            return Ok(false);
        }
        if !paxos.propose(table, key, ballot, new)? {
            continue;
        }
        paxos.commit(table, key, ballot, new)?;
        return Ok(true);
    }
    Err(Error::Poisoned(format!(
        "compare-and-set on {table} did not get a promise after 16 ballots (contention)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paxos_state_round_trips() {
        let s = PaxosState {
            promised: Ballot { micros: 5, node: 1 },
            accepted: Some((Ballot { micros: 4, node: 1 }, Some(b"v".to_vec()))),
            committed: Ballot { micros: 3, node: 0 },
        };
        assert_eq!(PaxosState::decode(&s.encode()).unwrap(), s);
        let d = PaxosState {
            accepted: Some((Ballot::default(), None)),
            ..PaxosState::default()
        };
        assert_eq!(PaxosState::decode(&d.encode()).unwrap(), d);
        assert!(PaxosState::decode(&[1, 2, 3]).is_none());
    }
}
