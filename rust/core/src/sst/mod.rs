//! RocksDB SST files: reading through RocksDB's own `SstFileReader` (via a
//! small C++ shim) and writing through `SstFileWriter`, both from the RocksDB
//! bundled by `librocksdb-sys`.
mod ffi;
mod reader;
mod writer;

pub use reader::{SstEntries, SstReader};
pub use writer::{write_sst, SstCompression, SstWriteOptions};

/// An error from RocksDB while opening, scanning or writing an SST.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SstError {
    pub path: String,
    pub message: String,
}
