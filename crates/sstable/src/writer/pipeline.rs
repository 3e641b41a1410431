//! The data stream's encoder thread: the caller fills one chunk while the previous ones are
//! compressed, encrypted, framed, checksummed and written on a second thread.
//!
//! - Full chunks go to the encoder through a queue of [`QUEUE`] chunks; their buffers come
//!   back through a second channel to be filled again. At most [`BUFFERS`] chunk buffers
//!   exist (one filling, the rest queued or being encoded): memory stays bounded by a few
//!   chunks whatever the table's size, and a caller faster than the encoder waits for a
//!   buffer.
//! - The encoder writes the frames in the order it receives the chunks, which is stream
//!   order: one thread, one FIFO queue.
//! - The encoder stops at its first error and keeps it; the caller sees it on its next
//!   [`DataPipeline::write`] (its queue or its buffers run dry) or at
//!   [`DataPipeline::finish`], and the writer adds the file name.
//! - The thread never outlives the pipeline: `finish` joins it, and dropping the pipeline
//!   (a writer dropped unfinished, or failed) tells it to stop, closes its queue and joins it.

use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::section::{Codec, Fail, Finished, SectionWriter};

/// Full chunks that may wait for the encoder.
const QUEUE: usize = 2;
/// Chunk buffers in circulation: one being filled, [`QUEUE`] waiting, one being encoded.
const BUFFERS: usize = QUEUE + 2;

/// What the encoder thread hands back when its queue closes: the file and the data section.
type Done = (BufWriter<File>, Finished);

/// The data section being written through the encoder thread (see the module docs).
#[derive(Debug)]
pub(crate) struct DataPipeline {
    chunk_length: usize,
    /// The chunk being filled.
    pending: Vec<u8>,
    /// Plaintext bytes handed to the encoder.
    sent: u64,
    /// Chunk buffers allocated so far (at most [`BUFFERS`]).
    buffers: usize,
    queue: Option<SyncSender<Vec<u8>>>,
    free: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Result<Done, Fail>>>,
    /// Encoded bytes written by the encoder so far.
    written: Arc<AtomicU64>,
    /// Set when the pipeline is dropped unfinished: the encoder skips what is queued.
    cancel: Arc<AtomicBool>,
}

impl DataPipeline {
    /// Starts the encoder thread, which appends the data section's frames to `file`.
    pub(crate) fn start(
        chunk_length: usize,
        codec: Arc<Codec>,
        file: BufWriter<File>,
    ) -> std::io::Result<Self> {
        let (queue, chunks) = sync_channel::<Vec<u8>>(QUEUE);
        let (give_back, free) = sync_channel::<Vec<u8>>(BUFFERS);
        let written = Arc::new(AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (w, c) = (written.clone(), cancel.clone());
        let worker = std::thread::Builder::new()
            .name("sstable-encoder".into())
            .spawn(move || encode_loop(chunk_length, &codec, file, &chunks, &give_back, &w, &c))?;
        Ok(DataPipeline {
            chunk_length,
            pending: Vec::with_capacity(chunk_length),
            sent: 0,
            buffers: 1,
            queue: Some(queue),
            free,
            worker: Some(worker),
            written,
            cancel,
        })
    }

    /// The plaintext position the next byte written will have.
    pub(crate) fn position(&self) -> u64 {
        self.sent + self.pending.len() as u64
    }

    /// Encoded bytes written so far (behind [`Self::position`] by what is queued).
    pub(crate) fn bytes(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Appends `data` to the stream, handing every full chunk to the encoder. Fails with the
    /// encoder's error if it has stopped.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<(), Fail> {
        while !data.is_empty() {
            let room = self.chunk_length - self.pending.len();
            let (now, rest) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = rest;
            if self.pending.len() == self.chunk_length {
                self.send_pending()?;
            }
        }
        Ok(())
    }

    /// Hands the pending chunk to the encoder and takes an empty buffer in its place.
    fn send_pending(&mut self) -> Result<(), Fail> {
        let next = self.empty_buffer()?;
        let chunk = std::mem::replace(&mut self.pending, next);
        let len = chunk.len() as u64;
        let sent = self.queue.as_ref().is_some_and(|q| q.send(chunk).is_ok());
        if !sent {
            return Err(self.stopped());
        }
        self.sent += len;
        Ok(())
    }

    /// A buffer the encoder is done with, a new one while fewer than [`BUFFERS`] exist, or
    /// else the next one the encoder gives back (waiting for it).
    fn empty_buffer(&mut self) -> Result<Vec<u8>, Fail> {
        let mut buf = match self.free.try_recv() {
            Ok(b) => b,
            Err(_) if self.buffers < BUFFERS => {
                self.buffers += 1;
                Vec::with_capacity(self.chunk_length)
            }
            Err(_) => match self.free.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.stopped()),
            },
        };
        buf.clear();
        Ok(buf)
    }

    /// The error that stopped the encoder (joining it).
    fn stopped(&mut self) -> Fail {
        self.queue = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(Err(f))) => f,
            Some(Ok(Ok(_))) | None => Fail::Io(
                "encoding the data of",
                std::io::Error::other("the encoder thread stopped early"),
            ),
            Some(Err(_)) => Fail::Io(
                "encoding the data of",
                std::io::Error::other("the encoder thread panicked"),
            ),
        }
    }

    /// Hands over the last (partial) chunk, waits for the encoder to write everything, and
    /// returns the file and the data section.
    pub(crate) fn finish(mut self) -> Result<Done, Fail> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            let len = chunk.len() as u64;
            let sent = self.queue.as_ref().is_some_and(|q| q.send(chunk).is_ok());
            if !sent {
                return Err(self.stopped());
            }
            self.sent += len;
        }
        self.queue = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Fail::Io(
                "encoding the data of",
                std::io::Error::other("the encoder thread panicked"),
            )),
            None => Err(self.stopped()),
        }
    }
}

impl Drop for DataPipeline {
    fn drop(&mut self) {
        // Unfinished: stop the encoder without writing what is queued, and wait for it, so
        // that no thread outlives the writer and the file is closed before it is removed.
        self.cancel.store(true, Ordering::Relaxed);
        self.queue = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The encoder thread: frames each chunk received, in order, until the queue closes.
fn encode_loop(
    chunk_length: usize,
    codec: &Codec,
    mut file: BufWriter<File>,
    chunks: &Receiver<Vec<u8>>,
    give_back: &SyncSender<Vec<u8>>,
    written: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<Done, Fail> {
    let mut section = SectionWriter::new(chunk_length, true);
    for chunk in chunks {
        if cancel.load(Ordering::Relaxed) {
            return Err(Fail::Io(
                "encoding the data of",
                std::io::Error::other("the writer was dropped unfinished"),
            ));
        }
        section.write(&chunk, codec, &mut file)?;
        written.store(section.bytes(), Ordering::Relaxed);
        // The caller may be gone (dropped) or have enough buffers: either is fine.
        let _ = give_back.try_send(chunk);
    }
    let finished = section.finish(codec, &mut file)?;
    written.store(finished.len, Ordering::Relaxed);
    Ok((file, finished))
}
