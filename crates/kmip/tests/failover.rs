//! Hosts tried in order: failover on refused and hung hosts, the timeout holds, every failure
//! listed, and a Create that may have reached a server is never resent.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::time::{Duration, Instant};

use crypta_keys::Algorithm;
use crypta_kmip::{KmipClient, KmipError, NewKey, Step};
use crypta_testkit::{HangingListener, KmipServer, SilentTlsServer, refused_port};

fn client(hosts: &str, timeout_ms: u64) -> KmipClient {
    let e = common::env();
    let mut cfg = common::pem_config(&e.pki, hosts);
    cfg.timeout = timeout_ms;
    KmipClient::new("pair", &cfg).unwrap()
}

fn aes() -> NewKey {
    NewKey {
        algorithm: Algorithm::Aes,
        strength: 128,
        name: None,
        object_group: Some("failover".into()),
        application_info: vec![],
    }
}

#[test]
fn first_host_refusing_connections_fails_over() {
    let e = common::env();
    let hosts = format!("127.0.0.1:{}, {}", refused_port().unwrap(), e.server.host());
    let c = client(&hosts, 1000);
    let id = c.create_symmetric_key(&aes()).unwrap();
    c.activate(&id).unwrap();
    assert_eq!(c.get_symmetric_key(&id).unwrap().material.len(), 16);
}

#[test]
fn first_host_hanging_fails_over_within_the_timeout() {
    let e = common::env();
    let hang = HangingListener::start().unwrap();
    let hosts = format!("{}, {}", hang.host(), e.server.host());
    let c = client(&hosts, 400);
    let t = Instant::now();
    // The handshake with the hung host times out before any request bytes are sent, so even
    // a Create moves on to the next host.
    let id = c.create_symmetric_key(&aes()).unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the timeout did not hold: {took:?}"
    );
    assert!(!id.is_empty());
    // The hung host is tried after the other one for a while: the next requests go to the
    // host that answered and do not connect to it again.
    let accepted = hang.accepted();
    assert_eq!(accepted, 1);
    for _ in 0..3 {
        assert_eq!(c.get_symmetric_key(&id).unwrap().material.len(), 16);
    }
    assert_eq!(hang.accepted(), accepted);
}

#[test]
fn every_host_failing_lists_each() {
    let hang = HangingListener::start().unwrap();
    let refused = refused_port().unwrap();
    let hosts = format!("127.0.0.1:{refused},{}", hang.host());
    let c = client(&hosts, 300);
    let t = Instant::now();
    let err = c.discover_versions().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let KmipError::AllHostsFailed {
        group, failures, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(group, "pair");
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].host, format!("127.0.0.1:{refused}"));
    assert_eq!(failures[0].step, Step::TcpConnect);
    assert_eq!(failures[1].host, hang.host());
    assert_eq!(failures[1].step, Step::TlsHandshake);
    assert!(failures[1].timed_out);
    let text = err.to_string();
    assert!(text.contains("[1] 127.0.0.1:"), "{text}");
    assert!(text.contains("TCP connect failed"), "{text}");
    assert!(text.contains("[2] 127.0.0.1:"), "{text}");
    assert!(text.contains("timed out after 300 ms"), "{text}");
}

#[test]
fn create_that_reached_a_silent_server_is_not_resent() {
    let e = common::env();
    let silent = SilentTlsServer::start(&e.pki).unwrap();
    let hosts = format!("{}, {}", silent.host(), e.server.host());
    let mut cfg = common::pem_config(&e.pki, &hosts);
    cfg.timeout = 400;
    let c = KmipClient::new("pair", &cfg).unwrap();
    let before = {
        let direct = client(&e.server.host(), 1000);
        direct
            .locate(&crypta_kmip::LocateFilter {
                object_group: Some("silent".into()),
                ..Default::default()
            })
            .unwrap()
            .len()
    };
    let key = NewKey {
        object_group: Some("silent".into()),
        ..aes()
    };
    let err = c.create_symmetric_key(&key).unwrap_err();
    let KmipError::OutcomeUnknown {
        host, operation, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(host, &silent.host());
    assert_eq!(*operation, "Create");
    assert!(
        silent.received() > 0,
        "the request should have reached the silent server"
    );
    assert!(err.to_string().contains("not resent"), "{err}");
    // Nothing was created on the real server behind it.
    let direct = client(&e.server.host(), 1000);
    let after = direct
        .locate(&crypta_kmip::LocateFilter {
            object_group: Some("silent".into()),
            ..Default::default()
        })
        .unwrap()
        .len();
    assert_eq!(before, after);
    // Reads are safe to retry: they fail over.
    assert!(!c.discover_versions().unwrap().is_empty());
}

#[test]
fn replicated_pair_serves_keys_when_the_first_is_stopped() {
    let e = common::env();
    let mut first = KmipServer::start(&e.pki).unwrap();
    let second = KmipServer::start_sharing(&e.pki, &first).unwrap();
    let hosts = format!("{}, {}", first.host(), second.host());
    let c = client(&hosts, 1000);
    let id = c.create_symmetric_key(&aes()).unwrap();
    c.activate(&id).unwrap();
    let before = c.get_symmetric_key(&id).unwrap();
    first.stop();
    let after = c.get_symmetric_key(&id).unwrap();
    assert_eq!(before.material.expose(), after.material.expose());
}
