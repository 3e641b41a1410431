//! The KMIP 1.x tags and enumeration values this crate uses (KMIP 1.2, section 9.1.3).
//! Values checked against PyKMIP 0.11's `kmip/core/enums.py`.

pub const APPLICATION_DATA: u32 = 0x420002;
pub const APPLICATION_NAMESPACE: u32 = 0x420003;
pub const ATTRIBUTE: u32 = 0x420008;
pub const ATTRIBUTE_INDEX: u32 = 0x420009;
pub const ATTRIBUTE_NAME: u32 = 0x42000A;
pub const ATTRIBUTE_VALUE: u32 = 0x42000B;
pub const BATCH_COUNT: u32 = 0x42000D;
pub const BATCH_ITEM: u32 = 0x42000F;
pub const COMPROMISE_OCCURRENCE_DATE: u32 = 0x420021;
pub const CRYPTOGRAPHIC_ALGORITHM: u32 = 0x420028;
pub const CRYPTOGRAPHIC_LENGTH: u32 = 0x42002A;
pub const KEY_BLOCK: u32 = 0x420040;
pub const KEY_FORMAT_TYPE: u32 = 0x420042;
pub const KEY_MATERIAL: u32 = 0x420043;
pub const KEY_VALUE: u32 = 0x420045;
pub const MAXIMUM_ITEMS: u32 = 0x42004F;
pub const NAME_TYPE: u32 = 0x420054;
pub const NAME_VALUE: u32 = 0x420055;
pub const OBJECT_TYPE: u32 = 0x420057;
pub const OPERATION: u32 = 0x42005C;
pub const PROTOCOL_VERSION: u32 = 0x420069;
pub const PROTOCOL_VERSION_MAJOR: u32 = 0x42006A;
pub const PROTOCOL_VERSION_MINOR: u32 = 0x42006B;
pub const QUERY_FUNCTION: u32 = 0x420074;
pub const REQUEST_HEADER: u32 = 0x420077;
pub const REQUEST_MESSAGE: u32 = 0x420078;
pub const REQUEST_PAYLOAD: u32 = 0x420079;
pub const RESPONSE_HEADER: u32 = 0x42007A;
pub const RESPONSE_MESSAGE: u32 = 0x42007B;
pub const RESPONSE_PAYLOAD: u32 = 0x42007C;
pub const RESULT_MESSAGE: u32 = 0x42007D;
pub const RESULT_REASON: u32 = 0x42007E;
pub const RESULT_STATUS: u32 = 0x42007F;
pub const REVOCATION_MESSAGE: u32 = 0x420080;
pub const REVOCATION_REASON: u32 = 0x420081;
pub const REVOCATION_REASON_CODE: u32 = 0x420082;
pub const SYMMETRIC_KEY: u32 = 0x42008F;
pub const TEMPLATE_ATTRIBUTE: u32 = 0x420091;
pub const TIME_STAMP: u32 = 0x420092;
pub const UNIQUE_BATCH_ITEM_ID: u32 = 0x420093;
pub const UNIQUE_IDENTIFIER: u32 = 0x420094;
pub const VENDOR_IDENTIFICATION: u32 = 0x42009D;

/// Object Type: Symmetric Key.
pub const OBJECT_TYPE_SYMMETRIC_KEY: u32 = 2;
/// Key Format Type: Raw.
pub const KEY_FORMAT_RAW: u32 = 1;
/// Key: the byte string inside a Transparent Symmetric Key's Key Material.
pub const KEY: u32 = 0x42003F;
/// Cryptographic Usage Mask: Encrypt | Decrypt.
pub const USAGE_ENCRYPT_DECRYPT: i32 = 0x4 | 0x8;
/// Name Type: Uninterpreted Text String.
pub const NAME_TYPE_TEXT: u32 = 1;
/// Result Status values.
pub const STATUS_SUCCESS: u32 = 0;
/// Revocation Reason Code: Key Compromise.
pub const REVOKE_KEY_COMPROMISE: u32 = 2;
/// Revocation Reason Code: Cessation of Operation.
pub const REVOKE_CESSATION: u32 = 6;
/// Query Function: Query Operations.
pub const QUERY_OPERATIONS: u32 = 1;
/// Query Function: Query Objects.
pub const QUERY_OBJECTS: u32 = 2;
/// Query Function: Query Server Information.
pub const QUERY_SERVER_INFORMATION: u32 = 3;

/// Cryptographic Algorithm values.
pub const ALG_DES: u32 = 0x01;
pub const ALG_3DES: u32 = 0x02;
pub const ALG_AES: u32 = 0x03;
pub const ALG_BLOWFISH: u32 = 0x10;
pub const ALG_RC2: u32 = 0x15;

/// State values.
pub const STATE_PRE_ACTIVE: u32 = 1;
pub const STATE_ACTIVE: u32 = 2;
pub const STATE_DEACTIVATED: u32 = 3;
pub const STATE_COMPROMISED: u32 = 4;
pub const STATE_DESTROYED: u32 = 5;
pub const STATE_DESTROYED_COMPROMISED: u32 = 6;
