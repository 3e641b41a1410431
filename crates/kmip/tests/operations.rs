//! Every KMIP operation of the client against a real PyKMIP server.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::time::Instant;

use crypta_keys::{Algorithm, KeyState};
use crypta_kmip::{Attribute, KmipClient, LocateFilter, NewKey, ResultReason};

fn new_key(algorithm: Algorithm, strength: u32, group: &str) -> NewKey {
    NewKey {
        algorithm,
        strength,
        name: Some(format!("ops-{algorithm}-{strength}-{group}")),
        object_group: Some(group.to_string()),
        application_info: vec![("crypta".into(), "v=1".into())],
    }
}

#[test]
fn discover_versions_and_query() {
    let t = Instant::now();
    let c = common::client();
    let versions = c.discover_versions().unwrap();
    assert!(
        versions.iter().any(|v| v.major == 1 && v.minor == 2),
        "{versions:?}"
    );
    let info = c.query().unwrap();
    // Create (1), Get (10), Locate (8), Destroy (20) at least.
    for op in [1, 8, 10, 20] {
        assert!(info.operations.contains(&op), "{info:?}");
    }
    assert!(
        info.vendor
            .as_deref()
            .unwrap_or_default()
            .contains("PyKMIP"),
        "{info:?}"
    );
    eprintln!("discover+query: {:?}", t.elapsed());
}

#[test]
fn create_activate_get_attributes_for_every_creatable_cipher() {
    let c = common::client();
    for (alg, bits, material_len) in [
        (Algorithm::Aes, 128, 16),
        (Algorithm::Aes, 192, 24),
        (Algorithm::Aes, 256, 32),
        (Algorithm::DesEde, 112, 16),
        (Algorithm::DesEde, 168, 24),
        (Algorithm::Blowfish, 128, 16),
    ] {
        let id = c
            .create_symmetric_key(&new_key(alg, bits, "ops-create"))
            .unwrap();
        let attrs = c.get_attributes(&id).unwrap();
        assert_eq!(attrs.crypta_algorithm(), Some((alg, bits)), "{attrs:?}");
        assert_eq!(attrs.key_state(), Some(KeyState::PreActive));
        assert_eq!(attrs.names, [format!("ops-{alg}-{bits}-ops-create")]);
        assert_eq!(attrs.object_groups, ["ops-create"]);
        assert_eq!(
            attrs.application_info,
            [("crypta".to_string(), "v=1".to_string())]
        );
        assert!(attrs.initial_date.is_some());
        c.activate(&id).unwrap();
        assert_eq!(
            c.get_attributes(&id).unwrap().key_state(),
            Some(KeyState::Active)
        );
        let key = c.get_symmetric_key(&id).unwrap();
        assert_eq!(key.algorithm, Some((alg, bits)));
        assert_eq!(key.material.len(), material_len, "{alg} {bits}");
    }
}

#[test]
fn des_and_rc2_are_refused_by_create_and_registered_instead() {
    let c = common::client();
    for (alg, bits) in [(Algorithm::Des, 56), (Algorithm::Rc2, 128)] {
        let err = c
            .create_symmetric_key(&new_key(alg, bits, "ops-reg"))
            .unwrap_err();
        assert!(err.result_reason().is_some(), "{alg}: {err}");
        let material = KmipClient::generate_material(alg, bits).unwrap();
        let id = c
            .register_symmetric_key(&new_key(alg, bits, "ops-reg"), &material)
            .unwrap();
        let attrs = c.get_attributes(&id).unwrap();
        assert_eq!(attrs.crypta_algorithm(), Some((alg, bits)));
        let back = c.get_symmetric_key(&id).unwrap();
        assert_eq!(back.material.expose(), material.expose());
    }
}

#[test]
fn locate_by_algorithm_length_state_group_and_name() {
    let c = common::client();
    let a = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 128, "loc"))
        .unwrap();
    let b = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 256, "loc"))
        .unwrap();
    c.activate(&b).unwrap();
    let group = |g: &str| LocateFilter {
        object_group: Some(g.into()),
        ..Default::default()
    };
    let mut all = c.locate(&group("loc")).unwrap();
    all.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(all, want);
    let f = LocateFilter {
        algorithm: Some((Algorithm::Aes, Some(256))),
        ..group("loc")
    };
    assert_eq!(c.locate(&f).unwrap(), std::slice::from_ref(&b));
    let f = LocateFilter {
        state: Some(KeyState::Active),
        ..group("loc")
    };
    assert_eq!(c.locate(&f).unwrap(), std::slice::from_ref(&b));
    let f = LocateFilter {
        state: Some(KeyState::PreActive),
        ..group("loc")
    };
    assert_eq!(c.locate(&f).unwrap(), std::slice::from_ref(&a));
    let f = LocateFilter {
        name: Some("ops-AES-128-loc".into()),
        ..Default::default()
    };
    assert_eq!(c.locate(&f).unwrap(), [a]);
    assert!(c.locate(&group("no-such-group")).unwrap().is_empty());
}

#[test]
fn modify_attribute_and_add_attribute() {
    let c = common::client();
    let id = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 128, "mod"))
        .unwrap();
    let asi = Attribute::ApplicationSpecificInformation {
        namespace: "crypta".into(),
        data: "v=1;protect_stop=1234".into(),
    };
    c.modify_attribute(&id, &asi, Some(0)).unwrap();
    let attrs = c.get_attributes(&id).unwrap();
    assert_eq!(attrs.protect_stop().map(|t| t.secs()), Some(1234));
    // PyKMIP 0.11 does not implement Add Attribute: the refusal is reported as such.
    let err = c
        .add_attribute(&id, &Attribute::Name("second".into()))
        .unwrap_err();
    assert!(err.result_reason().is_some(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("KMIP Add Attribute refused by 127.0.0.1:"),
        "{text}"
    );
    // The name was not added.
    assert_eq!(c.get_attributes(&id).unwrap().names, ["ops-AES-128-mod"]);
}

#[test]
fn revoke_then_destroy() {
    let c = common::client();
    let id = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 128, "rev"))
        .unwrap();
    c.activate(&id).unwrap();
    let err = c.destroy(&id).unwrap_err();
    assert!(
        err.result_reason().is_some(),
        "destroying an Active key must be refused: {err}"
    );
    c.revoke(&id, false, Some("rotation")).unwrap();
    assert_eq!(
        c.get_attributes(&id).unwrap().key_state(),
        Some(KeyState::Deactivated)
    );
    assert_eq!(c.get_symmetric_key(&id).unwrap().material.len(), 16);
    c.destroy(&id).unwrap();
    let err = c.get_symmetric_key(&id).unwrap_err();
    assert_eq!(
        err.result_reason(),
        Some(ResultReason::ITEM_NOT_FOUND),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("Get refused by 127.0.0.1:"), "{text}");

    let id = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 128, "rev"))
        .unwrap();
    c.activate(&id).unwrap();
    c.revoke(&id, true, None).unwrap();
    assert_eq!(
        c.get_attributes(&id).unwrap().key_state(),
        Some(KeyState::Compromised)
    );
}

#[test]
fn batched_get_attributes_reports_each_item() {
    let c = common::client();
    let id = c
        .create_symmetric_key(&new_key(Algorithm::Aes, 192, "batch"))
        .unwrap();
    let results = c
        .get_attributes_many(&[id.clone(), "no-such-id-999999".into()])
        .unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().unwrap().id, id);
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(
        err.result_reason(),
        Some(ResultReason::ITEM_NOT_FOUND),
        "{err}"
    );
}
