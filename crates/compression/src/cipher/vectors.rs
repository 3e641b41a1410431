//! The published test vectors of `tests/data/` (see its README for sources), run through
//! crypta's own cipher code: the raw modes over whole blocks, and, for every vector whose key
//! is a valid crypta key, the padded path the chunk codec uses.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
#![allow(clippy::indexing_slicing, reason = "tests index known-good data")]

use std::collections::BTreeMap;

use crypta_keys::{Algorithm, Key, KeyId, KeyInfo, KeyMaterial, KeyState, Timestamp};

use super::{BlockKey, DecryptFailure, PreparedKey, TAG_LEN, ciphertext_len};
use crate::{Mode, Padding, Transformation};

type Record = BTreeMap<String, String>;

fn records(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur = Record::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let (k, v) = line.split_once('=').expect("field = value");
        cur.insert(k.trim().to_string(), v.trim().to_string());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn hex_field(r: &Record, f: &str) -> Vec<u8> {
    hex::decode(r.get(f).map_or("", String::as_str)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// The crypta strength of a key of `len` bytes, if crypta can hold such a key.
fn crypta_strength(alg: Algorithm, len: usize, effective_bits: u32) -> Option<u32> {
    let bits = u32::try_from(len * 8).ok()?;
    let strength = match alg {
        Algorithm::Des => 56,
        Algorithm::DesEde if len == 16 => 112,
        Algorithm::DesEde => 168,
        Algorithm::Rc2 if effective_bits != bits => return None,
        _ => bits,
    };
    (alg.is_valid_strength(strength) && alg.accepts_material_len(strength, len)).then_some(strength)
}

fn crypta_key(alg: Algorithm, strength: u32, material: &[u8]) -> Key {
    let info = KeyInfo {
        id: KeyId::new("vector").unwrap(),
        name: None,
        algorithm: alg,
        strength,
        state: KeyState::Active,
        namespace: None,
        created: Timestamp(0),
        activated: None,
        protect_stop: None,
        deactivated: None,
    };
    Key::new(info, KeyMaterial::from_slice(material)).unwrap()
}

/// Runs every record of `text`; returns (vectors run, vectors also run through a crypta key).
fn run_file(file: &str, text: &str) -> (usize, usize) {
    let (mut run, mut through_key) = (0, 0);
    for r in records(text) {
        let name = format!("{file}: {}", r["name"]);
        let alg: Algorithm = r["algorithm"].parse().unwrap();
        let mode = match r["mode"].as_str() {
            "ECB" => Mode::Ecb,
            "CBC" => Mode::Cbc,
            "GCM" => Mode::Gcm,
            m => panic!("{name}: mode {m}"),
        };
        let (key, iv) = (hex_field(&r, "key"), hex_field(&r, "iv"));
        let (pt, ct) = (hex_field(&r, "plaintext"), hex_field(&r, "ciphertext"));
        let eff = r
            .get("effective_bits")
            .map_or(key.len() as u32 * 8, |e| e.parse().unwrap());
        let t = Transformation {
            algorithm: alg,
            mode,
            padding: if mode == Mode::Gcm {
                Padding::NoPadding
            } else {
                Padding::Pkcs5
            },
        };
        if mode == Mode::Gcm {
            let (aad, tag) = (hex_field(&r, "aad"), hex_field(&r, "tag"));
            check_gcm(&name, t, &key, &iv, &aad, &pt, &ct, &tag);
            run += 1;
            through_key += 1;
            continue;
        }
        // The raw mode, as published: whole blocks, no padding.
        let bk = BlockKey::new(alg, &key, eff).unwrap_or_else(|| panic!("{name}: key refused"));
        let mut out = vec![0u8; pt.len()];
        bk.encrypt_unpadded(mode, &iv, &pt, &mut out).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&ct), "{name}: encrypt");
        let mut back = vec![0u8; ct.len()];
        bk.decrypt_unpadded(mode, &iv, &ct, &mut back).unwrap();
        assert_eq!(back, pt, "{name}: decrypt");
        run += 1;
        // The chunk codec's path: a crypta key, PKCS#5 padding. The padded ciphertext starts
        // with the published one (one more block of padding follows a whole-block message).
        if let Some(strength) = crypta_strength(alg, key.len(), eff) {
            let p = PreparedKey::new(t, &crypta_key(alg, strength, &key)).unwrap();
            let mut padded = vec![0u8; ciphertext_len(t, pt.len())];
            p.encrypt(mode, &iv, &[], &pt, &mut padded).unwrap();
            assert_eq!(padded.len(), ct.len() + alg.block_size(), "{name}");
            assert_eq!(&padded[..ct.len()], &ct[..], "{name}: padded encrypt");
            let mut back = vec![0u8; padded.len()];
            let n = p.decrypt(mode, &iv, &[], &padded, &mut back).unwrap();
            assert_eq!(&back[..n], &pt[..], "{name}: padded decrypt");
            through_key += 1;
        }
    }
    (run, through_key)
}

#[expect(clippy::too_many_arguments, reason = "one GCM vector's fields")]
fn check_gcm(
    name: &str,
    t: Transformation,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    pt: &[u8],
    ct: &[u8],
    tag: &[u8],
) {
    let k = crypta_key(Algorithm::Aes, key.len() as u32 * 8, key);
    let p = PreparedKey::new(t, &k).unwrap();
    let mut sealed = vec![0u8; ciphertext_len(t, pt.len())];
    p.encrypt(Mode::Gcm, iv, aad, pt, &mut sealed).unwrap();
    assert_eq!(hex::encode(&sealed[..pt.len()]), hex::encode(ct), "{name}");
    assert_eq!(hex::encode(&sealed[pt.len()..]), hex::encode(tag), "{name}");
    let mut back = vec![0u8; sealed.len()];
    let n = p.decrypt(Mode::Gcm, iv, aad, &sealed, &mut back).unwrap();
    assert_eq!(&back[..n], pt, "{name}");
    // A flipped bit in the tag, the ciphertext or the AAD fails authentication.
    let mut bad = sealed.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        p.decrypt(Mode::Gcm, iv, aad, &bad, &mut back),
        Err(DecryptFailure::Tag),
        "{name}"
    );
    if !pt.is_empty() {
        let mut bad = sealed.clone();
        bad[0] ^= 0x80;
        assert_eq!(
            p.decrypt(Mode::Gcm, iv, aad, &bad, &mut back),
            Err(DecryptFailure::Tag),
            "{name}"
        );
    }
    let mut aad2 = aad.to_vec();
    aad2.push(0);
    assert_eq!(
        p.decrypt(Mode::Gcm, iv, &aad2, &sealed, &mut back),
        Err(DecryptFailure::Tag),
        "{name}"
    );
    assert_eq!(sealed.len(), pt.len() + TAG_LEN);
}

/// One test per file; the counts pin how many vectors each file has and how many of them
/// are valid crypta keys, so that a vector dropped by a parsing slip fails the test.
macro_rules! vector_files {
    ($($test:ident: $file:literal => ($run:expr, $through_key:expr)),* $(,)?) => {$(
        #[test]
        fn $test() {
            let text = include_str!(concat!("../../tests/data/", $file));
            assert_eq!(run_file($file, text), ($run, $through_key));
        }
    )*};
}

vector_files! {
    aes_fips197_and_sp800_38a: "aes.txt" => (9, 9),
    aes_gcm_spec: "aes_gcm.txt" => (12, 12),
    des_fips81_sp800_17_libdes: "des.txt" => (25, 25),
    desede_sp800_67_sp800_20: "desede.txt" => (17, 17),
    blowfish_schneier: "blowfish.txt" => (56, 56),
    rc2_rfc2268: "rc2.txt" => (8, 3),
}

#[test]
fn padding_check_accepts_only_pkcs5() {
    use super::pkcs5_pad_len;
    assert_eq!(pkcs5_pad_len(&[1, 2, 3, 4, 5, 6, 7, 1]), Some(1));
    assert_eq!(pkcs5_pad_len(&[8; 8]), Some(8));
    assert_eq!(pkcs5_pad_len(&[1, 2, 3, 4, 4, 4, 4, 4]), Some(4));
    assert_eq!(pkcs5_pad_len(&[1, 2, 3, 4, 3, 4, 4, 4]), None);
    assert_eq!(pkcs5_pad_len(&[0; 8]), None);
    assert_eq!(pkcs5_pad_len(&[9; 8]), None);
    assert_eq!(pkcs5_pad_len(&[16; 16]), Some(16));
    assert_eq!(pkcs5_pad_len(&[17; 16]), None);
}
