//! The decoding core of br-parquet: TiKV keys and write records, TiDB row
//! formats and value codecs, RocksDB SST access, and Arrow batch building.
//! No Python here; the `_native` binding crate wraps it.

pub mod checksum;
pub mod column;
pub mod datum;
pub mod decimal;
pub mod error;
pub mod json;
pub mod keys;
pub mod memcomparable;
pub mod number;
pub mod row_v1;
pub mod row_v2;
#[cfg(feature = "sst")]
pub mod scan;
pub mod schema;
pub mod slot;
#[cfg(feature = "sst")]
pub mod sst;
pub mod table_info;
pub mod time;
pub mod write_cf;
