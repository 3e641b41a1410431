//! Decodes arbitrary bytes as a stream of chunk frames (`docs/format/chunk.md`) with a local
//! key file holding the keys the seeds were made with, so that mutated seeds reach the
//! decryption and decompression paths. Asserts: no panic; every frame decoded appends
//! exactly the plaintext length its header declares, within the decoder's bound; a failed
//! decode appends nothing. Each frame is also checked and read in parts
//! (`check_frame`, `CheckedFrame::read`): a whole read succeeds exactly when the decode does
//! and gives the same bytes, and reads of parts give the parts.
#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;
use std::time::Duration;

use crypta_compression::{ChunkDecoder, frame_key_id, parse_header};
use crypta_keys::{KeyProvider, LocalKeyProvider};
use libfuzzer_sys::fuzz_target;

/// The decoder's bound: the longest chunk of the seeds (16 KiB; the seeds of frame versions 1
/// and 2 have 4 KiB chunks).
const MAX_PLAINTEXT: usize = 16384;

/// The key file the seeds were made with (`examples/chunk_decode_seeds.rs`), copied once into a
/// private temporary directory (the provider refuses key files others can read).
fn keys() -> &'static LocalKeyProvider {
    static KEYS: OnceLock<LocalKeyProvider> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("crypta-fuzz-chunk-decode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let path = dir.join("keys");
        std::fs::write(&path, include_bytes!("../fixtures/chunk_decode.keys")).expect("key file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        LocalKeyProvider::open(&path)
            .expect("fixture key file")
            .with_refresh(Duration::from_secs(3600))
    })
}

fn decoder() -> &'static ChunkDecoder {
    static DECODER: OnceLock<ChunkDecoder> = OnceLock::new();
    DECODER.get_or_init(|| ChunkDecoder::new(MAX_PLAINTEXT))
}

fuzz_target!(|data: &[u8]| {
    let keys: &dyn KeyProvider = keys();
    let dec = decoder();
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let before = out.len();
        let decoded = dec.decode(rest, Some(keys), &mut out);
        let plain = out.get(before..).unwrap_or_default();
        let mut whole = Vec::new();
        let checked = dec.check_frame(rest, Some(keys));
        let read = match checked {
            Ok(mut c) => {
                let n = c.plaintext_len();
                let read = c.read(rest, 0..n, &mut whole);
                if read.is_ok() {
                    // Parts of it, in a fresh check (nothing read yet) and in this one.
                    for (a, b) in [(n / 3, n / 2), (n.saturating_sub(5), n), (0, n.min(4097))] {
                        let mut part = Vec::new();
                        c.read(rest, a..b, &mut part).expect("a part of a readable chunk");
                        assert_eq!(part.as_slice(), whole.get(a..b).unwrap_or_default());
                        let mut fresh = dec.check_frame(rest, Some(keys)).expect("checks again");
                        let mut part = Vec::new();
                        fresh.read(rest, a..b, &mut part).expect("a part, checked afresh");
                        assert_eq!(part.as_slice(), whole.get(a..b).unwrap_or_default());
                    }
                } else {
                    assert!(whole.is_empty(), "output appended by a failed read");
                }
                read
            }
            Err(e) => Err(e),
        };
        assert_eq!(decoded.is_ok(), read.is_ok(), "decode {decoded:?}, whole read {read:?}");
        if decoded.is_ok() {
            assert_eq!(plain, whole.as_slice(), "a whole read gives what decode gives");
        }
        match decoded {
            Ok(used) => {
                assert!(used > 0 && used <= rest.len(), "frame length {used} of {}", rest.len());
                let h = parse_header(rest, MAX_PLAINTEXT).expect("decoded frame has a header");
                assert_eq!(h.frame_len(), used);
                assert_eq!(out.len() - before, h.plaintext_len, "declared length");
                assert!(h.plaintext_len <= MAX_PLAINTEXT);
                assert_eq!(frame_key_id(rest, MAX_PLAINTEXT).expect("key id"), h.key_id);
                rest = rest.get(used..).unwrap_or_default();
            }
            Err(_) => {
                assert_eq!(out.len(), before, "output appended by a failed decode");
                break;
            }
        }
    }
});
