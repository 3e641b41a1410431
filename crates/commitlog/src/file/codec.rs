//! How a log encodes its chunks: the codec chosen by its options, and the key provider.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crypta_compression::{ChunkEncoder, CompressionOptions, max_frame_overhead};
use crypta_keys::{Key, KeyProvider, KeySpec};

use crate::CommitLogError;

/// The codec of a log and where its keys come from. Shared by every file a log writes.
pub struct LogCodec {
    encoder: ChunkEncoder,
    keys: Option<Arc<dyn KeyProvider>>,
    spec: Option<KeySpec>,
}

impl fmt::Debug for LogCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogCodec")
            .field("encoder", &self.encoder)
            .field("keys", &self.keys.as_ref().map(|k| k.describe()))
            .field("spec", &self.spec)
            .finish()
    }
}

impl LogCodec {
    /// A codec for `options` (plain, compressing, or encrypting: DSE's `system_info_encryption`
    /// settings). Encrypting options need `keys`; plain ones may still be given keys, to read
    /// files written while encryption was on.
    pub fn new(
        options: &CompressionOptions,
        keys: Option<Arc<dyn KeyProvider>>,
    ) -> Result<Self, CommitLogError> {
        let spec = options.key_spec();
        if spec.is_some() && keys.is_none() {
            return Err(CommitLogError::Config {
                reason: format!("{options} encrypts: a key provider is required"),
            });
        }
        Ok(LogCodec {
            // A log's frames are only ever read whole: 64 KiB segments, and CBC in
            // interleaved chains. A log encodes its chunks one by one as records arrive, and
            // one CBC chain per chunk encrypts AES-128 at 1.35 GB/s, slower than the plaintext
            // log writes (1.6 to 2 GB/s; `docs/format/chunk.md`, mode code 4).
            encoder: ChunkEncoder::new(options).for_whole_reads(),
            keys,
            spec,
        })
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_length(&self) -> usize {
        self.encoder.chunk_length()
    }

    /// The key provider, if any.
    pub fn keys(&self) -> Option<&Arc<dyn KeyProvider>> {
        self.keys.as_ref()
    }

    /// The key provider as the chunk decoder takes it.
    pub fn key_provider(&self) -> Option<&dyn KeyProvider> {
        self.keys.as_deref()
    }

    /// Whether chunks are encrypted.
    pub fn encrypts(&self) -> bool {
        self.spec.is_some()
    }

    pub(crate) fn encoder(&self) -> &ChunkEncoder {
        &self.encoder
    }

    /// The key to encrypt the next chunk of `file` with, asked of the provider for every
    /// chunk so that a rotated key is used from the next chunk on.
    pub(crate) fn current_key(&self, file: &Path) -> Result<Option<Arc<Key>>, CommitLogError> {
        match (&self.spec, &self.keys) {
            (Some(spec), Some(keys)) => {
                keys.current_key(spec)
                    .map(Some)
                    .map_err(|source| CommitLogError::CurrentKey {
                        file: file.to_path_buf(),
                        spec: spec.to_string(),
                        source: Box::new(source),
                    })
            }
            _ => Ok(None),
        }
    }
}

/// The longest chunk block body a file with chunks of `chunk_length` may hold.
pub(crate) fn max_chunk_block(chunk_length: usize) -> usize {
    chunk_length + max_frame_overhead(chunk_length)
}
