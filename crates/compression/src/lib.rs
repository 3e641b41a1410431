//! crypta's chunk codecs.
//!
//! Tables, the commit log and hints cut their data into chunks (64 KiB of plaintext by
//! default) and pass each through a codec chosen by class name, as the CQL table options name
//! it: `Encryptor` (encrypt only), `EncryptingDeflateCompressor` (deflate, then encrypt),
//! `EncryptingLZ4Compressor`, `DeflateCompressor`, `LZ4Compressor`, or none.
//!
//! - [`CompressionOptions`] parses and validates the options map users write
//!   (`class`, `cipher_algorithm`, `secret_key_strength`, `key_provider`, `kmip_host`,
//!   `key_keyspace`, `chunk_length_kb`, ...), with errors that name the option.
//! - [`Transformation`] is a JCE cipher transformation (`AES/CBC/PKCS5Padding`, ...).
//! - [`ChunkEncoder`] compresses, encrypts with a fresh random IV, and frames a chunk with the
//!   id of its key, its lengths and a CRC32; [`ChunkDecoder`] checks the CRC before anything
//!   else, gets the key by id from a [`crypta_keys::KeyProvider`], decrypts and inflates,
//!   never allocating more than the chunk length allows. The frame is specified byte by byte
//!   in `docs/format/chunk.md`.
//!
//! - [`ChunkDecoder::check_frame`] checks a frame as `decode` does and returns a
//!   [`CheckedFrame`] whose reads decrypt only the cipher blocks covering the bytes asked
//!   for, and open or inflate only the 4 KiB segments of a GCM or compressed chunk it covers
//!   (GCM and compressed frames of versions 1 and 2 are decoded whole): what a point lookup
//!   reads of a 64 KiB chunk is a few hundred bytes (4 KiB with GCM, a few KiB compressed).
//!
//! - [`hazmat::ChunkCipher`] is the cipher alone with a caller-chosen IV, for cross-checks and
//!   benchmarks.
//!
//! This crate is pure functions over byte slices: no files, no threads.
//!
//! # Hazmat
//! ECB and CBC do not authenticate, and ECB leaks patterns (equal plaintext blocks encrypt to
//! equal ciphertext blocks). The CRC32 detects accidental corruption only. Choose
//! `AES/GCM/NoPadding` where deliberate tampering must be detected: each 4 KiB segment's tag
//! covers the frame header (key id, lengths) and its ciphertext, under a key of the frame's
//! own and a nonce of the segment's own.

mod cipher;
mod codec;
mod compress;
mod error;
mod frame;
mod gcm_segments;
pub mod hazmat;
mod options;
mod range;
mod transformation;

pub use codec::{ChunkDecoder, ChunkEncoder, frame_key_id};
pub use compress::DEFLATE_LEVEL;
pub use error::{CompressionError, closest_name};
pub use frame::{FRAME_VERSION, FrameHeader, max_frame_overhead, parse_header};
pub use options::{
    CodecClass, CompressionOptions, Compressor, DEFAULT_CHUNK_LENGTH_KB, EncryptionOptions,
    KeyProviderChoice,
};
pub use range::{CheckedFrame, FrameMemo};
pub use transformation::{Mode, Padding, Transformation, VALID_TRANSFORMATIONS};
