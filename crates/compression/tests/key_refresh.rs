#![allow(clippy::unwrap_used, reason = "tests fail loudly on errors")]

//! A key destroyed in the key file by another process: decoders with a warm key cache
//! refuse its frames once the reading provider's refresh period has passed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionError, CompressionOptions};
use crypta_keys::{KeyError, KeyManager, KeyProvider, LocalKeyProvider};

const REFRESH: Duration = Duration::from_millis(300);
/// More than a kernel tick: the provider's coarse clock may find a check due this much early.
const TICK: Duration = Duration::from_millis(20);

#[test]
fn a_destroyed_key_is_refused_after_the_refresh_period_even_with_warm_caches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let admin = LocalKeyProvider::open(&path)
        .unwrap()
        .with_refresh(Duration::ZERO);
    let reader = LocalKeyProvider::open(&path).unwrap().with_refresh(REFRESH);
    for transformation in ["AES/CBC/PKCS5Padding", "AES/GCM/NoPadding"] {
        let m: BTreeMap<String, String> = [
            ("class", "Encryptor"),
            ("cipher_algorithm", transformation),
            ("secret_key_strength", "128"),
            ("chunk_length_kb", "4"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let o = CompressionOptions::parse(&m).unwrap();
        let key = admin.current_key(&o.key_spec().unwrap()).unwrap();
        let mut frame = Vec::new();
        ChunkEncoder::new(&o)
            .encode(b"a row under the old key", Some(&key), &mut frame)
            .unwrap();
        let dec = ChunkDecoder::new(o.chunk_length());
        let read = |dec: &ChunkDecoder| -> Result<Vec<u8>, CompressionError> {
            let mut out = Vec::new();
            dec.decode(&frame, Some(&reader), &mut out)?;
            let checked = dec.check_frame(&frame, Some(&reader))?;
            assert_eq!(checked.plaintext_len(), out.len());
            Ok(out)
        };
        // Warm the reader's key cache and the decoder's prepared keys.
        let since = Instant::now();
        assert_eq!(read(&dec).unwrap(), b"a row under the old key");

        admin.revoke(key.id(), false).unwrap();
        admin.destroy(key.id()).unwrap();
        let early = read(&dec);
        if since.elapsed() + TICK < REFRESH {
            assert!(early.is_ok(), "within the period the cached key serves");
        }
        std::thread::sleep(REFRESH);
        for dec in [&dec, &ChunkDecoder::new(o.chunk_length())] {
            let err = read(dec).unwrap_err();
            assert!(
                matches!(
                    &err,
                    CompressionError::Key {
                        source: KeyError::Destroyed { .. },
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains(key.id().as_str()), "{err}");
        }
    }
}
