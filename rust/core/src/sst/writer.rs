//! Writing SST files the way TiKV's backup writer does.
use std::path::Path;

use rocksdb::{BlockBasedOptions, ChecksumType, DBCompressionType, Options, SstFileWriter};

use super::SstError;

/// Data-block compression of a written SST (BR asks TiKV for zstd by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SstCompression {
    None,
    Lz4,
    Snappy,
    Zstd,
}

impl SstCompression {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "no" => Some(Self::None),
            "lz4" => Some(Self::Lz4),
            "snappy" => Some(Self::Snappy),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    fn to_rocksdb(self) -> DBCompressionType {
        match self {
            Self::None => DBCompressionType::None,
            Self::Lz4 => DBCompressionType::Lz4,
            Self::Snappy => DBCompressionType::Snappy,
            Self::Zstd => DBCompressionType::Zstd,
        }
    }
}

/// Table options; the defaults are TiKV's for backup SSTs: block-based
/// format_version 2, CRC32c block checksums, 32 KiB blocks, a 10 bits/key
/// bloom filter.
#[derive(Debug, Clone)]
pub struct SstWriteOptions {
    pub compression: SstCompression,
    pub format_version: i32,
    pub block_size: usize,
    /// TiKV enables whole-key filtering on the default CF, not on the write CF.
    pub whole_key_filtering: bool,
}

impl Default for SstWriteOptions {
    fn default() -> Self {
        Self {
            compression: SstCompression::Zstd,
            format_version: 2,
            block_size: 32 << 10,
            whole_key_filtering: true,
        }
    }
}

/// Writes `entries` (strictly ascending keys) to a new SST at `path`.
pub fn write_sst<'a, I>(path: &Path, entries: I, opts: &SstWriteOptions) -> Result<(), SstError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let err = |e: rocksdb::Error| SstError {
        path: path.display().to_string(),
        message: e.into_string(),
    };
    let mut table = BlockBasedOptions::default();
    table.set_format_version(opts.format_version);
    table.set_block_size(opts.block_size);
    table.set_checksum_type(ChecksumType::CRC32c);
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(opts.whole_key_filtering);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options.set_compression_type(opts.compression.to_rocksdb());
    let mut writer = SstFileWriter::create(&options);
    writer.open(path).map_err(err)?;
    for (k, v) in entries {
        writer.put(k, v).map_err(err)?;
    }
    writer.finish().map_err(err)
}
