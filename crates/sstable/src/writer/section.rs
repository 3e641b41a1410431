//! One section being written: a plaintext stream cut into chunks of the chunk length, each
//! passed through the table's codec and appended as a frame.

use std::io::Write;
use std::sync::Arc;

use crypta_compression::{ChunkEncoder, CompressionError};
use crypta_keys::Key;

/// Why a write failed, before the writer adds the file name.
#[derive(Debug)]
pub(crate) enum Fail {
    Io(&'static str, std::io::Error),
    Encode(CompressionError),
}

/// The table's codec and the one key the file is encrypted with.
#[derive(Debug)]
pub(crate) struct Codec {
    pub encoder: ChunkEncoder,
    pub key: Option<Arc<Key>>,
}

/// A section's stream: pending plaintext, the bytes and CRC of the frames written so far.
#[derive(Debug)]
pub(crate) struct SectionWriter {
    pending: Vec<u8>,
    chunk_length: usize,
    /// Plaintext bytes already framed.
    framed: u64,
    /// Encoded bytes written.
    bytes: u64,
    crc: crc32fast::Hasher,
    frame: Vec<u8>,
    /// Offsets of frames relative to the section's start, when asked for.
    frame_offsets: Option<Vec<u64>>,
}

impl SectionWriter {
    pub(crate) fn new(chunk_length: usize, record_offsets: bool) -> Self {
        SectionWriter {
            pending: Vec::with_capacity(chunk_length),
            chunk_length,
            framed: 0,
            bytes: 0,
            crc: crc32fast::Hasher::new(),
            frame: Vec::new(),
            frame_offsets: record_offsets.then(Vec::new),
        }
    }

    /// Encoded bytes written so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `data` to the stream, framing every full chunk.
    pub(crate) fn write(
        &mut self,
        mut data: &[u8],
        codec: &Codec,
        out: &mut impl Write,
    ) -> Result<(), Fail> {
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= self.chunk_length {
                // A whole chunk straight from the caller's bytes (large values): no copy.
                let (chunk, rest) = data.split_at(self.chunk_length);
                self.frame_chunk(chunk, codec, out)?;
                data = rest;
                continue;
            }
            let room = self.chunk_length - self.pending.len();
            let (now, rest) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = rest;
            if self.pending.len() == self.chunk_length {
                let chunk = std::mem::take(&mut self.pending);
                let r = self.frame_chunk(&chunk, codec, out);
                self.pending = chunk;
                self.pending.clear();
                r?;
            }
        }
        Ok(())
    }

    fn frame_chunk(
        &mut self,
        chunk: &[u8],
        codec: &Codec,
        out: &mut impl Write,
    ) -> Result<(), Fail> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        let r = codec
            .encoder
            .encode(chunk, codec.key.as_ref(), &mut frame)
            .map_err(Fail::Encode)
            .and_then(|_| self.append_frame(&frame, chunk.len(), out));
        self.frame = frame;
        r
    }

    /// Appends a frame encoded elsewhere (by the data pipeline's encoder threads) from a
    /// chunk of `plain_len` bytes. Frames must come in stream order, each of a full chunk
    /// but the last, and only while nothing is pending.
    pub(crate) fn append_frame(
        &mut self,
        frame: &[u8],
        plain_len: usize,
        out: &mut impl Write,
    ) -> Result<(), Fail> {
        out.write_all(frame).map_err(|e| Fail::Io("writing", e))?;
        if let Some(o) = &mut self.frame_offsets {
            o.push(self.bytes);
        }
        self.crc.update(frame);
        self.bytes += frame.len() as u64;
        self.framed += plain_len as u64;
        Ok(())
    }

    /// Frames what is pending; returns (plaintext length, encoded length, CRC, frame offsets).
    pub(crate) fn finish(mut self, codec: &Codec, out: &mut impl Write) -> Result<Finished, Fail> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.frame_chunk(&chunk, codec, out)?;
        }
        Ok(Finished {
            plain_len: self.framed,
            len: self.bytes,
            crc: self.crc.finalize(),
            frame_offsets: self.frame_offsets.unwrap_or_default(),
        })
    }
}

/// A section once written.
#[derive(Debug)]
pub(crate) struct Finished {
    pub plain_len: u64,
    pub len: u64,
    pub crc: u32,
    pub frame_offsets: Vec<u64>,
}
