//! The one place in crypta that uses `unsafe`: mapping a table file into memory.
//!
//! Why it is sound here: SSTables are immutable once renamed into place. Nothing in crypta
//! writes to, truncates or replaces a table file in place while it is open; the engine
//! removes obsolete tables only by unlinking them, which leaves existing mappings valid. A
//! table changed by something outside crypta while mapped could make reads see changing bytes
//! (which the checksums then report) or fault (SIGBUS if the file shrinks): the same contract
//! as RocksDB's and LMDB's mapped reads.
#![expect(
    unsafe_code,
    reason = "memmap2::Mmap::map is unsafe: the file must not change while mapped (see the module docs)"
)]

use std::fs::File;

use memmap2::Mmap;

/// Maps the whole of `file` read-only.
pub(crate) fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the mapping is read-only and private to this process; the file is an SSTable,
    // immutable after its rename (module docs). All accesses go through bounds-checked slices.
    unsafe { Mmap::map(file) }
}
