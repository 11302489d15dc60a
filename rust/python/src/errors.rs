//! Core errors mapped to the exception classes of `br_parquet.errors`, one
//! class per kind, each carrying the SST, key and column of the failure as
//! attributes (the message is built from them on the Python side).
use br_parquet_core::scan::{ScanError, ScanErrorKind};
use br_parquet_core::schema::SchemaError;
use br_parquet_core::sst::SstError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::import_exception!(br_parquet.errors, SstReadError);
pyo3::import_exception!(br_parquet.errors, SstDecodeError);
pyo3::import_exception!(br_parquet.errors, TableInfoError);

/// RocksDB could not open or read `sst` (named as the backup names it).
pub fn sst_error(sst: &str, e: SstError) -> PyErr {
    SstReadError::new_err((
        sst.to_string(),
        named(&e, sst),
        None::<String>,
        None::<String>,
    ))
}

/// RocksDB's message with the local path (often `/proc/self/fd/N`) replaced
/// by the name the user knows the file by.
fn named(e: &SstError, sst: &str) -> String {
    if e.path.is_empty() {
        e.message.clone()
    } else {
        e.message.replace(&e.path, sst)
    }
}

/// An SST that RocksDB read but whose content does not decode.
pub fn scan_error(e: ScanError) -> PyErr {
    let reason = e.reason();
    let key = e.key_hex();
    match e.kind {
        ScanErrorKind::InvalidOptions(_) => PyValueError::new_err(e.to_string()),
        ScanErrorKind::Sst(ref sst) => {
            let reason = named(sst, &e.sst);
            SstReadError::new_err((e.sst, reason, key, e.column))
        }
        ScanErrorKind::Codec(_) | ScanErrorKind::Message(_) => {
            SstDecodeError::new_err((e.sst, reason, key, e.column))
        }
    }
}

/// A `TableInfo` the schema mapper cannot turn into an output schema.
pub fn schema_error(e: SchemaError) -> PyErr {
    TableInfoError::new_err((e.table, e.reason, e.table_id, e.column))
}
