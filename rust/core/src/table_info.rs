//! TiDB's `TableInfo` JSON as BR stores it in `Schema.table`, parsed leniently:
//! both the capitalised FieldType keys (`Tp`, `Flag`, …; TiDB ≥ 5.x `MarshalJSON`)
//! and the lowercase ones (`tp`, `flag`, …) are accepted, Go's `null` for empty
//! slices is an empty list, and unknown keys are ignored.
use serde::{Deserialize, Deserializer};

/// Go's `null` for a nil slice/map/pointer reads as the type's default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `model.CIStr`: the original and the lower-cased name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CIStr {
    #[serde(rename = "O", default)]
    pub o: String,
    #[serde(rename = "L", default)]
    pub l: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldType {
    #[serde(rename = "Tp", alias = "tp", default)]
    pub tp: u8,
    #[serde(rename = "Flag", alias = "flag", default)]
    pub flag: u32,
    #[serde(rename = "Flen", alias = "flen", default)]
    pub flen: i64,
    #[serde(rename = "Decimal", alias = "decimal", default)]
    pub decimal: i64,
    #[serde(
        rename = "Charset",
        alias = "charset",
        default,
        deserialize_with = "null_default"
    )]
    pub charset: String,
    #[serde(
        rename = "Collate",
        alias = "collate",
        default,
        deserialize_with = "null_default"
    )]
    pub collate: String,
    #[serde(
        rename = "Elems",
        alias = "elems",
        default,
        deserialize_with = "null_default"
    )]
    pub elems: Vec<String>,
    #[serde(rename = "Array", alias = "array", default)]
    pub array: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ColumnInfo {
    pub id: i64,
    pub name: CIStr,
    #[serde(default)]
    pub offset: i64,
    /// The default in force when the column was added (fills older rows).
    #[serde(default)]
    pub origin_default: Option<serde_json::Value>,
    /// BIT columns' origin default: base64 of the raw bytes.
    #[serde(default)]
    pub origin_default_bit: Option<String>,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub generated_expr_string: String,
    #[serde(default)]
    pub generated_stored: bool,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub state: u8,
    #[serde(default)]
    pub hidden: bool,
    /// ≥ 1: TIMESTAMP defaults are stored in UTC.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IndexColumn {
    pub name: CIStr,
    pub offset: usize,
    /// -1 = the whole column; otherwise a prefix length.
    #[serde(default = "full_length")]
    pub length: i64,
}

fn full_length() -> i64 {
    -1
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IndexInfo {
    pub id: i64,
    #[serde(default)]
    pub idx_name: CIStr,
    #[serde(default, deserialize_with = "null_default")]
    pub idx_cols: Vec<IndexColumn>,
    #[serde(default)]
    pub state: u8,
    #[serde(default)]
    pub is_primary: bool,
    #[serde(default)]
    pub is_unique: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PartitionDefinition {
    pub id: i64,
    #[serde(default)]
    pub name: CIStr,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PartitionInfo {
    #[serde(default)]
    pub enable: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub definitions: Vec<PartitionDefinition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TableInfo {
    pub id: i64,
    pub name: CIStr,
    #[serde(default, deserialize_with = "null_default")]
    pub cols: Vec<ColumnInfo>,
    #[serde(default, deserialize_with = "null_default")]
    pub index_info: Vec<IndexInfo>,
    #[serde(default)]
    pub pk_is_handle: bool,
    #[serde(default)]
    pub is_common_handle: bool,
    #[serde(default)]
    pub common_handle_version: u16,
    #[serde(default)]
    pub partition: Option<PartitionInfo>,
    #[serde(default)]
    pub view: Option<serde_json::Value>,
    #[serde(default)]
    pub sequence: Option<serde_json::Value>,
    #[serde(default)]
    pub state: u8,
}

/// `model.StatePublic`.
pub const STATE_PUBLIC: u8 = 5;

impl TableInfo {
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// Views and sequences have no rows.
    pub fn has_rows(&self) -> bool {
        self.view.is_none() && self.sequence.is_none()
    }

    /// Physical table IDs whose record keys hold this table's rows: the
    /// partitions' IDs when partitioning is enabled, else the table ID.
    pub fn physical_ids(&self) -> Vec<i64> {
        match &self.partition {
            Some(p) if p.enable && !p.definitions.is_empty() => {
                p.definitions.iter().map(|d| d.id).collect()
            }
            _ => vec![self.id],
        }
    }

    /// The clustered primary index, when the table has a common handle.
    pub fn primary_index(&self) -> Option<&IndexInfo> {
        self.index_info.iter().find(|i| i.is_primary)
    }
}
