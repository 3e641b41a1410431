//! KMIP 1.x request and response messages (KMIP 1.2, sections 6 and 7).

use crypta_keys::Timestamp;

use crate::ttlv::Ttlv;
use crate::ttlv::tags::*;

/// The protocol version crypta speaks: KMIP 1.2 (every attribute it uses exists since 1.0).
pub(crate) const PROTOCOL_VERSION_USED: ProtocolVersion = ProtocolVersion { major: 1, minor: 2 };

/// A KMIP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Major version.
    pub major: i32,
    /// Minor version.
    pub minor: i32,
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl ProtocolVersion {
    pub(crate) fn to_ttlv(self) -> Ttlv {
        Ttlv::structure(
            PROTOCOL_VERSION,
            vec![
                Ttlv::integer(PROTOCOL_VERSION_MAJOR, self.major),
                Ttlv::integer(PROTOCOL_VERSION_MINOR, self.minor),
            ],
        )
    }

    pub(crate) fn from_ttlv(t: &Ttlv) -> Option<Self> {
        Some(ProtocolVersion {
            major: t.child_int(PROTOCOL_VERSION_MAJOR)?,
            minor: t.child_int(PROTOCOL_VERSION_MINOR)?,
        })
    }
}

/// The KMIP operations this crate sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Register,
    Locate,
    Get,
    GetAttributes,
    AddAttribute,
    ModifyAttribute,
    Activate,
    Revoke,
    Destroy,
    Query,
    DiscoverVersions,
}

impl Operation {
    pub(crate) fn code(self) -> u32 {
        match self {
            Operation::Create => 0x01,
            Operation::Register => 0x03,
            Operation::Locate => 0x08,
            Operation::Get => 0x0A,
            Operation::GetAttributes => 0x0B,
            Operation::AddAttribute => 0x0D,
            Operation::ModifyAttribute => 0x0E,
            Operation::Activate => 0x12,
            Operation::Revoke => 0x13,
            Operation::Destroy => 0x14,
            Operation::Query => 0x18,
            Operation::DiscoverVersions => 0x1E,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::Register => "Register",
            Operation::Locate => "Locate",
            Operation::Get => "Get",
            Operation::GetAttributes => "Get Attributes",
            Operation::AddAttribute => "Add Attribute",
            Operation::ModifyAttribute => "Modify Attribute",
            Operation::Activate => "Activate",
            Operation::Revoke => "Revoke",
            Operation::Destroy => "Destroy",
            Operation::Query => "Query",
            Operation::DiscoverVersions => "Discover Versions",
        }
    }

    /// Whether resending the request to another server could create a second object.
    pub(crate) fn creates_objects(self) -> bool {
        matches!(self, Operation::Create | Operation::Register)
    }
}

/// A request message with one batch item per `(operation, payload)`.
pub(crate) fn request(items: &[(Operation, Vec<Ttlv>)], now: Timestamp) -> Ttlv {
    let secs = i64::try_from(now.secs()).unwrap_or(i64::MAX);
    let header = Ttlv::structure(
        REQUEST_HEADER,
        vec![
            PROTOCOL_VERSION_USED.to_ttlv(),
            Ttlv::date_time(TIME_STAMP, secs),
            Ttlv::integer(BATCH_COUNT, i32::try_from(items.len()).unwrap_or(i32::MAX)),
        ],
    );
    let mut message = vec![header];
    for (i, (op, payload)) in items.iter().enumerate() {
        let mut item = vec![Ttlv::enumeration(OPERATION, op.code())];
        if items.len() > 1 {
            // Required in batches of more than one item (KMIP 1.2, 7.2).
            let id = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
            item.push(Ttlv::bytes(UNIQUE_BATCH_ITEM_ID, &id));
        }
        item.push(Ttlv::structure(REQUEST_PAYLOAD, payload.clone()));
        message.push(Ttlv::structure(BATCH_ITEM, item));
    }
    Ttlv::structure(REQUEST_MESSAGE, message)
}

/// One batch item of a response.
#[derive(Debug)]
pub(crate) struct BatchResult {
    pub status: u32,
    pub reason: Option<u32>,
    pub message: Option<String>,
    pub payload: Option<Ttlv>,
}

/// The batch items of a response message, in order.
pub(crate) fn parse_response(msg: Ttlv, expected_items: usize) -> Result<Vec<BatchResult>, String> {
    if msg.tag.0 != RESPONSE_MESSAGE {
        return Err(format!("top-level tag {} is not Response Message", msg.tag));
    }
    let header = msg.child(RESPONSE_HEADER).ok_or("no Response Header")?;
    if header.child(PROTOCOL_VERSION).is_none() {
        return Err("no Protocol Version in the Response Header".into());
    }
    let crate::ttlv::Value::Structure(items) = msg.value else {
        return Err("Response Message is not a structure".into());
    };
    let mut out = Vec::new();
    for item in items.into_iter().filter(|i| i.tag.0 == BATCH_ITEM) {
        let status = item
            .child_enum(RESULT_STATUS)
            .ok_or("a batch item has no Result Status")?;
        let reason = item.child_enum(RESULT_REASON);
        let message = item.child_text(RESULT_MESSAGE).map(String::from);
        let payload = match item.value {
            crate::ttlv::Value::Structure(children) => {
                children.into_iter().find(|c| c.tag.0 == RESPONSE_PAYLOAD)
            }
            _ => None,
        };
        out.push(BatchResult {
            status,
            reason,
            message,
            payload,
        });
    }
    // A server that rejects a whole batched message answers with one failed item.
    let whole_message_error = out.len() == 1
        && expected_items > 1
        && out.first().is_some_and(|i| i.status != STATUS_SUCCESS);
    if out.len() != expected_items && !whole_message_error {
        return Err(format!(
            "{} batch items in the reply to a request of {expected_items}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttlv::{Value, decode};

    #[test]
    fn request_layout() {
        let req = request(
            &[(Operation::Get, vec![Ttlv::text(UNIQUE_IDENTIFIER, "7")])],
            Timestamp::from_secs(1000),
        );
        let back = decode(&req.encode().unwrap()).unwrap();
        let header = back.child(REQUEST_HEADER).unwrap();
        assert_eq!(header.child_int(BATCH_COUNT), Some(1));
        assert_eq!(
            ProtocolVersion::from_ttlv(header.child(PROTOCOL_VERSION).unwrap()),
            Some(PROTOCOL_VERSION_USED)
        );
        let item = back.child(BATCH_ITEM).unwrap();
        assert_eq!(item.child_enum(OPERATION), Some(0x0A));
        assert_eq!(
            item.child(REQUEST_PAYLOAD)
                .unwrap()
                .child_text(UNIQUE_IDENTIFIER),
            Some("7")
        );
    }

    fn response(items: Vec<Ttlv>) -> Ttlv {
        let mut v = vec![Ttlv::structure(
            RESPONSE_HEADER,
            vec![
                PROTOCOL_VERSION_USED.to_ttlv(),
                Ttlv::integer(BATCH_COUNT, 1),
            ],
        )];
        v.extend(items);
        Ttlv::structure(RESPONSE_MESSAGE, v)
    }

    #[test]
    fn parses_success_and_failure_items() {
        let ok = Ttlv::structure(
            BATCH_ITEM,
            vec![
                Ttlv::enumeration(OPERATION, 0x0A),
                Ttlv::enumeration(RESULT_STATUS, 0),
                Ttlv::text(0x54AAAA, "an extension crypta does not know"),
                Ttlv::structure(RESPONSE_PAYLOAD, vec![Ttlv::text(UNIQUE_IDENTIFIER, "1")]),
            ],
        );
        let failed = Ttlv::structure(
            BATCH_ITEM,
            vec![
                Ttlv::enumeration(RESULT_STATUS, 1),
                Ttlv::enumeration(RESULT_REASON, 1),
                Ttlv::text(RESULT_MESSAGE, "Could not locate object: 9"),
            ],
        );
        let items = parse_response(response(vec![ok, failed]), 2).unwrap();
        assert_eq!(items[0].status, 0);
        assert_eq!(
            items[0]
                .payload
                .as_ref()
                .unwrap()
                .child_text(UNIQUE_IDENTIFIER),
            Some("1")
        );
        assert_eq!(items[1].reason, Some(1));
        assert_eq!(
            items[1].message.as_deref(),
            Some("Could not locate object: 9")
        );
        assert!(parse_response(response(vec![]), 1).is_err());
        assert!(parse_response(Ttlv::new(RESPONSE_MESSAGE, Value::Integer(1)), 0).is_err());
        assert!(parse_response(Ttlv::structure(REQUEST_MESSAGE, vec![]), 0).is_err());
    }
}
