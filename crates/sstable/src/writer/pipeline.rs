//! The data stream's encoder threads: the caller fills one chunk while the previous ones are
//! compressed, encrypted and framed on one or more encoder threads, and their frames
//! written in stream order.
//!
//! - Full chunks are numbered and queued in a [`Mutex`]-guarded state shared with the
//!   encoders. An encoder takes the oldest queued chunks (up to its batch, see
//!   [`Tuning::batch`]; a batch of consecutive chunks goes through
//!   `ChunkEncoder::encode_batch`, which runs CBC chains side by side) and encodes them
//!   outside any lock.
//! - Frames are written in chunk order, whichever encoder finishes first: an encoder hands
//!   its finished batch to the sink (a second lock, over the file and the section's offsets
//!   and CRC); the sink keeps batches that come early until the ones before them arrive,
//!   and the encoder that brings the next awaited batch writes it and every waiting one that
//!   follows. The file gets the same bytes as one encoder writing chunk after chunk
//!   (`SectionWriter::append_frame` is the bookkeeping `SectionWriter::write` does).
//! - A chunk buffer goes back to the caller only once its frame is written, and at most
//!   [`Tuning::buffers`] exist: the caller, the queue, the encoders and the frames waiting
//!   for their turn hold at most that many chunks (and as many frames), whatever the table's
//!   size. A caller faster than the encoders waits for a buffer.
//! - The first error (of the lowest chunk, if several encoders fail) stops every encoder and
//!   is kept; the caller sees it on its next [`DataPipeline::write`] that needs a buffer or at
//!   [`DataPipeline::finish`], and the writer adds the file name. Every wait (the caller's
//!   for a buffer, an encoder's for work) ends on an error, so none can outlast it, and an
//!   encoder that panics records a failure on its way out.
//! - No thread outlives the pipeline: `finish` and errors join them all, and dropping the
//!   pipeline (a writer dropped unfinished, or failed) stops them (they skip what is
//!   queued) and joins them.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::section::{Codec, Fail, Finished, SectionWriter};

/// What the pipeline hands back at `finish`: the file and the data section.
type Done = (BufWriter<File>, Finished);

/// How many encoders, and how many chunks each takes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// Encoder threads (at least 1).
    pub encoders: usize,
    /// Chunks an encoder takes at once: it waits until that many are queued (or the stream
    /// ends). More than 1 pays only for CBC, whose batches run side by side.
    pub batch: usize,
}

impl Tuning {
    /// Chunk buffers in circulation: for each encoder, one batch being encoded and one
    /// queued, plus the one being filled and one spare (4 for one encoder taking one chunk
    /// at a time: one filling, two queued, one encoding).
    pub(crate) fn buffers(self) -> usize {
        self.encoders * 2 * self.batch + 2
    }
}

/// A run of consecutive chunks taken by one encoder, and their frames once encoded.
#[derive(Debug)]
struct Batch {
    /// The number of the first chunk.
    first: u64,
    chunks: Vec<Vec<u8>>,
    /// The frames back to back, and each one's length.
    frames: Vec<u8>,
    lens: Vec<usize>,
}

/// What the caller and the encoders share, under [`Shared::state`].
#[derive(Debug)]
struct State {
    /// Full chunks not yet taken by an encoder, oldest first, numbered from `next_queued -
    /// queue.len()`.
    queue: VecDeque<Vec<u8>>,
    /// Chunk buffers whose frames are written, for the caller to fill again.
    free: Vec<Vec<u8>>,
    /// Frame buffers to reuse.
    frame_bufs: Vec<Vec<u8>>,
    /// The number the next chunk queued gets.
    next_queued: u64,
    /// No more chunks will come: encoders drain the queue and stop.
    closed: bool,
    /// Stop now (an error, or the pipeline dropped): encoders skip what is queued.
    stop: bool,
    /// The first failure, with the chunk it happened on.
    failure: Option<(u64, Fail)>,
    /// Encoder threads still running.
    live: usize,
}

/// The file and the data section's bookkeeping, written in chunk order.
#[derive(Debug)]
struct Sink {
    file: Option<BufWriter<File>>,
    section: SectionWriter,
    /// The number of the next chunk to write.
    next: u64,
    /// Batches encoded ahead of their turn, by their first chunk's number.
    waiting: BTreeMap<u64, Batch>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Encoders wait here for chunks (or the end, or a stop).
    work: Condvar,
    /// The caller waits here for a free buffer (or a failure).
    space: Condvar,
    sink: Mutex<Sink>,
    /// Encoded bytes written so far.
    written: AtomicU64,
    codec: Arc<Codec>,
    batch: usize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking encoder records its failure (see `Exit`): the state stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sink(&self) -> MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `fail` at chunk `at` (keeping the failure of the lowest chunk) and stops
    /// everyone.
    fn fail(&self, at: u64, fail: Fail) {
        let mut s = self.state();
        if s.failure.as_ref().is_none_or(|(first, _)| at < *first) {
            s.failure = Some((at, fail));
        }
        s.stop = true;
        drop(s);
        self.work.notify_all();
        self.space.notify_all();
    }
}

/// The data section being written through the encoder threads (see the module docs).
#[derive(Debug)]
pub(crate) struct DataPipeline {
    chunk_length: usize,
    /// The chunk being filled.
    pending: Vec<u8>,
    /// Plaintext bytes handed to the encoders.
    sent: u64,
    /// Chunk buffers allocated so far (at most `tuning.buffers()`).
    buffers: usize,
    max_buffers: usize,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl DataPipeline {
    /// Starts the encoder threads, whose frames are appended to `file`.
    pub(crate) fn start(
        chunk_length: usize,
        codec: Arc<Codec>,
        file: BufWriter<File>,
        tuning: Tuning,
    ) -> std::io::Result<Self> {
        let tuning = Tuning {
            encoders: tuning.encoders.max(1),
            batch: tuning.batch.max(1),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                free: Vec::new(),
                frame_bufs: Vec::new(),
                next_queued: 0,
                closed: false,
                stop: false,
                failure: None,
                live: 0,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            sink: Mutex::new(Sink {
                file: Some(file),
                section: SectionWriter::new(chunk_length, true),
                next: 0,
                waiting: BTreeMap::new(),
            }),
            written: AtomicU64::new(0),
            codec,
            batch: tuning.batch,
        });
        let mut pipeline = DataPipeline {
            chunk_length,
            pending: Vec::with_capacity(chunk_length),
            sent: 0,
            buffers: 1,
            max_buffers: tuning.buffers(),
            shared,
            workers: Vec::with_capacity(tuning.encoders),
        };
        for i in 0..tuning.encoders {
            // Counted before it starts, so that the caller never sees 0 while one starts.
            pipeline.shared.state().live += 1;
            let shared = pipeline.shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sstable-encoder-{i}"))
                .spawn(move || encode_loop(&shared));
            match spawned {
                Ok(w) => pipeline.workers.push(w),
                Err(e) => {
                    pipeline.shared.state().live -= 1;
                    // Dropping the pipeline stops and joins the encoders already started.
                    return Err(e);
                }
            }
        }
        Ok(pipeline)
    }

    /// The plaintext position the next byte written will have.
    pub(crate) fn position(&self) -> u64 {
        self.sent + self.pending.len() as u64
    }

    /// Encoded bytes written so far (behind [`Self::position`] by what is in flight).
    pub(crate) fn bytes(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Appends `data` to the stream, queueing every full chunk. Fails with the encoders'
    /// error if they have stopped.
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

    /// Queues the pending chunk and takes an empty buffer in its place.
    fn send_pending(&mut self) -> Result<(), Fail> {
        let next = self.empty_buffer()?;
        let chunk = std::mem::replace(&mut self.pending, next);
        self.queue(chunk)
    }

    /// A buffer whose frame is written, a new one while fewer than the maximum exist, or
    /// else the next one freed (waiting for it).
    fn empty_buffer(&mut self) -> Result<Vec<u8>, Fail> {
        let mut s = self.shared.state();
        let mut buf = loop {
            if s.stop || s.live == 0 {
                drop(s);
                return Err(self.stopped());
            }
            if let Some(b) = s.free.pop() {
                break b;
            }
            if self.buffers < self.max_buffers {
                self.buffers += 1;
                break Vec::with_capacity(self.chunk_length);
            }
            s = self
                .shared
                .space
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        };
        buf.clear();
        Ok(buf)
    }

    /// Hands `chunk` to the encoders.
    fn queue(&mut self, chunk: Vec<u8>) -> Result<(), Fail> {
        let len = chunk.len() as u64;
        let mut s = self.shared.state();
        if s.stop || s.live == 0 {
            drop(s);
            return Err(self.stopped());
        }
        s.queue.push_back(chunk);
        s.next_queued += 1;
        let ready = s.queue.len() >= self.shared.batch;
        drop(s);
        self.sent += len;
        if ready {
            self.shared.work.notify_all();
        }
        Ok(())
    }

    /// Stops the encoders, joins them, and returns the error that stopped them.
    fn stopped(&mut self) -> Fail {
        self.stop_and_join();
        match self.shared.state().failure.take() {
            Some((_, f)) => f,
            None => Fail::Io(
                "encoding the data of",
                std::io::Error::other("the encoder threads stopped early"),
            ),
        }
    }

    fn stop_and_join(&mut self) {
        {
            let mut s = self.shared.state();
            s.stop = true;
            s.closed = true;
        }
        self.shared.work.notify_all();
        for w in self.workers.drain(..) {
            // A panic is recorded as a failure by the thread itself (see `Exit`).
            let _ = w.join();
        }
    }

    /// Queues the last (partial) chunk, waits for the encoders to write everything, and
    /// returns the file and the data section.
    pub(crate) fn finish(mut self) -> Result<Done, Fail> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.queue(chunk)?;
        }
        self.shared.state().closed = true;
        self.shared.work.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let queued = {
            let mut s = self.shared.state();
            if let Some((_, f)) = s.failure.take() {
                return Err(f);
            }
            s.next_queued
        };
        let mut sink = self.shared.sink();
        let file = sink.file.take();
        let section = std::mem::replace(&mut sink.section, SectionWriter::new(0, false));
        let (Some(mut file), true) = (file, sink.next == queued) else {
            return Err(Fail::Io(
                "encoding the data of",
                std::io::Error::other(format!(
                    "the encoder threads wrote {} of {queued} chunks",
                    sink.next
                )),
            ));
        };
        drop(sink);
        // Nothing is pending in the section: every chunk came through `append_frame`.
        let finished = section.finish(&self.shared.codec, &mut file)?;
        self.shared.written.store(finished.len, Ordering::Relaxed);
        Ok((file, finished))
    }
}

impl Drop for DataPipeline {
    fn drop(&mut self) {
        // Unfinished (or already joined): stop the encoders without writing what is queued,
        // and wait for them, so that no thread outlives the writer and the file is closed
        // before it is removed.
        if !self.workers.is_empty() {
            self.stop_and_join();
        }
    }
}

/// Marks an encoder gone when it returns or unwinds; a panic becomes the pipeline's failure,
/// so that nobody waits for the chunks it held.
struct Exit<'a>(&'a Shared);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(
                0,
                Fail::Io(
                    "encoding the data of",
                    std::io::Error::other("an encoder thread panicked"),
                ),
            );
        }
        self.0.state().live -= 1;
        self.0.space.notify_all();
    }
}

/// An encoder thread: takes runs of queued chunks, encodes them, and has them written in
/// order, until the queue is closed and empty, or a stop.
fn encode_loop(shared: &Shared) {
    let _exit = Exit(shared);
    while let Some(mut batch) = take_batch(shared) {
        let codec = &*shared.codec;
        let chunks: Vec<&[u8]> = batch.chunks.iter().map(Vec::as_slice).collect();
        let encoded = codec
            .encoder
            .encode_batch(&chunks, codec.key.as_ref(), &mut batch.frames);
        match encoded {
            Ok(lens) => batch.lens = lens,
            Err(e) => {
                shared.fail(batch.first, Fail::Encode(e));
                return;
            }
        }
        deliver(shared, batch);
    }
}

/// The next run of chunks to encode (waiting for a full batch unless the stream is closed),
/// or `None` when there is nothing more to do.
fn take_batch(shared: &Shared) -> Option<Batch> {
    let mut s = shared.state();
    loop {
        if s.stop || (s.closed && s.queue.is_empty()) {
            return None;
        }
        if s.queue.len() >= shared.batch || (s.closed && !s.queue.is_empty()) {
            break;
        }
        s = shared.work.wait(s).unwrap_or_else(PoisonError::into_inner);
    }
    let n = s.queue.len().min(shared.batch);
    let first = s.next_queued - s.queue.len() as u64;
    let chunks: Vec<Vec<u8>> = s.queue.drain(..n).collect();
    let mut frames = s.frame_bufs.pop().unwrap_or_default();
    frames.clear();
    Some(Batch {
        first,
        chunks,
        frames,
        lens: Vec::new(),
    })
}

/// Hands an encoded batch to the sink, which writes it and every batch waiting after it if
/// its turn has come, and gives the written chunks' buffers back.
fn deliver(shared: &Shared, batch: Batch) {
    let mut done = Vec::new();
    let mut failed = None;
    {
        let mut sink = shared.sink();
        let sink = &mut *sink;
        sink.waiting.insert(batch.first, batch);
        while let Some(b) = sink.waiting.remove(&sink.next) {
            if let Err(f) = write_batch(sink, &b) {
                failed = Some((b.first, f));
                break;
            }
            sink.next += b.chunks.len() as u64;
            done.push(b);
        }
        shared
            .written
            .store(sink.section.bytes(), Ordering::Relaxed);
    }
    if let Some((at, f)) = failed {
        shared.fail(at, f);
        return;
    }
    if done.is_empty() {
        return;
    }
    let mut s = shared.state();
    for b in done {
        s.free.extend(b.chunks);
        s.frame_bufs.push(b.frames);
    }
    drop(s);
    shared.space.notify_all();
}

fn write_batch(sink: &mut Sink, b: &Batch) -> Result<(), Fail> {
    let Some(file) = sink.file.as_mut() else {
        return Err(Fail::Io(
            "writing",
            std::io::Error::other("the data file is closed"),
        ));
    };
    if b.lens.len() != b.chunks.len() {
        return Err(Fail::Io(
            "encoding the data of",
            std::io::Error::other("the encoder returned a frame count unlike its chunks'"),
        ));
    }
    let mut frames = b.frames.as_slice();
    for (chunk, &len) in b.chunks.iter().zip(&b.lens) {
        let Some((frame, rest)) = frames.split_at_checked(len) else {
            return Err(Fail::Io(
                "encoding the data of",
                std::io::Error::other("the encoder returned fewer bytes than its frames"),
            ));
        };
        sink.section.append_frame(frame, chunk.len(), file)?;
        frames = rest;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crypta_compression::{ChunkEncoder, CompressionError, CompressionOptions};

    use super::*;

    const CHUNK: usize = 4096;

    fn deflate() -> Arc<Codec> {
        let mut m = BTreeMap::new();
        m.insert("class".to_string(), "DeflateCompressor".to_string());
        m.insert("chunk_length_kb".to_string(), "4".to_string());
        let options = CompressionOptions::parse(&m).unwrap();
        Arc::new(Codec {
            encoder: ChunkEncoder::new(&options),
            key: None,
        })
    }

    fn start(encoders: usize) -> DataPipeline {
        let file = BufWriter::new(tempfile::tempfile().unwrap());
        let tuning = Tuning { encoders, batch: 1 };
        DataPipeline::start(CHUNK, deflate(), file, tuning).unwrap()
    }

    /// A compressible chunk of its own.
    fn chunk(i: usize) -> Vec<u8> {
        format!("chunk {i} ").repeat(CHUNK).into_bytes()[..CHUNK].to_vec()
    }

    /// Queues `n` chunks, of which those in `bad` are larger than the codec takes (its
    /// encoder refuses them: a failure in whichever encoder takes that chunk, while the
    /// others encode good ones), then finishes. Returns the error.
    fn fail_at(encoders: usize, n: usize, bad: &[(usize, usize)]) -> Fail {
        let mut p = start(encoders);
        for i in 0..n {
            let c = match bad.iter().find(|(at, _)| *at == i) {
                Some(&(_, len)) => vec![7; len],
                None => chunk(i),
            };
            let r = p.empty_buffer().and_then(|_| p.queue(c));
            assert!(p.buffers <= Tuning { encoders, batch: 1 }.buffers());
            if let Err(f) = r {
                assert!(p.workers.is_empty(), "the encoders are joined on an error");
                return f;
            }
        }
        p.finish().unwrap_err()
    }

    #[test]
    fn a_failure_in_one_encoder_stops_them_all_and_reaches_the_caller() {
        for encoders in [1, 2, 4] {
            let f = fail_at(encoders, 200, &[(50, CHUNK + 1)]);
            assert!(
                matches!(
                    f,
                    Fail::Encode(CompressionError::ChunkTooLarge { declared, .. })
                        if declared == CHUNK + 1
                ),
                "{encoders} encoders: {f:?}"
            );
            // The last chunk fails: the error comes from `finish`.
            let f = fail_at(encoders, 20, &[(19, CHUNK + 2)]);
            assert!(
                matches!(f, Fail::Encode(CompressionError::ChunkTooLarge { declared, .. }) if declared == CHUNK + 2),
                "{encoders} encoders: {f:?}"
            );
        }
    }

    #[test]
    fn of_two_failures_the_earlier_chunks_is_reported() {
        for _ in 0..20 {
            let f = fail_at(4, 100, &[(40, CHUNK + 1), (41, CHUNK + 2), (42, CHUNK + 3)]);
            assert!(
                matches!(f, Fail::Encode(CompressionError::ChunkTooLarge { declared, .. }) if declared == CHUNK + 1),
                "{f:?}"
            );
        }
    }

    #[test]
    fn frames_are_written_in_chunk_order() {
        let chunks: Vec<Vec<u8>> = (0..300).map(chunk).collect();
        let mut one = SectionWriter::new(CHUNK, true);
        let mut expected = Vec::new();
        let codec = deflate();
        for c in &chunks {
            one.write(c, &codec, &mut expected).unwrap();
        }
        let one = one.finish(&codec, &mut expected).unwrap();
        for encoders in [2, 4] {
            let mut p = start(encoders);
            for c in &chunks {
                p.write(&c[..CHUNK / 2]).unwrap();
                p.write(&c[CHUNK / 2..]).unwrap();
            }
            p.write(b"tail").unwrap();
            let (file, finished) = p.finish().unwrap();
            let mut file = file.into_inner().unwrap();
            let mut written = Vec::new();
            use std::io::{Read, Seek};
            file.seek(std::io::SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut written).unwrap();
            let mut tail = Vec::new();
            codec.encoder.encode(b"tail", None, &mut tail).unwrap();
            assert_eq!(written.len(), expected.len() + tail.len());
            assert!(written.starts_with(&expected), "{encoders} encoders");
            assert!(written.ends_with(&tail));
            assert_eq!(finished.frame_offsets.len(), one.frame_offsets.len() + 1);
            assert!(finished.frame_offsets.starts_with(&one.frame_offsets));
            assert_eq!(finished.plain_len, one.plain_len + 4);
            assert_eq!(finished.crc, crc32fast::hash(&written));
        }
    }
}
