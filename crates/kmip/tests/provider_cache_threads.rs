//! Many threads reading one cached key (the shared-lock hit path) while another node
//! destroys it: every thread is served until key_cache_millis passes, not a moment less,
//! then refused for good.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crypta_keys::{Algorithm, KeyError, KeyManager, KeyProvider};

#[test]
fn readers_on_many_threads_see_a_destroy_after_the_cache_period() {
    let cache = 300;
    let admin = common::provider(cache);
    let reader = common::provider(cache);
    let spec = common::spec(Algorithm::Aes, 128, "ks_cache_threads");
    let key = admin.current_key(&spec).unwrap();
    let start = Instant::now();
    reader.key_by_id(key.id()).unwrap(); // cached from now on, for `cache` ms
    admin.revoke(key.id(), false).unwrap();
    let destroyed_seen = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let err = loop {
                        match reader.key_by_id(key.id()) {
                            Ok(k) => assert_eq!(k.material(), key.material()),
                            Err(e) => break e,
                        }
                        assert!(
                            start.elapsed() < Duration::from_secs(30),
                            "the destroy was never seen"
                        );
                    };
                    let refused_after = start.elapsed();
                    assert!(
                        refused_after >= Duration::from_millis(cache),
                        "served from the cache for key_cache_millis, refused after {refused_after:?}"
                    );
                    // The thread that finds the cached key gone says Destroyed; the others
                    // then find no cached copy and the server has none: NotFound.
                    match err {
                        KeyError::Destroyed { .. } => {
                            destroyed_seen.fetch_add(1, Ordering::SeqCst);
                        }
                        KeyError::NotFound { .. } => {}
                        e => panic!("{e}"),
                    }
                    for _ in 0..3 {
                        assert!(reader.key_by_id(key.id()).is_err(), "refused for good");
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        admin.destroy(key.id()).unwrap();
        for t in threads {
            t.join().unwrap();
        }
    });
    assert!(destroyed_seen.load(Ordering::SeqCst) >= 1);
}
