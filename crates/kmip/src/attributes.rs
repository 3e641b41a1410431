//! KMIP attributes: building them for requests and reading them from Get Attributes.

use crypta_keys::{Algorithm, KeyState, Timestamp};

use crate::ttlv::tags::*;
use crate::ttlv::{Ttlv, Value};

/// The Application Specific Information namespace where crypta records what PyKMIP-like
/// servers cannot store (Protect Stop Date, Activation Date).
pub const CRYPTA_APP_NAMESPACE: &str = "crypta";

/// An attribute crypta can set with Create, Register, Add Attribute or Modify Attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    /// Name (as an uninterpreted text string).
    Name(String),
    /// Object Group (crypta's `key_keyspace` namespace).
    ObjectGroup(String),
    /// Application Specific Information.
    ApplicationSpecificInformation {
        /// Application Namespace.
        namespace: String,
        /// Application Data.
        data: String,
    },
    /// Protect Stop Date.
    ProtectStopDate(Timestamp),
    /// Activation Date.
    ActivationDate(Timestamp),
    /// Deactivation Date.
    DeactivationDate(Timestamp),
    /// Cryptographic Usage Mask.
    CryptographicUsageMask(i32),
    /// A custom attribute (`x-...` for clients) with a text value.
    Custom {
        /// Its name, e.g. `x-crypta-protect-stop`.
        name: String,
        /// Its value.
        value: String,
    },
}

impl Attribute {
    /// The KMIP attribute name.
    pub fn name(&self) -> &str {
        match self {
            Attribute::Name(_) => "Name",
            Attribute::ObjectGroup(_) => "Object Group",
            Attribute::ApplicationSpecificInformation { .. } => "Application Specific Information",
            Attribute::ProtectStopDate(_) => "Protect Stop Date",
            Attribute::ActivationDate(_) => "Activation Date",
            Attribute::DeactivationDate(_) => "Deactivation Date",
            Attribute::CryptographicUsageMask(_) => "Cryptographic Usage Mask",
            Attribute::Custom { name, .. } => name,
        }
    }

    fn value(&self) -> Ttlv {
        let v = ATTRIBUTE_VALUE;
        match self {
            Attribute::Name(n) => Ttlv::structure(
                v,
                vec![
                    Ttlv::text(NAME_VALUE, n.clone()),
                    Ttlv::enumeration(NAME_TYPE, NAME_TYPE_TEXT),
                ],
            ),
            Attribute::ObjectGroup(g) => Ttlv::text(v, g.clone()),
            Attribute::ApplicationSpecificInformation { namespace, data } => Ttlv::structure(
                v,
                vec![
                    Ttlv::text(APPLICATION_NAMESPACE, namespace.clone()),
                    Ttlv::text(APPLICATION_DATA, data.clone()),
                ],
            ),
            Attribute::ProtectStopDate(t)
            | Attribute::ActivationDate(t)
            | Attribute::DeactivationDate(t) => {
                Ttlv::date_time(v, i64::try_from(t.secs()).unwrap_or(i64::MAX))
            }
            Attribute::CryptographicUsageMask(m) => Ttlv::integer(v, *m),
            Attribute::Custom { value, .. } => Ttlv::text(v, value.clone()),
        }
    }

    /// The `Attribute` structure, with an Attribute Index when given.
    pub(crate) fn to_ttlv(&self, index: Option<i32>) -> Ttlv {
        let mut items = vec![Ttlv::text(ATTRIBUTE_NAME, self.name())];
        if let Some(i) = index {
            items.push(Ttlv::integer(ATTRIBUTE_INDEX, i));
        }
        items.push(self.value());
        Ttlv::structure(ATTRIBUTE, items)
    }
}

/// An `Attribute` structure with an enumeration value (used by Create and Locate).
pub(crate) fn enum_attribute(name: &str, v: u32) -> Ttlv {
    Ttlv::structure(
        ATTRIBUTE,
        vec![
            Ttlv::text(ATTRIBUTE_NAME, name),
            Ttlv::enumeration(ATTRIBUTE_VALUE, v),
        ],
    )
}

/// An `Attribute` structure with an integer value.
pub(crate) fn int_attribute(name: &str, v: i32) -> Ttlv {
    Ttlv::structure(
        ATTRIBUTE,
        vec![
            Ttlv::text(ATTRIBUTE_NAME, name),
            Ttlv::integer(ATTRIBUTE_VALUE, v),
        ],
    )
}

/// The KMIP Cryptographic Algorithm of a crypta algorithm.
pub(crate) fn kmip_algorithm(a: Algorithm) -> u32 {
    match a {
        Algorithm::Des => ALG_DES,
        Algorithm::DesEde => ALG_3DES,
        Algorithm::Blowfish => ALG_BLOWFISH,
        Algorithm::Rc2 => ALG_RC2,
        _ => ALG_AES,
    }
}

/// The Cryptographic Length on the wire for a crypta strength: DES is 64 (with parity bits),
/// DESede 112 and 168 are 128 and 192 (two- and three-key, with parity bits).
pub(crate) fn wire_length(a: Algorithm, strength: u32) -> i32 {
    let bits = match (a, strength) {
        (Algorithm::Des, _) => 64,
        (Algorithm::DesEde, 112) => 128,
        (Algorithm::DesEde, _) => 192,
        (_, s) => s,
    };
    i32::try_from(bits).unwrap_or(i32::MAX)
}

/// The crypta algorithm and strength of a KMIP algorithm and wire length, if crypta has one.
pub(crate) fn from_wire(alg: u32, length: i32) -> Option<(Algorithm, u32)> {
    let len = u32::try_from(length).ok()?;
    let out = match alg {
        ALG_AES => (Algorithm::Aes, len),
        ALG_DES if len == 64 || len == 56 => (Algorithm::Des, 56),
        ALG_3DES if len == 128 || len == 112 => (Algorithm::DesEde, 112),
        ALG_3DES if len == 192 || len == 168 => (Algorithm::DesEde, 168),
        ALG_BLOWFISH => (Algorithm::Blowfish, len),
        ALG_RC2 => (Algorithm::Rc2, len),
        _ => return None,
    };
    out.0.is_valid_strength(out.1).then_some(out)
}

/// The crypta state of a KMIP State value.
pub(crate) fn state(v: u32) -> Option<KeyState> {
    Some(match v {
        STATE_PRE_ACTIVE => KeyState::PreActive,
        STATE_ACTIVE => KeyState::Active,
        STATE_DEACTIVATED => KeyState::Deactivated,
        STATE_COMPROMISED => KeyState::Compromised,
        STATE_DESTROYED | STATE_DESTROYED_COMPROMISED => KeyState::Destroyed,
        _ => return None,
    })
}

/// The KMIP State value of a crypta state.
pub(crate) fn kmip_state(s: KeyState) -> u32 {
    match s {
        KeyState::PreActive => STATE_PRE_ACTIVE,
        KeyState::Active => STATE_ACTIVE,
        KeyState::Deactivated => STATE_DEACTIVATED,
        KeyState::Compromised => STATE_COMPROMISED,
        _ => STATE_DESTROYED,
    }
}

/// What crypta records in its Application Specific Information entry: the dates a server
/// may not keep. Written as `v=1;activated=SECS;protect_stop=SECS` (absent fields omitted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CryptaRecord {
    pub activated: Option<Timestamp>,
    pub protect_stop: Option<Timestamp>,
}

impl CryptaRecord {
    pub(crate) fn encode(&self) -> String {
        let mut s = String::from("v=1");
        if let Some(t) = self.activated {
            s.push_str(&format!(";activated={}", t.secs()));
        }
        if let Some(t) = self.protect_stop {
            s.push_str(&format!(";protect_stop={}", t.secs()));
        }
        s
    }

    pub(crate) fn decode(s: &str) -> Self {
        let mut r = CryptaRecord::default();
        for part in s.split(';') {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let t = v.trim().parse::<u64>().ok().map(Timestamp::from_secs);
            match k.trim() {
                "activated" => r.activated = t,
                "protect_stop" => r.protect_stop = t,
                _ => {}
            }
        }
        r
    }
}

/// The attributes of one object, as Get Attributes returned them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// Unique Identifier.
    pub id: String,
    /// Object Type (2 is Symmetric Key).
    pub object_type: Option<u32>,
    /// Cryptographic Algorithm (KMIP value).
    pub algorithm: Option<u32>,
    /// Cryptographic Length in bits, as on the wire.
    pub length: Option<i32>,
    /// State (KMIP value).
    pub state: Option<u32>,
    /// Names.
    pub names: Vec<String>,
    /// Object Groups.
    pub object_groups: Vec<String>,
    /// Initial Date (when the server made or registered it).
    pub initial_date: Option<Timestamp>,
    /// Activation Date, if the server keeps it.
    pub activation_date: Option<Timestamp>,
    /// Protect Stop Date, if the server keeps it.
    pub protect_stop_date: Option<Timestamp>,
    /// Deactivation Date, if the server keeps it.
    pub deactivation_date: Option<Timestamp>,
    /// Application Specific Information, in index order: (namespace, data).
    pub application_info: Vec<(String, String)>,
    /// Other text-valued attributes (custom ones included): (name, value).
    pub other: Vec<(String, String)>,
}

fn date(t: &Ttlv) -> Option<Timestamp> {
    t.as_date_time()
        .and_then(|s| u64::try_from(s).ok())
        .map(Timestamp::from_secs)
}

impl ObjectAttributes {
    /// Reads the `Attribute` structures of a Get Attributes payload.
    pub(crate) fn from_payload(payload: &Ttlv) -> Self {
        let mut a = ObjectAttributes {
            id: payload
                .child_text(UNIQUE_IDENTIFIER)
                .unwrap_or_default()
                .to_string(),
            ..Default::default()
        };
        for attr in payload.children(ATTRIBUTE) {
            let (Some(name), Some(value)) =
                (attr.child_text(ATTRIBUTE_NAME), attr.child(ATTRIBUTE_VALUE))
            else {
                continue;
            };
            match name {
                "Object Type" => a.object_type = value.as_enum(),
                "Cryptographic Algorithm" => a.algorithm = value.as_enum(),
                "Cryptographic Length" => a.length = value.as_int(),
                "State" => a.state = value.as_enum(),
                "Name" => a
                    .names
                    .extend(value.child_text(NAME_VALUE).map(String::from)),
                "Object Group" => a.object_groups.extend(value.as_text().map(String::from)),
                "Initial Date" => a.initial_date = date(value),
                "Activation Date" => a.activation_date = date(value),
                "Protect Stop Date" => a.protect_stop_date = date(value),
                "Deactivation Date" => a.deactivation_date = date(value),
                "Application Specific Information" => {
                    if let (Some(ns), Some(data)) = (
                        value.child_text(APPLICATION_NAMESPACE),
                        value.child_text(APPLICATION_DATA),
                    ) {
                        a.application_info.push((ns.to_string(), data.to_string()));
                    }
                }
                other => {
                    if let Value::TextString(s) = &value.value {
                        a.other.push((other.to_string(), s.clone()));
                    }
                }
            }
        }
        a
    }

    /// The crypta algorithm and strength, if the object has ones crypta knows.
    pub fn crypta_algorithm(&self) -> Option<(Algorithm, u32)> {
        from_wire(self.algorithm?, self.length?)
    }

    /// The state as crypta names it.
    pub fn key_state(&self) -> Option<KeyState> {
        self.state.and_then(state)
    }

    /// The index (among Application Specific Information instances) and record of crypta's
    /// entry, if the object has one.
    pub(crate) fn crypta_record(&self) -> Option<(usize, CryptaRecord)> {
        self.application_info
            .iter()
            .enumerate()
            .find(|(_, (ns, _))| ns == CRYPTA_APP_NAMESPACE)
            .map(|(i, (_, data))| (i, CryptaRecord::decode(data)))
    }

    /// The Protect Stop Date: the server's attribute if it keeps one, else crypta's record.
    pub fn protect_stop(&self) -> Option<Timestamp> {
        self.protect_stop_date
            .or_else(|| self.crypta_record().and_then(|(_, r)| r.protect_stop))
    }

    /// The Activation Date: the server's attribute if it keeps one, else crypta's record.
    pub fn activated(&self) -> Option<Timestamp> {
        self.activation_date
            .or_else(|| self.crypta_record().and_then(|(_, r)| r.activated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_lengths() {
        assert_eq!(wire_length(Algorithm::DesEde, 112), 128);
        assert_eq!(wire_length(Algorithm::DesEde, 168), 192);
        assert_eq!(wire_length(Algorithm::Des, 56), 64);
        assert_eq!(wire_length(Algorithm::Aes, 256), 256);
        assert_eq!(from_wire(ALG_3DES, 128), Some((Algorithm::DesEde, 112)));
        assert_eq!(from_wire(ALG_3DES, 192), Some((Algorithm::DesEde, 168)));
        assert_eq!(from_wire(ALG_DES, 64), Some((Algorithm::Des, 56)));
        assert_eq!(from_wire(ALG_AES, 100), None);
        assert_eq!(from_wire(0x04, 2048), None); // RSA
        for alg in Algorithm::ALL {
            for s in [56, 112, 128, 168, 192, 256, 40, 448] {
                if alg.is_valid_strength(s) {
                    assert_eq!(
                        from_wire(kmip_algorithm(alg), wire_length(alg, s)),
                        Some((alg, s))
                    );
                }
            }
        }
    }

    #[test]
    fn crypta_record_round_trip() {
        let r = CryptaRecord {
            activated: Some(Timestamp::from_secs(10)),
            protect_stop: Some(Timestamp::from_secs(20)),
        };
        assert_eq!(CryptaRecord::decode(&r.encode()), r);
        assert_eq!(CryptaRecord::decode("v=1"), CryptaRecord::default());
        assert_eq!(
            CryptaRecord::decode("garbage;;protect_stop=x"),
            CryptaRecord::default()
        );
    }

    #[test]
    fn reads_attributes_and_prefers_server_dates() {
        let payload = Ttlv::structure(
            RESPONSE_PAYLOAD,
            vec![
                Ttlv::text(UNIQUE_IDENTIFIER, "42"),
                enum_attribute("Cryptographic Algorithm", ALG_AES),
                int_attribute("Cryptographic Length", 256),
                enum_attribute("State", STATE_ACTIVE),
                Attribute::Name("k1".into()).to_ttlv(Some(0)),
                Attribute::ObjectGroup("ks".into()).to_ttlv(Some(0)),
                Attribute::ApplicationSpecificInformation {
                    namespace: "other".into(),
                    data: "x".into(),
                }
                .to_ttlv(Some(0)),
                Attribute::ApplicationSpecificInformation {
                    namespace: CRYPTA_APP_NAMESPACE.into(),
                    data: "v=1;protect_stop=100;activated=50".into(),
                }
                .to_ttlv(Some(1)),
                Attribute::Custom {
                    name: "x-foo".into(),
                    value: "bar".into(),
                }
                .to_ttlv(None),
            ],
        );
        let a = ObjectAttributes::from_payload(&payload);
        assert_eq!(a.id, "42");
        assert_eq!(a.crypta_algorithm(), Some((Algorithm::Aes, 256)));
        assert_eq!(a.key_state(), Some(KeyState::Active));
        assert_eq!(a.names, ["k1"]);
        assert_eq!(a.object_groups, ["ks"]);
        assert_eq!(a.crypta_record().unwrap().0, 1);
        assert_eq!(a.protect_stop(), Some(Timestamp::from_secs(100)));
        assert_eq!(a.activated(), Some(Timestamp::from_secs(50)));
        assert_eq!(a.other, [("x-foo".to_string(), "bar".to_string())]);
        let mut b = a.clone();
        b.protect_stop_date = Some(Timestamp::from_secs(7));
        assert_eq!(b.protect_stop(), Some(Timestamp::from_secs(7)));
    }
}
