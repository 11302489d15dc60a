//! One backup SST (its write-CF file plus, when present, the default-CF file
//! of the same range) decoded into Arrow record batches, per table.
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};

use crate::checksum::KvChecksum;
use crate::column::{ColumnBuilder, ValueStats};
use crate::datum;
use crate::error::CodecError;
use crate::keys::{self, Handle, RawKey};
use crate::number::{write_compact_i64, write_compact_u64};
use crate::row_v1::{self, RowV1};
use crate::row_v2::{LayoutCache, Position, RowV2};
use crate::schema::{HandleKind, MissingRule, OutputField, TableSchema, OP_DELETE, OP_PUT};
use crate::slot::{datum_to_slot, default_to_slot};
use crate::sst::{SstEntries, SstError, SstReader};
use crate::write_cf::{WriteRecord, WriteType};

/// What a scan saw besides rows, for the run summary and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Entries read from the write-CF file.
    pub write_kvs: u64,
    /// Rows emitted, tombstones included.
    pub rows: u64,
    /// Index entries skipped (never decoded as rows).
    pub index_kvs: u64,
    /// Record entries of tables that were not selected.
    pub unselected_kvs: u64,
    /// Delete records (incremental backups), whether emitted as tombstones
    /// or skipped.
    pub deletes: u64,
    /// Delete records emitted as tombstone rows (tables with
    /// `ChangeColumns::op`); also counted in `rows` and `deletes`.
    pub delete_rows: u64,
    /// Lock and Rollback records (never in a backup; counted if seen).
    pub locks_and_rollbacks: u64,
    /// Row values read from the default-CF file.
    pub default_cf_values: u64,
    /// Zero dates written as NULL (typed mode).
    pub zero_dates_nulled: u64,
    /// Record entries of selected tables skipped, whatever their write type,
    /// because the handle is outside `ScanOptions::handle_range`.
    pub out_of_range: u64,
    /// Entries skipped, whatever their key, because their raw key is outside
    /// the scan's clip range (`SstScan::with_clip_range`).
    pub clipped: u64,
}

/// A decode failure with the SST, key and column it happened at.
#[derive(Debug)]
pub struct ScanError {
    pub sst: String,
    pub key: Option<Vec<u8>>,
    pub column: Option<String>,
    pub kind: ScanErrorKind,
}

#[derive(Debug)]
pub enum ScanErrorKind {
    Codec(CodecError),
    Sst(SstError),
    Message(String),
    /// The scan's options do not fit its tables (a caller error).
    InvalidOptions(String),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sst)?;
        if let Some(key) = &self.key {
            write!(f, ": key {}", hex(key))?;
        }
        if let Some(col) = &self.column {
            write!(f, ": column {col}")?;
        }
        write!(f, ": {}", self.reason())
    }
}

impl ScanError {
    /// What was wrong, without the SST, key and column.
    pub fn reason(&self) -> String {
        match &self.kind {
            ScanErrorKind::Codec(e) => e.to_string(),
            ScanErrorKind::Sst(e) => e.message.clone(),
            ScanErrorKind::Message(m) | ScanErrorKind::InvalidOptions(m) => m.clone(),
        }
    }

    /// The key as lower-case hex, as messages print it.
    pub fn key_hex(&self) -> Option<String> {
        self.key.as_deref().map(hex)
    }
}

/// At most the first 32 bytes as hex, for values that may be long.
fn hex_prefix(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    if bytes.len() <= SHOWN {
        hex(bytes)
    } else {
        format!("{}… ({} bytes)", hex(&bytes[..SHOWN]), bytes.len())
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl std::error::Error for ScanError {}

enum HandleBuilder {
    Int(Int64Builder),
    Common(BinaryBuilder),
}

/// Rows of one table accumulated until a batch is full. The pseudo columns
/// have a builder only when the table's layout outputs them.
struct TableBatch {
    schema: Arc<TableSchema>,
    table_ids: Option<Int64Builder>,
    handles: Option<HandleBuilder>,
    ops: Option<StringBuilder>,
    commit_ts: Option<Int64Builder>,
    columns: Vec<ColumnBuilder>,
    /// Column positions in v2 rows of the last layout seen.
    layout: LayoutCache,
    rows: usize,
}

impl TableBatch {
    fn new(schema: Arc<TableSchema>, capacity: usize) -> Self {
        let layout = schema.layout();
        let table_ids = layout
            .contains(&OutputField::TableId)
            .then(|| Int64Builder::with_capacity(capacity));
        let handles = layout
            .contains(&OutputField::Handle)
            .then(|| match schema.handle {
                HandleKind::Int => HandleBuilder::Int(Int64Builder::with_capacity(capacity)),
                HandleKind::Common => {
                    HandleBuilder::Common(BinaryBuilder::with_capacity(capacity, capacity * 16))
                }
            });
        let ops = layout
            .contains(&OutputField::Op)
            .then(|| StringBuilder::with_capacity(capacity, capacity * OP_DELETE.len()));
        let commit_ts = layout
            .contains(&OutputField::CommitTs)
            .then(|| Int64Builder::with_capacity(capacity));
        let columns = schema
            .columns
            .iter()
            .map(|c| ColumnBuilder::new(Arc::new(c.clone()), capacity))
            .collect();
        Self {
            table_ids,
            handles,
            ops,
            commit_ts,
            columns,
            layout: LayoutCache::default(),
            rows: 0,
            schema,
        }
    }

    fn finish(&mut self) -> Result<RecordBatch, String> {
        let schema = Arc::clone(&self.schema);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.layout().len());
        for field in schema.layout() {
            arrays.push(match (field, &mut self.table_ids, &mut self.handles) {
                (OutputField::TableId, Some(b), _) => Arc::new(b.finish()),
                (OutputField::Handle, _, Some(HandleBuilder::Int(b))) => Arc::new(b.finish()),
                (OutputField::Handle, _, Some(HandleBuilder::Common(b))) => Arc::new(b.finish()),
                (OutputField::Op, _, _) => match self.ops.as_mut() {
                    Some(b) => Arc::new(b.finish()),
                    None => return Err(format!("no builder for output field {field:?}")),
                },
                (OutputField::CommitTs, _, _) => match self.commit_ts.as_mut() {
                    Some(b) => Arc::new(b.finish()),
                    None => return Err(format!("no builder for output field {field:?}")),
                },
                (OutputField::Column(i), _, _) => self.columns[*i].finish(),
                (field, _, _) => return Err(format!("no builder for output field {field:?}")),
            });
        }
        self.rows = 0;
        RecordBatch::try_new(schema.arrow_schema(), arrays).map_err(|e| e.to_string())
    }
}

/// Per-table decoding state that does not change from row to row.
struct TableState {
    schema: Arc<TableSchema>,
    /// Slot bytes of each column's origin default, where it has one.
    defaults: Vec<Option<Result<Vec<u8>, CodecError>>>,
    batch: Option<TableBatch>,
}

/// Integer handles `lo <= handle < hi`; a missing bound is unbounded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HandleRange {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
}

impl HandleRange {
    #[inline]
    pub fn contains(&self, handle: i64) -> bool {
        self.lo.map_or(true, |lo| lo <= handle) && self.hi.map_or(true, |hi| handle < hi)
    }
}

/// The raw-key range `[start, end)` of a data file, from its `File` entry in
/// `backupmeta`; an empty `end` is unbounded. Every key of the file lies in it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    fn contains_raw(&self, raw: &[u8]) -> bool {
        self.start.as_slice() <= raw && (self.end.is_empty() || raw < self.end.as_slice())
    }

    /// Whether the raw key (with or, as some BR versions record ranges,
    /// without its API V2 keyspace prefix) lies in the range.
    pub fn contains(&self, raw: &[u8], keyspace: Option<u32>) -> bool {
        self.contains_raw(raw) || (keyspace.is_some() && self.contains_raw(&raw[4..]))
    }
}

/// Options of a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Rows per emitted record batch.
    pub batch_rows: usize,
    /// Only rows whose integer handle is in this range; for tables with
    /// integer handles only (`SstScan::open` refuses clustered tables).
    pub handle_range: Option<HandleRange>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            batch_rows: 8192,
            handle_range: None,
        }
    }
}

/// The checksums of the files of a scan, computed as TiKV computes
/// `File.crc64xor`/`total_kvs`/`total_bytes` (`br-metadata.md` §6.2): each
/// logical KV once, `raw_key ‖ user value`, in the file holding its value.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileChecksums {
    /// Write-CF file: every entry except Puts whose value is in the default
    /// CF; Delete (and Lock/Rollback) records count with an empty value.
    pub write: KvChecksum,
    /// Default-CF file (when the scan has one): the values of the write-CF
    /// Puts without a short value, each looked up once; TiKV writes no other.
    pub default: Option<KvChecksum>,
}

/// Decodes the rows of the selected tables from one SST, batch by batch.
pub struct SstScan {
    name: String,
    write: SstEntries,
    default: Option<(SstEntries, String)>,
    /// `Some` while checksums are computed.
    checksums: Option<FileChecksums>,
    /// `Some` when keys are checked against their file's range.
    key_range: Option<KeyRange>,
    /// `Some` when only keys in this range are decoded.
    clip_range: Option<KeyRange>,
    /// Rows emitted per table (index into `tables`).
    table_rows: Vec<u64>,
    tables: Vec<TableState>,
    by_physical_id: HashMap<i64, usize>,
    /// The last table id looked up in `by_physical_id` and its answer:
    /// consecutive keys nearly always share their table.
    last_table: Option<(i64, Option<usize>)>,
    options: ScanOptions,
    stats: ScanStats,
    values: ValueStats,
    key_buf: Vec<u8>,
    default_key: Vec<u8>,
    scratch: Vec<u8>,
    exhausted: bool,
}

impl SstScan {
    /// `name` is how errors refer to the SST (its name in the backup).
    pub fn open(
        name: &str,
        write: &SstReader,
        default: Option<&SstReader>,
        tables: Vec<Arc<TableSchema>>,
        options: ScanOptions,
    ) -> Result<Self, ScanError> {
        let err = |sst: &str, kind| ScanError {
            sst: sst.to_string(),
            key: None,
            column: None,
            kind,
        };
        if options.handle_range.is_some() {
            if let Some(t) = tables.iter().find(|t| t.handle == HandleKind::Common) {
                return Err(err(
                    name,
                    ScanErrorKind::InvalidOptions(format!(
                        "table {} has a clustered (common) handle; a handle range needs integer handles",
                        t.name
                    )),
                ));
            }
        }
        let mut by_physical_id = HashMap::new();
        let mut states = Vec::with_capacity(tables.len());
        for (i, schema) in tables.into_iter().enumerate() {
            for pid in &schema.physical_ids {
                by_physical_id.insert(*pid, i);
            }
            let mut defaults = Vec::with_capacity(schema.columns.len());
            for col in &schema.columns {
                // Converted once; a bad default is an error only for rows
                // that actually need it.
                defaults.push(match &col.missing {
                    MissingRule::OriginDefault(v) => Some(default_to_slot(col, v)),
                    _ => None,
                });
            }
            states.push(TableState {
                schema,
                defaults,
                batch: None,
            });
        }
        let write_entries = write
            .entries()
            .map_err(|e| err(name, ScanErrorKind::Sst(e)))?;
        let default = match default {
            Some(r) => Some((
                r.entries()
                    .map_err(|e| err(r.path(), ScanErrorKind::Sst(e)))?,
                r.path().to_string(),
            )),
            None => None,
        };
        let table_rows = vec![0; states.len()];
        Ok(Self {
            name: name.to_string(),
            write: write_entries,
            default,
            checksums: None,
            key_range: None,
            clip_range: None,
            table_rows,
            tables: states,
            by_physical_id,
            last_table: None,
            options: ScanOptions {
                batch_rows: options.batch_rows.max(1),
                ..options
            },
            stats: ScanStats::default(),
            values: ValueStats::default(),
            key_buf: Vec::with_capacity(64),
            default_key: Vec::with_capacity(64),
            scratch: Vec::with_capacity(64),
            exhausted: false,
        })
    }

    /// Computes the files' checksums while scanning (off by default). Must be
    /// called before the first `next_batch`; every write-CF entry's record is
    /// then parsed and every long value looked up, decoded as a row or not.
    pub fn with_checksums(mut self, on: bool) -> Self {
        self.checksums = on.then(|| FileChecksums {
            write: KvChecksum::default(),
            default: self.default.as_ref().map(|_| KvChecksum::default()),
        });
        self
    }

    /// Checks every write-CF key against the file's raw-key range (off by
    /// default): a key outside it is an error, not a row of another table.
    pub fn with_key_range(mut self, range: KeyRange) -> Self {
        self.key_range = Some(range);
        self
    }

    /// Decodes only entries whose raw key lies in `range` (off by default);
    /// the others are skipped, whatever their key, and counted in
    /// `ScanStats::clipped`. Checksums still cover them. Independent of
    /// `with_key_range`: several scans can read disjoint parts of one file.
    pub fn with_clip_range(mut self, range: KeyRange) -> Self {
        self.clip_range = Some(range);
        self
    }

    /// How errors refer to the default-CF file (default: its path).
    pub fn with_default_name(mut self, name: &str) -> Self {
        if let Some((_, default_name)) = self.default.as_mut() {
            *default_name = name.to_string();
        }
        self
    }

    /// The files' checksums: `None` unless enabled, or before the scan has
    /// returned its last batch (`next_batch` gave `None`).
    pub fn checksums(&self) -> Option<FileChecksums> {
        if self.exhausted {
            self.checksums
        } else {
            None
        }
    }

    /// Rows emitted so far per table, indexed like the `tables` of `open`.
    pub fn table_rows(&self) -> &[u64] {
        &self.table_rows
    }

    pub fn stats(&self) -> ScanStats {
        ScanStats {
            zero_dates_nulled: self.values.zero_dates_nulled,
            ..self.stats
        }
    }

    /// The next full (or, at the end, final partial) batch and the index of
    /// its table in the `tables` given to `open`; `None` when done.
    pub fn next_batch(&mut self) -> Result<Option<(usize, RecordBatch)>, ScanError> {
        loop {
            if self.exhausted {
                return self.flush_one();
            }
            if let Some(full) = self.step()? {
                return Ok(Some(full));
            }
        }
    }

    fn flush_one(&mut self) -> Result<Option<(usize, RecordBatch)>, ScanError> {
        for (i, t) in self.tables.iter_mut().enumerate() {
            if let Some(b) = t.batch.as_mut().filter(|b| b.rows > 0) {
                let batch = b.finish().map_err(|m| ScanError {
                    sst: self.name.clone(),
                    key: None,
                    column: None,
                    kind: ScanErrorKind::Message(m),
                })?;
                return Ok(Some((i, batch)));
            }
        }
        Ok(None)
    }

    /// Handles one write-CF entry; returns a batch when one became full.
    fn step(&mut self) -> Result<Option<(usize, RecordBatch)>, ScanError> {
        let Self {
            name,
            write,
            default,
            checksums,
            key_range,
            clip_range,
            table_rows,
            tables,
            by_physical_id,
            last_table,
            options,
            stats,
            values,
            key_buf,
            default_key,
            scratch,
            exhausted,
        } = self;
        let sst_err = |kind| ScanError {
            sst: name.clone(),
            key: None,
            column: None,
            kind,
        };
        let Some((key, value)) = write
            .next_entry()
            .map_err(|e| sst_err(ScanErrorKind::Sst(e)))?
        else {
            *exhausted = true;
            return Ok(None);
        };
        stats.write_kvs += 1;
        let key_err = |column: Option<String>, kind| ScanError {
            sst: name.clone(),
            key: Some(key.to_vec()),
            column,
            kind,
        };
        let decoded = keys::decode_key(key, key_buf).map_err(|e| {
            key_err(
                None,
                ScanErrorKind::Message(format!(
                    "not a TiKV data key ({e}); expected 'z' + memcomparable raw key + 8-byte ts"
                )),
            )
        })?;
        if let Some(range) = key_range.as_ref() {
            if !range.contains(decoded.raw, decoded.keyspace) {
                return Err(key_err(
                    None,
                    ScanErrorKind::Message(format!(
                        "raw key {} is outside the file's range [{}, {}) in backupmeta; \
                         expected every key of the file inside it",
                        hex(decoded.raw),
                        hex(&range.start),
                        if range.end.is_empty() {
                            "unbounded".to_string()
                        } else {
                            hex(&range.end)
                        }
                    )),
                ));
            }
        }
        let clipped = clip_range
            .as_ref()
            .is_some_and(|r| !r.contains(decoded.raw, decoded.keyspace));
        // Where the row goes if it is decoded; the stats count the others.
        let target = match decoded.kind {
            _ if clipped => {
                stats.clipped += 1;
                None
            }
            RawKey::Record { table_id, handle } => match match *last_table {
                Some((id, idx)) if id == table_id => idx,
                _ => {
                    let idx = by_physical_id.get(&table_id).copied();
                    *last_table = Some((table_id, idx));
                    idx
                }
            } {
                None => {
                    stats.unselected_kvs += 1;
                    None
                }
                Some(idx) => match (options.handle_range, handle) {
                    (Some(range), Handle::Int(h)) if !range.contains(h) => {
                        stats.out_of_range += 1;
                        None
                    }
                    _ => Some((idx, table_id, handle)),
                },
            },
            RawKey::Index { .. } => {
                stats.index_kvs += 1;
                None
            }
            RawKey::Other(raw) => {
                // Data files of a TiDB backup hold rows and index entries only.
                return Err(key_err(
                    None,
                    ScanErrorKind::Message(format!(
                        "raw key {} is neither a row (t{{table}}_r…) nor an index entry \
                         (t{{table}}_i…) of a table",
                        hex(raw)
                    )),
                ));
            }
        };
        // Without checksums, entries not decoded cost no record parse and no
        // value lookup. With them every entry counts, index entries and other
        // tables' keys included, each in the file that holds its value.
        if target.is_none() && checksums.is_none() {
            return Ok(None);
        }
        let record = WriteRecord::parse(value).map_err(|e| {
            key_err(
                None,
                ScanErrorKind::Message(format!(
                    "write-CF record {}: {e}; expected a Put (P), Delete (D), Lock (L) or \
                     Rollback (R) record",
                    hex_prefix(value)
                )),
            )
        })?;
        let row: Option<&[u8]> = match (record.write_type, record.short_value) {
            (WriteType::Put, Some(v)) => {
                if let Some(sums) = checksums.as_mut() {
                    sums.write.update(decoded.raw, v);
                }
                Some(v)
            }
            (WriteType::Put, None) => {
                let Some((entries, default_name)) = default.as_mut() else {
                    return Err(key_err(
                        None,
                        ScanErrorKind::Message(format!(
                            "Put record without a short value (start_ts {}), so its row is \
                             expected in the default-CF file, but the range has none",
                            record.start_ts
                        )),
                    ));
                };
                // Same encoded user key, with start_ts instead of commit_ts.
                default_key.clear();
                default_key.extend_from_slice(&key[..key.len() - 8]);
                default_key.extend_from_slice(&(!record.start_ts).to_be_bytes());
                // Lookups come in key order: mostly a step or two forward.
                let v = match entries.seek_forward(default_key).map_err(|e| ScanError {
                    sst: default_name.clone(),
                    key: Some(default_key.clone()),
                    column: None,
                    kind: ScanErrorKind::Sst(e),
                })? {
                    Some((k, v)) if k == default_key.as_slice() => v,
                    _ => {
                        return Err(key_err(
                            None,
                            ScanErrorKind::Message(format!(
                                "Put record without a short value (start_ts {}): expected its \
                                 row in the default-CF file {default_name} under key {}, \
                                 which is not there",
                                record.start_ts,
                                hex(default_key)
                            )),
                        ));
                    }
                };
                if let Some(sum) = checksums.as_mut().and_then(|s| s.default.as_mut()) {
                    sum.update(decoded.raw, v);
                }
                if target.is_some() {
                    stats.default_cf_values += 1;
                }
                Some(v)
            }
            (write_type, _) => {
                if let Some(sums) = checksums.as_mut() {
                    sums.write.update(decoded.raw, b"");
                }
                let Some((idx, _, _)) = target else {
                    return Ok(None);
                };
                if write_type != WriteType::Delete {
                    stats.locks_and_rollbacks += 1;
                    return Ok(None);
                }
                stats.deletes += 1;
                if !tables[idx].schema.change.op {
                    return Ok(None);
                }
                None // a tombstone row
            }
        };
        let Some((idx, table_id, handle)) = target else {
            return Ok(None);
        };
        let table = &mut tables[idx];
        let batch = table
            .batch
            .get_or_insert_with(|| TableBatch::new(Arc::clone(&table.schema), options.batch_rows));
        let key_columns = KeyColumns {
            table_id,
            handle,
            commit_ts: decoded.ts,
            deleted: row.is_none(),
        };
        match row {
            Some(row) => append_row(batch, &table.defaults, key_columns, row, values, scratch),
            None => append_tombstone(batch, key_columns),
        }
        .map_err(|(col, e)| key_err(col, e))?;
        if row.is_none() {
            stats.delete_rows += 1;
        }
        stats.rows += 1;
        table_rows[idx] += 1;
        if batch.rows >= options.batch_rows {
            let full = batch
                .finish()
                .map_err(|m| key_err(None, ScanErrorKind::Message(m)))?;
            return Ok(Some((idx, full)));
        }
        Ok(None)
    }
}

type RowError = (Option<String>, ScanErrorKind);

enum RowView<'a> {
    V2(RowV2<'a>),
    V1(RowV1<'a>),
}

fn append_row(
    batch: &mut TableBatch,
    defaults: &[Option<Result<Vec<u8>, CodecError>>],
    key: KeyColumns<'_>,
    row: &[u8],
    values: &mut ValueStats,
    scratch: &mut Vec<u8>,
) -> Result<(), RowError> {
    let whole = |e: CodecError| {
        let format = if row_v1::is_v1(row) { 1 } else { 2 };
        (
            None,
            ScanErrorKind::Message(format!(
                "row value {} is not a valid row (format v{format}): {e}",
                hex_prefix(row)
            )),
        )
    };
    let view = if row_v1::is_v1(row) {
        RowView::V1(RowV1::parse(row).map_err(whole)?)
    } else {
        RowView::V2(RowV2::parse(row).map_err(whole)?)
    };
    append_key_columns(batch, key)?;
    let handle = key.handle;
    let positions: &[Position] = match &view {
        RowView::V2(r) => batch
            .layout
            .positions(r, batch.schema.columns.iter().map(|c| c.id)),
        RowView::V1(_) => &[],
    };
    for (i, (col, spec)) in batch
        .columns
        .iter_mut()
        .zip(batch.schema.columns.iter())
        .enumerate()
    {
        let fail = |kind| (Some(spec.name.clone()), kind);
        let stored: Option<Option<&[u8]>> = match &view {
            RowView::V2(r) => match positions.get(i) {
                Some(Position::Value(at)) => Some(Some(r.value(*at))),
                Some(Position::Null) => Some(None),
                Some(Position::Missing) | None => None,
            },
            RowView::V1(r) => match r
                .lookup_datum(spec.id)
                .map_err(|e| fail(ScanErrorKind::Codec(e)))?
            {
                Some(d) => {
                    let present = datum_to_slot(&d, spec, scratch)
                        .map_err(|e| fail(ScanErrorKind::Codec(e)))?;
                    Some(present.then_some(scratch.as_slice()))
                }
                None => None,
            },
        };
        let slot: Option<&[u8]> = match stored {
            Some(s) => s,
            None => match &spec.missing {
                MissingRule::IntHandle => {
                    let Handle::Int(h) = handle else {
                        return Err(fail(ScanErrorKind::Message(
                            "integer PK but clustered handle".into(),
                        )));
                    };
                    scratch.clear();
                    if spec.unsigned() {
                        write_compact_u64(scratch, h as u64);
                    } else {
                        write_compact_i64(scratch, h);
                    }
                    Some(scratch.as_slice())
                }
                MissingRule::CommonHandle(n) => {
                    let Handle::Common(h) = handle else {
                        return Err(fail(ScanErrorKind::Message(
                            "clustered PK but integer handle".into(),
                        )));
                    };
                    let d = datum::iter(h)
                        .nth(*n)
                        .ok_or_else(|| {
                            fail(ScanErrorKind::Message(format!(
                                "clustered handle has no datum {n}"
                            )))
                        })?
                        .map_err(|e| fail(ScanErrorKind::Codec(e)))?;
                    let present = datum_to_slot(&d, spec, scratch)
                        .map_err(|e| fail(ScanErrorKind::Codec(e)))?;
                    present.then_some(scratch.as_slice())
                }
                MissingRule::OriginDefault(_) => match &defaults[i] {
                    Some(Ok(slot)) => Some(slot.as_slice()),
                    Some(Err(e)) => return Err(fail(ScanErrorKind::Codec(e.clone()))),
                    None => None,
                },
                MissingRule::Null => None,
                MissingRule::Error => {
                    return Err(fail(ScanErrorKind::Message(
                        "NOT NULL column is missing from the row and has no default".into(),
                    )))
                }
            },
        };
        match slot {
            Some(s) => col
                .append_slot(s, values)
                .map_err(|e| fail(ScanErrorKind::Codec(e)))?,
            None if spec.nullable => col.append_null(),
            None => {
                return Err(fail(ScanErrorKind::Message(
                    "NULL in a NOT NULL column".into(),
                )));
            }
        }
    }
    batch.rows += 1;
    Ok(())
}

/// What a row's pseudo and change columns hold: facts of its write-CF key
/// and record.
#[derive(Clone, Copy)]
struct KeyColumns<'a> {
    table_id: i64,
    handle: Handle<'a>,
    /// The ts of the write-CF key.
    commit_ts: u64,
    /// A tombstone of a Delete record.
    deleted: bool,
}

/// Appends the pseudo and change columns of a row (those the layout
/// outputs), after checking that the key's handle is of the table's kind.
fn append_key_columns(batch: &mut TableBatch, key: KeyColumns<'_>) -> Result<(), RowError> {
    if !matches!(
        (batch.schema.handle, key.handle),
        (HandleKind::Int, Handle::Int(_)) | (HandleKind::Common, Handle::Common(_))
    ) {
        return Err((
            None,
            ScanErrorKind::Message(match batch.schema.handle {
                HandleKind::Int => format!(
                    "the key has a clustered (common) handle, but table {} has integer \
                     handles; expected 8 handle bytes after _r",
                    batch.schema.name
                ),
                HandleKind::Common => format!(
                    "the key has an integer handle, but table {} is clustered; expected \
                     the primary key's datums after _r",
                    batch.schema.name
                ),
            }),
        ));
    }
    if let Some(b) = &mut batch.commit_ts {
        // TSOs are far below 2^63; a larger ts is a corrupt key.
        let ts = i64::try_from(key.commit_ts).map_err(|_| {
            (
                None,
                ScanErrorKind::Message(format!(
                    "commit ts {} of the key does not fit _tidb_commit_ts (int64); \
                     expected a TSO below 2^63",
                    key.commit_ts
                )),
            )
        })?;
        b.append_value(ts);
    }
    match (&mut batch.handles, key.handle) {
        (Some(HandleBuilder::Int(b)), Handle::Int(h)) => b.append_value(h),
        (Some(HandleBuilder::Common(b)), Handle::Common(h)) => b.append_value(h),
        _ => {} // `_tidb_handle` is not output
    }
    if let Some(b) = &mut batch.table_ids {
        b.append_value(key.table_id);
    }
    if let Some(b) = &mut batch.ops {
        b.append_value(if key.deleted { OP_DELETE } else { OP_PUT });
    }
    Ok(())
}

/// A Delete record's row: its key columns, NULL in every table column (all
/// nullable when the schema has `ChangeColumns::op`).
fn append_tombstone(batch: &mut TableBatch, key: KeyColumns<'_>) -> Result<(), RowError> {
    append_key_columns(batch, key)?;
    for col in &mut batch.columns {
        col.append_null();
    }
    batch.rows += 1;
    Ok(())
}

#[cfg(all(test, feature = "sst"))]
mod tests {
    use super::*;
    use crate::keys::{encode_key, encode_record_key_int, DataPrefix};
    use crate::sst::{write_sst, SstWriteOptions};

    const START_TS: u64 = 445_063_339_262_394_000;
    const COMMIT_TS: u64 = START_TS + 5;

    fn data_key(raw: &[u8], ts: u64) -> Vec<u8> {
        let mut k = Vec::new();
        encode_key(raw, ts, DataPrefix::Z, &mut k);
        k
    }

    fn record(write_type: WriteType, short: Option<&[u8]>) -> Vec<u8> {
        let mut rec = WriteRecord::new(write_type, START_TS);
        rec.short_value = short;
        let mut out = Vec::new();
        rec.encode(&mut out).unwrap();
        out
    }

    /// Every entry counts once, in the file that holds its value, whether or
    /// not the scan decodes it (no table is selected here).
    #[test]
    fn checksums_count_each_kv_once_in_its_file() {
        let dir = std::env::temp_dir().join(format!("scan-checksum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rec_short = Vec::new();
        encode_record_key_int(7, 1, &mut rec_short);
        let mut rec_long = Vec::new();
        encode_record_key_int(7, 2, &mut rec_long);
        let mut rec_deleted = Vec::new();
        encode_record_key_int(7, 3, &mut rec_deleted);
        let index =
            b"t\x80\x00\x00\x00\x00\x00\x00\x07_i\x80\x00\x00\x00\x00\x00\x00\x01x".to_vec();
        let long = vec![b'v'; 300];
        let mut write_entries = [
            (
                data_key(&rec_short, COMMIT_TS),
                record(WriteType::Put, Some(b"row1")),
            ),
            (data_key(&rec_long, COMMIT_TS), record(WriteType::Put, None)),
            (
                data_key(&rec_deleted, COMMIT_TS),
                record(WriteType::Delete, None),
            ),
            (
                data_key(&index, COMMIT_TS),
                record(WriteType::Put, Some(b"0")),
            ),
        ];
        write_entries.sort();
        let default_entries = [(data_key(&rec_long, START_TS), long.clone())];
        let (write_path, default_path) = (dir.join("w.sst"), dir.join("d.sst"));
        let opts = SstWriteOptions::default();
        write_sst(
            &write_path,
            write_entries.iter().map(|(k, v)| (&k[..], &v[..])),
            &opts,
        )
        .unwrap();
        write_sst(
            &default_path,
            default_entries.iter().map(|(k, v)| (&k[..], &v[..])),
            &opts,
        )
        .unwrap();
        let write = SstReader::open(&write_path).unwrap();
        let default = SstReader::open(&default_path).unwrap();
        let mut scan = SstScan::open("w.sst", &write, Some(&default), vec![], Default::default())
            .unwrap()
            .with_checksums(true);
        assert!(scan.next_batch().unwrap().is_none());
        let mut want_write = KvChecksum::default();
        want_write.update(&rec_short, b"row1");
        want_write.update(&rec_deleted, b"");
        want_write.update(&index, b"0");
        let mut want_default = KvChecksum::default();
        want_default.update(&rec_long, &long);
        assert_eq!(
            scan.checksums(),
            Some(FileChecksums {
                write: want_write,
                default: Some(want_default),
            })
        );
        assert_eq!(scan.stats().unselected_kvs, 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
