//! Dispatch: a host's hints in order to a callback, the cursor persisted as they go.

use std::path::Path;

use crypta_commitlog::{CommitLogError, TailPolicy, remove_log_file};

use super::host::{HostHints, SealedFile};
use super::{HintsStore, check_poison, lock, poison_on_error};
use crate::cursor::Cursor;
use crate::{Hint, HintsError, HostId, read_hints_file};

/// What the callback says of a hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The host applied it: move on.
    Delivered,
    /// It could not be delivered (host down again, timeout): stop; the next dispatch
    /// starts from this hint.
    Failed,
}

/// What a dispatch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Hints the callback took.
    pub delivered: u64,
    /// Hints dropped because they were past `max_hint_window`.
    pub expired: u64,
    /// Files deleted because every hint in them was delivered or expired.
    pub files_deleted: usize,
    /// Whether the dispatch stopped at a failed delivery (hints remain).
    pub stopped_at_failure: bool,
}

impl HintsStore {
    /// Delivers `host`'s hints to `deliver`, oldest first, skipping (and counting) those
    /// past `max_hint_window`. Stops at the first [`Delivery::Failed`], persisting the
    /// cursor at that hint so that the next dispatch, in this process or after a restart,
    /// starts there. A file is deleted once every hint in it is delivered or expired.
    ///
    /// The host's current file is sealed first (later hints go to a new file). The cursor
    /// is also persisted every `cursor_every` deliveries: a crash redelivers at most that
    /// many (delivery is at least once; hinted mutations are idempotent). A damaged file
    /// stops the dispatch with an error naming it and the offset.
    pub fn dispatch(
        &self,
        host: HostId,
        mut deliver: impl FnMut(&Hint<'_>) -> Delivery,
    ) -> Result<DispatchReport, HintsError> {
        let mut report = DispatchReport::default();
        let Some(h) = lock(&self.hosts).get(&host).cloned() else {
            return Ok(report);
        };
        let _one_dispatch = lock(&h.dispatching);
        let (files, mut cursor) = {
            let mut st = lock(&h.state);
            check_poison(host, &st)?;
            if let Some(f) = st.open.take() {
                let sealed = f.seal().map(|(id, s)| {
                    st.sealed.insert(id, s);
                });
                poison_on_error(host, &mut st, sealed)?;
            }
            let files: Vec<(u64, SealedFile)> =
                st.sealed.iter().map(|(id, f)| (*id, f.clone())).collect();
            (files, st.cursor)
        };
        let now = (self.config.clock)();
        for (id, file) in files {
            if cursor.file < id {
                cursor = Cursor {
                    file: id,
                    offset: 0,
                    done_in_file: 0,
                };
            }
            if file.latest.is_some_and(|t| self.config.expired(t, now)) {
                report.expired += file.records.saturating_sub(cursor.done_in_file);
            } else {
                let bytes =
                    std::fs::read(&file.path).map_err(CommitLogError::io(&file.path, "reading"))?;
                let read = read_hints_file(
                    &file.path,
                    &bytes,
                    self.codec.key_provider(),
                    TailPolicy::MustBeSealed,
                    Some((host, id)),
                )?;
                let mut since_persist = 0u64;
                let resume_at = cursor.offset;
                for stored in read.hints().filter(|s| s.offset >= resume_at) {
                    if self.config.expired(stored.hint.created.millis(), now) {
                        report.expired += 1;
                    } else {
                        match deliver(&stored.hint) {
                            Delivery::Delivered => report.delivered += 1,
                            Delivery::Failed => {
                                cursor.offset = stored.offset;
                                self.persist_cursor(host, &h, cursor)?;
                                report.stopped_at_failure = true;
                                return Ok(report);
                            }
                        }
                    }
                    cursor.offset = stored.next;
                    cursor.done_in_file += 1;
                    since_persist += 1;
                    if since_persist >= self.config.cursor_every {
                        self.persist_cursor(host, &h, cursor)?;
                        since_persist = 0;
                    }
                }
            }
            cursor = Cursor {
                file: id + 1,
                offset: 0,
                done_in_file: 0,
            };
            self.finish_file(host, &h, id, &file.path, cursor)?;
            report.files_deleted += 1;
        }
        Ok(report)
    }

    fn persist_cursor(
        &self,
        host: HostId,
        h: &HostHints,
        cursor: Cursor,
    ) -> Result<(), HintsError> {
        cursor.store(&self.cursor_path(host), host, self.config.storage.as_ref())?;
        lock(&h.state).cursor = cursor;
        Ok(())
    }

    /// Records that file `id` is done (cursor past it, durably), then deletes it.
    fn finish_file(
        &self,
        host: HostId,
        h: &HostHints,
        id: u64,
        path: &Path,
        cursor: Cursor,
    ) -> Result<(), HintsError> {
        self.persist_cursor(host, h, cursor)?;
        remove_log_file(path)?;
        self.sync_dir()?;
        lock(&h.state).sealed.remove(&id);
        Ok(())
    }
}
