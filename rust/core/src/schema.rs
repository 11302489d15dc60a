//! The output contract: how a TiDB table becomes an Arrow schema
//! (`docs/type-mapping.md`), in the `compat` and `typed` modes, and how each
//! column is filled when a row does not store it.
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use serde::Deserialize;

use crate::table_info::{ColumnInfo, TableInfo, STATE_PUBLIC};

/// MySQL type codes of `FieldType.Tp`.
pub mod tp {
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const DURATION: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const VECTOR_FLOAT32: u8 = 0xe1;
    pub const JSON: u8 = 0xf5;
    pub const NEWDECIMAL: u8 = 0xf6;
    pub const ENUM: u8 = 0xf7;
    pub const SET: u8 = 0xf8;
    pub const TINY_BLOB: u8 = 0xf9;
    pub const MEDIUM_BLOB: u8 = 0xfa;
    pub const LONG_BLOB: u8 = 0xfb;
    pub const BLOB: u8 = 0xfc;
    pub const VAR_STRING: u8 = 0xfd;
    pub const STRING: u8 = 0xfe;
}

/// Column flag bits of `FieldType.Flag`.
pub mod flag {
    pub const NOT_NULL: u32 = 1;
    pub const PRI_KEY: u32 = 2;
    pub const UNSIGNED: u32 = 32;
}

/// The two output modes of `--type-mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeMapping {
    /// The original design's mapping: strings for everything but signed
    /// integers, floats and raw bytes.
    Compat,
    /// Native Parquet logical types where they are safe for lakehouse engines.
    Typed,
}

impl TypeMapping {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compat" => Some(Self::Compat),
            "typed" => Some(Self::Typed),
            _ => None,
        }
    }
}

/// What a column's Arrow array holds; one variant per distinct rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Int8,
    Int16,
    Int32,
    Int64,
    /// Unsigned integers as decimal digits (compat).
    UintText,
    /// BIGINT UNSIGNED as decimal128(20, 0) (typed).
    UintDecimal128,
    Float32,
    Float64,
    /// DECIMAL as text with exactly `scale` fraction digits.
    DecimalText,
    Decimal128 {
        precision: u8,
        scale: i8,
    },
    DateText,
    Date32,
    DatetimeText,
    /// timestamp[us]; `utc` marks TIMESTAMP columns (stored in UTC).
    TimestampMicros {
        utc: bool,
    },
    TimeText,
    Utf8,
    Binary,
    JsonText,
    EnumText,
    EnumDict,
    SetText,
    /// BIT(n) as ceil(n/8) big-endian bytes.
    Bit {
        width: u8,
    },
    VectorText,
    VectorList,
}

impl OutKind {
    pub fn data_type(self) -> DataType {
        match self {
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::UintDecimal128 => DataType::Decimal128(20, 0),
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
            Self::Date32 => DataType::Date32,
            Self::TimestampMicros { utc: false } => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            Self::TimestampMicros { utc: true } => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            Self::Binary | Self::Bit { .. } => DataType::Binary,
            Self::EnumDict => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            Self::VectorList => {
                DataType::List(Arc::new(Field::new("item", DataType::Float32, false)))
            }
            Self::UintText
            | Self::DecimalText
            | Self::DateText
            | Self::DatetimeText
            | Self::TimeText
            | Self::Utf8
            | Self::JsonText
            | Self::EnumText
            | Self::SetText
            | Self::VectorText => DataType::Utf8,
        }
    }
}

/// Where a value comes from when the row value does not store the column.
#[derive(Debug, Clone, PartialEq)]
pub enum MissingRule {
    /// The integer handle in the key (`pk_is_handle`).
    IntHandle,
    /// The `n`-th datum of the clustered (common) handle.
    CommonHandle(usize),
    /// The column's `origin_default`, as stored in the TableInfo JSON
    /// (`origin_default_bit` bytes for BIT columns).
    OriginDefault(DefaultValue),
    /// NULL: a nullable column with no default.
    Null,
    /// Nothing can fill it: a NOT NULL column with no default. Absence in a
    /// row is a decode error.
    Error,
}

/// An `origin_default` before conversion to the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Text(String),
    Number(serde_json::Number),
    Bytes(Vec<u8>),
}

/// One output column: the TiDB column facts the decoder needs plus its
/// output kind.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub id: i64,
    pub name: String,
    pub tp: u8,
    pub flag: u32,
    pub flen: i64,
    pub decimal: i64,
    pub binary: bool,
    pub elems: Vec<String>,
    /// Column `version` ≥ 1: TIMESTAMP defaults are in UTC.
    pub version: u64,
    pub kind: OutKind,
    pub nullable: bool,
    pub missing: MissingRule,
}

impl ColumnSpec {
    pub fn unsigned(&self) -> bool {
        self.flag & flag::UNSIGNED != 0
    }

    pub fn not_null(&self) -> bool {
        self.flag & flag::NOT_NULL != 0
    }
}

/// How rows of a table are identified in record keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// An int64 handle: `_tidb_rowid` or the integer primary key.
    Int,
    /// A clustered (common) handle: comparable datums of the PK columns.
    Common,
}

/// One field of a table's output batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputField {
    /// `_tidb_table_id`: the physical table (partition) id of the key.
    TableId,
    /// `_tidb_handle`: the key's handle.
    Handle,
    /// `_tidb_op`: `put` or `delete` (`ChangeColumns::op`).
    Op,
    /// `_tidb_commit_ts`: the write record's commit ts (`ChangeColumns::commit_ts`).
    CommitTs,
    /// `TableSchema::columns[i]`.
    Column(usize),
}

/// The change columns of a table's output, for incremental backups and
/// chains; both off by default.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChangeColumns {
    /// Output `_tidb_op` and turn Delete records into tombstone rows (the
    /// key columns set, every table column NULL); every table column is
    /// then nullable.
    pub op: bool,
    /// Output `_tidb_commit_ts`, the commit ts of each row's write record.
    pub commit_ts: bool,
}

/// Everything the decoder needs about one table.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub table_id: i64,
    pub name: String,
    pub physical_ids: Vec<i64>,
    pub handle: HandleKind,
    /// The columns decoded from each row: all public columns in definition
    /// order, or only the projected ones in the requested order.
    pub columns: Vec<ColumnSpec>,
    pub mapping: TypeMapping,
    /// Kept by `project`; `op` also decides whether scans emit tombstones.
    pub change: ChangeColumns,
    layout: Vec<OutputField>,
    arrow: SchemaRef,
}

/// Why a table's output schema cannot be derived: the table (and column)
/// of the `TableInfo` at fault, and what was expected of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// `TableInfo.name.O`; empty when the JSON has none.
    pub table: String,
    /// `TableInfo.id`, when the JSON has one.
    pub table_id: Option<i64>,
    /// The column's name (or `#n`, its position in `cols`, when it has none).
    pub column: Option<String>,
    pub reason: String,
}

impl SchemaError {
    fn new(table: &TableInfo, column: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            table: table.name.o.clone(),
            table_id: Some(table.id),
            column: column.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.table.is_empty(), self.table_id) {
            (false, Some(id)) => write!(f, "table {} (id {id})", self.table)?,
            (false, None) => write!(f, "table {}", self.table)?,
            (true, Some(id)) => write!(f, "table id {id}")?,
            (true, None) => write!(f, "TableInfo")?,
        }
        if let Some(column) = &self.column {
            write!(f, ": column {column}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for SchemaError {}

/// Names of the pseudo columns filled from the key (first in the default
/// layout).
pub const TABLE_ID_COLUMN: &str = "_tidb_table_id";
pub const HANDLE_COLUMN: &str = "_tidb_handle";
/// Names of the change columns, after the key's in the default layout.
pub const OP_COLUMN: &str = "_tidb_op";
pub const COMMIT_TS_COLUMN: &str = "_tidb_commit_ts";
/// `_tidb_op` values.
pub const OP_PUT: &str = "put";
pub const OP_DELETE: &str = "delete";

impl TableSchema {
    pub fn from_json(json: &[u8], mapping: TypeMapping) -> Result<Self, SchemaError> {
        Self::new(&parse_table_info(json)?, mapping)
    }

    pub fn new(info: &TableInfo, mapping: TypeMapping) -> Result<Self, SchemaError> {
        check_columns(info)?;
        let table = info.name.o.clone();
        let handle = if info.is_common_handle {
            HandleKind::Common
        } else {
            HandleKind::Int
        };
        // Offsets (in `cols`) of the clustered PK columns, in handle order.
        let common_pk: Vec<usize> = if info.is_common_handle {
            let idx = info.primary_index().ok_or_else(|| {
                SchemaError::new(
                    info,
                    None,
                    "is_common_handle is set but no primary index is listed",
                )
            })?;
            idx.idx_cols
                .iter()
                .filter(|c| c.length == -1)
                .map(|c| c.offset)
                .collect()
        } else {
            Vec::new()
        };
        let mut public: Vec<(usize, &ColumnInfo)> = info
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state == STATE_PUBLIC && !is_virtual(c))
            .collect();
        public.sort_by_key(|(i, c)| (c.offset, *i));
        let mut columns = Vec::with_capacity(public.len());
        for (pos, col) in public {
            let ft = &col.field_type;
            let kind = out_kind(col, mapping).ok_or_else(|| {
                SchemaError::new(
                    info,
                    Some(&col.name.o),
                    format!(
                        "unsupported type code {} ({:#04x}); expected a TiDB column type",
                        ft.tp, ft.tp
                    ),
                )
            })?;
            let not_null = ft.flag & flag::NOT_NULL != 0;
            let temporal = matches!(ft.tp, tp::DATE | tp::NEWDATE | tp::DATETIME | tp::TIMESTAMP);
            // Typed mode writes zero dates as NULL, so those columns are nullable.
            let nullable = !not_null || (mapping == TypeMapping::Typed && temporal);
            let offset_in_pk = info
                .primary_index()
                .filter(|_| info.is_common_handle)
                .and_then(|idx| {
                    idx.idx_cols
                        .iter()
                        .position(|c| c.offset == pos && c.length == -1)
                });
            let missing = if info.pk_is_handle && ft.flag & flag::PRI_KEY != 0 && is_integer(ft.tp)
            {
                MissingRule::IntHandle
            } else if let Some(n) = offset_in_pk.filter(|_| common_pk.contains(&pos)) {
                MissingRule::CommonHandle(n)
            } else if let Some(d) = origin_default(col) {
                MissingRule::OriginDefault(d)
            } else if not_null {
                MissingRule::Error
            } else {
                MissingRule::Null
            };
            columns.push(ColumnSpec {
                id: col.id,
                name: col.name.o.clone(),
                tp: ft.tp,
                flag: ft.flag,
                flen: ft.flen,
                decimal: ft.decimal,
                binary: is_binary_charset(col),
                elems: ft.elems.clone(),
                version: col.version,
                kind,
                nullable,
                missing,
            });
        }
        let change = ChangeColumns::default();
        let layout = default_layout(change, columns.len());
        Ok(Self {
            table_id: info.id,
            name: table,
            physical_ids: info.physical_ids(),
            handle,
            arrow: build_arrow_schema(handle, change, &columns, &layout),
            columns,
            mapping,
            change,
            layout,
        })
    }

    /// This table with the change columns `change`, in the default layout:
    /// `_tidb_table_id`, `_tidb_handle`, then `_tidb_op` and
    /// `_tidb_commit_ts` when on, then every column of `columns`. Refused
    /// when a table column already has a change column's name.
    pub fn with_change_columns(self, change: ChangeColumns) -> Result<Self, SchemaError> {
        for (on, name) in [(change.op, OP_COLUMN), (change.commit_ts, COMMIT_TS_COLUMN)] {
            if on && self.columns.iter().any(|c| c.name == name) {
                return Err(SchemaError {
                    table: self.name.clone(),
                    table_id: Some(self.table_id),
                    column: Some(name.to_owned()),
                    reason: format!(
                        "the table has a column named like the change column {name}; \
                         expected no table column of that name"
                    ),
                });
            }
        }
        let layout = default_layout(change, self.columns.len());
        Ok(Self {
            arrow: build_arrow_schema(self.handle, change, &self.columns, &layout),
            change,
            layout,
            ..self
        })
    }

    /// The Arrow schema of every batch (and Parquet file) of this table.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(&self.arrow)
    }

    /// What each field of the output batches holds, in output order; every
    /// column appears exactly once.
    pub fn layout(&self) -> &[OutputField] {
        &self.layout
    }

    /// This table restricted to the output columns `names`, in that order.
    /// The pseudo columns `_tidb_table_id` and `_tidb_handle` (and the change
    /// columns that are on) are output only when named; columns not named are
    /// dropped, so scans never decode them. The change options are kept.
    pub fn project(&self, names: &[&str]) -> Result<TableSchema, SchemaError> {
        let invalid = |reason: String| SchemaError {
            table: self.name.clone(),
            table_id: Some(self.table_id),
            column: None,
            reason,
        };
        if names.is_empty() {
            return Err(invalid("a projection needs at least one column".into()));
        }
        let mut columns = Vec::with_capacity(names.len());
        let mut layout = Vec::with_capacity(names.len());
        for (i, &name) in names.iter().enumerate() {
            if names[..i].contains(&name) {
                return Err(invalid(format!("column {name:?} is projected twice")));
            }
            layout.push(match name {
                TABLE_ID_COLUMN => OutputField::TableId,
                HANDLE_COLUMN => OutputField::Handle,
                OP_COLUMN if self.change.op => OutputField::Op,
                COMMIT_TS_COLUMN if self.change.commit_ts => OutputField::CommitTs,
                _ => {
                    let Some(col) = self.columns.iter().find(|c| c.name == name) else {
                        let available: Vec<&str> = [TABLE_ID_COLUMN, HANDLE_COLUMN]
                            .into_iter()
                            .chain(self.change.op.then_some(OP_COLUMN))
                            .chain(self.change.commit_ts.then_some(COMMIT_TS_COLUMN))
                            .chain(self.columns.iter().map(|c| c.name.as_str()))
                            .collect();
                        return Err(invalid(format!(
                            "no column {name:?} to project; available: {}",
                            available.join(", ")
                        )));
                    };
                    columns.push(col.clone());
                    OutputField::Column(columns.len() - 1)
                }
            });
        }
        Ok(Self {
            table_id: self.table_id,
            name: self.name.clone(),
            physical_ids: self.physical_ids.clone(),
            handle: self.handle,
            arrow: build_arrow_schema(self.handle, self.change, &columns, &layout),
            columns,
            mapping: self.mapping,
            change: self.change,
            layout,
        })
    }
}

/// Parses `TableInfo` JSON; on failure says which table and, when a column
/// is at fault, which column (by name, or `#n` for its position in `cols`).
pub fn parse_table_info(json: &[u8]) -> Result<TableInfo, SchemaError> {
    let whole = |reason: String| SchemaError {
        table: String::new(),
        table_id: None,
        column: None,
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| whole(format!("not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(whole("expected a JSON object".into()));
    };
    let context = SchemaError {
        table: object
            .get("name")
            .and_then(|n| n.get("O"))
            .and_then(|o| o.as_str())
            .unwrap_or_default()
            .to_owned(),
        table_id: object.get("id").and_then(serde_json::Value::as_i64),
        column: None,
        reason: String::new(),
    };
    TableInfo::deserialize(&value).map_err(|e| {
        // Find the column at fault, so that the message can name it.
        let cols = object.get("cols").and_then(|c| c.as_array());
        for (i, col) in cols.into_iter().flatten().enumerate() {
            if let Err(col_err) = ColumnInfo::deserialize(col) {
                let name = col
                    .get("name")
                    .and_then(|n| n.get("O"))
                    .and_then(|o| o.as_str())
                    .map_or_else(|| format!("#{i}"), str::to_owned);
                return SchemaError {
                    column: Some(name),
                    reason: format!("invalid ColumnInfo: {col_err}"),
                    ..context.clone()
                };
            }
        }
        SchemaError {
            reason: format!("invalid TableInfo: {e}"),
            ..context.clone()
        }
    })
}

/// The largest `flen` MySQL allows (LONGBLOB / LONGTEXT: 2^32 - 1 bytes).
const MAX_FLEN: i64 = u32::MAX as i64;
/// MySQL's limits of DECIMAL precision and scale.
const MAX_DECIMAL_PRECISION: i64 = 65;
const MAX_DECIMAL_SCALE: i64 = 30;
/// TiDB's `UnspecifiedLength`: a length or scale the column does not set.
const UNSPECIFIED: i64 = -1;

/// Rejects column definitions no TiDB writes, which the decoder would
/// otherwise read wrongly: a column ID or name used twice, lengths and
/// scales beyond MySQL's limits, a SET of more than 64 members.
fn check_columns(info: &TableInfo) -> Result<(), SchemaError> {
    let mut ids: std::collections::HashMap<i64, &str> = std::collections::HashMap::new();
    let mut names: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for col in &info.cols {
        let name = col.name.o.as_str();
        let fail = |reason: String| Err(SchemaError::new(info, Some(name), reason));
        if let Some(other) = ids.insert(col.id, name) {
            return fail(format!(
                "column id {} is also the id of column {other}; expected unique column ids",
                col.id
            ));
        }
        if col.state != STATE_PUBLIC || is_virtual(col) {
            continue; // never decoded
        }
        if let Some(other) = names.insert(name.to_lowercase(), name) {
            return fail(format!(
                "the name is also that of column {other}; expected unique column names"
            ));
        }
        let ft = &col.field_type;
        if !(UNSPECIFIED..=MAX_FLEN).contains(&ft.flen) {
            return fail(format!("length (flen) {} outside -1..={MAX_FLEN}", ft.flen));
        }
        match ft.tp {
            tp::NEWDECIMAL => {
                if ft.flen == 0 || ft.flen > MAX_DECIMAL_PRECISION {
                    return fail(format!(
                        "DECIMAL precision {} outside 1..={MAX_DECIMAL_PRECISION}",
                        ft.flen
                    ));
                }
                let max_scale = if ft.flen > 0 {
                    MAX_DECIMAL_SCALE.min(ft.flen)
                } else {
                    MAX_DECIMAL_SCALE
                };
                if !(UNSPECIFIED..=max_scale).contains(&ft.decimal) {
                    return fail(format!(
                        "DECIMAL scale {} outside 0..={max_scale}",
                        ft.decimal
                    ));
                }
            }
            tp::BIT if ft.flen == 0 || ft.flen > 64 => {
                return fail(format!("BIT length {} outside 1..=64", ft.flen));
            }
            tp::DATETIME | tp::TIMESTAMP | tp::DURATION
                if !(UNSPECIFIED..=6).contains(&ft.decimal) =>
            {
                return fail(format!(
                    "fractional seconds precision {} outside 0..=6",
                    ft.decimal
                ));
            }
            tp::SET if ft.elems.len() > 64 => {
                return fail(format!(
                    "SET of {} members; expected at most 64",
                    ft.elems.len()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The key's pseudo columns, the change columns that are on, every column.
fn default_layout(change: ChangeColumns, columns: usize) -> Vec<OutputField> {
    [OutputField::TableId, OutputField::Handle]
        .into_iter()
        .chain(change.op.then_some(OutputField::Op))
        .chain(change.commit_ts.then_some(OutputField::CommitTs))
        .chain((0..columns).map(OutputField::Column))
        .collect()
}

fn build_arrow_schema(
    handle: HandleKind,
    change: ChangeColumns,
    columns: &[ColumnSpec],
    layout: &[OutputField],
) -> SchemaRef {
    let fields: Vec<Field> = layout
        .iter()
        .map(|f| match *f {
            OutputField::TableId => Field::new(TABLE_ID_COLUMN, DataType::Int64, false),
            OutputField::Handle => Field::new(
                HANDLE_COLUMN,
                match handle {
                    HandleKind::Int => DataType::Int64,
                    HandleKind::Common => DataType::Binary,
                },
                false,
            ),
            OutputField::Op => Field::new(OP_COLUMN, DataType::Utf8, false),
            OutputField::CommitTs => Field::new(COMMIT_TS_COLUMN, DataType::Int64, false),
            OutputField::Column(i) => {
                let c = &columns[i];
                // A tombstone row has NULL in every table column.
                Field::new(&c.name, c.kind.data_type(), c.nullable || change.op)
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn is_virtual(c: &ColumnInfo) -> bool {
    !c.generated_expr_string.is_empty() && !c.generated_stored
}

fn is_integer(t: u8) -> bool {
    matches!(
        t,
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG
    )
}

fn is_binary_charset(c: &ColumnInfo) -> bool {
    let ft = &c.field_type;
    ft.charset.eq_ignore_ascii_case("binary") || ft.collate.eq_ignore_ascii_case("binary")
}

fn origin_default(c: &ColumnInfo) -> Option<DefaultValue> {
    if c.field_type.tp == tp::BIT {
        if let Some(b64) = c.origin_default_bit.as_deref() {
            return decode_base64(b64).map(DefaultValue::Bytes);
        }
    }
    match c.origin_default.as_ref()? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(DefaultValue::Text(s.clone())),
        serde_json::Value::Number(n) => Some(DefaultValue::Number(n.clone())),
        serde_json::Value::Bool(b) => Some(DefaultValue::Text(if *b { "1" } else { "0" }.into())),
        other => Some(DefaultValue::Text(other.to_string())),
    }
}

/// Standard base64 (Go's encoding of `[]byte` in JSON).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn out_kind(c: &ColumnInfo, mapping: TypeMapping) -> Option<OutKind> {
    let ft = &c.field_type;
    let unsigned = ft.flag & flag::UNSIGNED != 0;
    let typed = mapping == TypeMapping::Typed;
    Some(match ft.tp {
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG if !typed => {
            if unsigned {
                OutKind::UintText
            } else {
                OutKind::Int64
            }
        }
        tp::TINY => {
            if unsigned {
                OutKind::Int16
            } else {
                OutKind::Int8
            }
        }
        tp::SHORT => {
            if unsigned {
                OutKind::Int32
            } else {
                OutKind::Int16
            }
        }
        tp::INT24 | tp::LONG => {
            if unsigned {
                OutKind::Int64
            } else {
                OutKind::Int32
            }
        }
        tp::LONGLONG => {
            if unsigned {
                OutKind::UintDecimal128
            } else {
                OutKind::Int64
            }
        }
        tp::FLOAT => {
            if typed {
                OutKind::Float32
            } else {
                OutKind::Float64
            }
        }
        tp::DOUBLE => OutKind::Float64,
        tp::NEWDECIMAL => {
            let precision = u8::try_from(ft.flen).ok().filter(|p| (1..=38).contains(p));
            let scale = i8::try_from(ft.decimal).ok().filter(|s| *s >= 0);
            match (typed, precision, scale) {
                (true, Some(precision), Some(scale)) => OutKind::Decimal128 { precision, scale },
                _ => OutKind::DecimalText,
            }
        }
        tp::DATE | tp::NEWDATE => {
            if typed {
                OutKind::Date32
            } else {
                OutKind::DateText
            }
        }
        tp::DATETIME => {
            if typed {
                OutKind::TimestampMicros { utc: false }
            } else {
                OutKind::DatetimeText
            }
        }
        tp::TIMESTAMP => {
            if typed {
                OutKind::TimestampMicros { utc: true }
            } else {
                OutKind::DatetimeText
            }
        }
        tp::DURATION => OutKind::TimeText,
        tp::YEAR => {
            if typed {
                OutKind::Int16
            } else {
                OutKind::Int64
            }
        }
        tp::VARCHAR
        | tp::VAR_STRING
        | tp::STRING
        | tp::TINY_BLOB
        | tp::MEDIUM_BLOB
        | tp::LONG_BLOB
        | tp::BLOB => {
            if is_binary_charset(c) {
                OutKind::Binary
            } else {
                OutKind::Utf8
            }
        }
        tp::JSON => OutKind::JsonText,
        tp::ENUM => {
            if typed {
                OutKind::EnumDict
            } else {
                OutKind::EnumText
            }
        }
        tp::SET => OutKind::SetText,
        tp::BIT => {
            let bits = ft.flen.clamp(1, 64);
            OutKind::Bit {
                width: u8::try_from((bits + 7) / 8).ok()?,
            }
        }
        tp::VECTOR_FLOAT32 => {
            if typed {
                OutKind::VectorList
            } else {
                OutKind::VectorText
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &str) -> String {
        format!(r#"{{"id":7,"name":{{"O":"t","L":"t"}},"cols":[{cols}]}}"#)
    }

    fn col(id: i64, name: &str, tp: u8, flen: i64, decimal: i64) -> String {
        format!(
            r#"{{"id":{id},"name":{{"O":"{name}","L":"{name}"}},"state":5,
               "type":{{"Tp":{tp},"Flag":0,"Flen":{flen},"Decimal":{decimal}}}}}"#
        )
    }

    fn error(json: &str) -> SchemaError {
        TableSchema::from_json(json.as_bytes(), TypeMapping::Compat).unwrap_err()
    }

    #[test]
    fn errors_name_the_table_and_column() {
        let e = error(&table(&col(1, "c", 0xee, 10, 0)));
        assert_eq!((e.table.as_str(), e.table_id), ("t", Some(7)));
        assert_eq!(e.column.as_deref(), Some("c"));
        assert!(e.reason.contains("unsupported type code 238"), "{e}");
        assert!(
            e.to_string().starts_with("table t (id 7): column c: "),
            "{e}"
        );
    }

    #[test]
    fn missing_fields_name_the_column() {
        let e = error(&table(r#"{"id":1,"name":{"O":"c","L":"c"}}"#));
        assert_eq!(e.column.as_deref(), Some("c"));
        assert!(e.reason.contains("missing field `type`"), "{e}");
        let e = error(&table(r#"{"name":{"O":"c","L":"c"},"type":{"Tp":3}}"#));
        assert!(e.reason.contains("missing field `id`"), "{e}");
        let e = error(r#"{"name":{"O":"t","L":"t"},"cols":[]}"#);
        assert_eq!(
            (e.table.as_str(), e.table_id, e.column.clone()),
            ("t", None, None)
        );
        assert!(e.reason.contains("missing field `id`"), "{e}");
        assert!(error("[1]").reason.contains("expected a JSON object"));
        assert!(error("{").reason.contains("not valid JSON"));
    }

    #[test]
    fn columns_no_tidb_writes_are_refused() {
        let two = |a: String, b: String| table(&format!("{a},{b}"));
        let cases = [
            (
                two(col(1, "a", 3, 11, 0), col(1, "b", 3, 11, 0)),
                "b",
                "column id 1",
            ),
            (
                two(col(1, "a", 3, 11, 0), col(2, "A", 3, 11, 0)),
                "A",
                "unique column names",
            ),
            (table(&col(1, "d", 0xf6, 1000, 2)), "d", "precision 1000"),
            (
                table(&col(1, "d", 0xf6, 10, 31)),
                "d",
                "scale 31 outside 0..=10",
            ),
            (
                table(&col(1, "s", 15, 1 << 40, 0)),
                "s",
                "length (flen) 1099511627776",
            ),
            (table(&col(1, "b", 16, 65, 0)), "b", "BIT length 65"),
            (
                table(&col(1, "t", 12, 0, 7)),
                "t",
                "precision 7 outside 0..=6",
            ),
        ];
        for (json, column, reason) in cases {
            let e = error(&json);
            assert_eq!(e.column.as_deref(), Some(column), "{e}");
            assert!(e.reason.contains(reason), "{e}");
        }
        // TiDB's "unspecified" (-1) lengths and scales are accepted.
        let ok = table(&format!(
            "{},{}",
            col(1, "d", 0xf6, -1, -1),
            col(2, "f", 5, -1, -1)
        ));
        assert!(TableSchema::from_json(ok.as_bytes(), TypeMapping::Typed).is_ok());
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(decode_base64("CgA=").unwrap(), vec![0x0a, 0x00]);
        assert_eq!(decode_base64("AQID").unwrap(), vec![1, 2, 3]);
        assert_eq!(decode_base64("").unwrap(), Vec::<u8>::new());
        assert!(decode_base64("@@@@").is_none());
    }
}
