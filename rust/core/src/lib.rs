//! The decoding core of br-parquet: TiKV keys and write records, TiDB row
//! formats and value codecs, RocksDB SST access, and Arrow batch building.
//! No Python here; the `_native` binding crate wraps it.

#[cfg(feature = "sst")]
pub mod sst;
pub mod checksum;
pub mod table_info;
pub mod schema;
pub mod error;
pub mod number;
pub mod memcomparable;
pub mod keys;
pub mod write_cf;
pub mod datum;
pub mod decimal;
pub mod time;
pub mod json;
pub mod row_v1;
pub mod row_v2;
pub mod column;
pub mod slot;
#[cfg(feature = "sst")]
pub mod scan;
