//! Errors of the byte-level decoders. They describe what was wrong with the
//! bytes only; callers add the file, key and column they were decoding.

use thiserror::Error;

/// A decoding failure in one of the byte-level codecs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The input ended before `what` was complete.
    #[error("truncated {what}: needs {needed} bytes, {available} available")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// A varint ran past 10 bytes or past 64 bits.
    #[error("{what}: varint overflows 64 bits")]
    VarintOverflow { what: &'static str },
    /// A compact integer whose length is not 1, 2, 4 or 8.
    #[error("{what}: compact integer of {len} bytes (expected 1, 2, 4 or 8)")]
    BadCompactLength { what: &'static str, len: usize },
    /// A memcomparable group whose marker says more than 8 padding bytes.
    #[error("memcomparable group at byte {offset}: bad marker {marker:#04x}")]
    BadMemcomparableMarker { offset: usize, marker: u8 },
    /// A memcomparable group whose padding bytes are not the pad value.
    #[error("memcomparable group at byte {offset}: non-zero padding")]
    BadMemcomparablePadding { offset: usize },
    /// A datum flag byte that is not one TiDB writes.
    #[error("unknown datum flag {flag:#04x}")]
    UnknownDatumFlag { flag: u8 },
    /// A write-CF record type byte other than `P`, `D`, `L`, `R`.
    #[error("unknown write type byte {byte:#04x}")]
    UnknownWriteType { byte: u8 },
    /// A write-CF tagged field this decoder does not know.
    #[error("unknown write-CF field tag {tag:#04x} at byte {offset}")]
    UnknownWriteTag { tag: u8, offset: usize },
    /// A binary JSON type code that TiDB does not define.
    #[error("unknown JSON type code {code:#04x}")]
    UnknownJsonType { code: u8 },
    /// Binary JSON nested deeper than the decoder allows.
    #[error("JSON nested deeper than {limit} levels")]
    JsonTooDeep { limit: usize },
    /// Bytes left over where the format defines an exact end.
    #[error("{what}: {count} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, count: usize },
    /// A value whose bytes are present but not valid for its format.
    #[error("invalid {what}: {detail}")]
    InvalidValue { what: &'static str, detail: String },
}

impl CodecError {
    #[cold]
    pub(crate) fn truncated(what: &'static str, needed: usize, available: usize) -> Self {
        CodecError::Truncated {
            what,
            needed,
            available,
        }
    }

    #[cold]
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        CodecError::InvalidValue {
            what,
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, CodecError>;
