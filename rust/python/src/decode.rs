//! Table schemas and SST scans exposed to Python; batches cross as Arrow
//! (C Data Interface / PyCapsule) without copying.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use br_parquet_core::scan::{self, HandleRange, KeyRange, ScanOptions};
use br_parquet_core::schema::{ChangeColumns, HandleKind, TableSchema, TypeMapping};
use br_parquet_core::sst;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatch, PySchema};

use crate::errors::{scan_error, schema_error, sst_error};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TableDecoder>()?;
    m.add_class::<SstScan>()?;
    Ok(())
}

/// A table's output schema, derived from its TiDB `TableInfo` JSON.
#[pyclass(module = "br_parquet._native", frozen)]
pub struct TableDecoder {
    /// The whole table: what `project` chooses from.
    table: Arc<TableSchema>,
    /// What batches hold: `table` or a projection of it.
    schema: Arc<TableSchema>,
}

#[pymethods]
impl TableDecoder {
    #[new]
    #[pyo3(signature = (table_info_json, type_mapping, *, op_column = false, commit_ts_column = false))]
    fn new(
        table_info_json: &[u8],
        type_mapping: &str,
        op_column: bool,
        commit_ts_column: bool,
    ) -> PyResult<Self> {
        let mapping = TypeMapping::parse(type_mapping).ok_or_else(|| {
            PyValueError::new_err(format!(
                "type mapping must be compat or typed, got {type_mapping:?}"
            ))
        })?;
        let change = ChangeColumns {
            op: op_column,
            commit_ts: commit_ts_column,
        };
        let schema = TableSchema::from_json(table_info_json, mapping)
            .and_then(|s| s.with_change_columns(change))
            .map_err(schema_error)?;
        let schema = Arc::new(schema);
        Ok(Self {
            table: Arc::clone(&schema),
            schema,
        })
    }

    /// A decoder of the same table whose batches hold only `columns`, in that
    /// order; the others are never decoded. Always chosen from the whole table.
    fn project(&self, columns: Vec<String>) -> PyResult<Self> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let schema = self
            .table
            .project(&names)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            table: Arc::clone(&self.table),
            schema: Arc::new(schema),
        })
    }

    /// The table's public column names in definition order (no pseudo columns).
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.table.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Whether batches may hold `_tidb_op` and Delete records become tombstone rows.
    #[getter]
    fn op_column(&self) -> bool {
        self.table.change.op
    }

    /// Whether batches may hold `_tidb_commit_ts`.
    #[getter]
    fn commit_ts_column(&self) -> bool {
        self.table.change.commit_ts
    }

    /// Whether rows are keyed by a clustered (common) handle.
    #[getter]
    fn clustered(&self) -> bool {
        self.table.handle == HandleKind::Common
    }

    #[getter]
    fn table_id(&self) -> i64 {
        self.schema.table_id
    }

    #[getter]
    fn name(&self) -> &str {
        &self.schema.name
    }

    #[getter]
    fn physical_ids(&self) -> Vec<i64> {
        self.schema.physical_ids.clone()
    }

    #[getter]
    fn type_mapping(&self) -> &'static str {
        match self.schema.mapping {
            TypeMapping::Compat => "compat",
            TypeMapping::Typed => "typed",
        }
    }

    /// The Arrow schema of every batch of this table, as a `pyarrow.Schema`.
    fn arrow_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PySchema::new(self.schema.arrow_schema()).into_pyarrow(py)
    }
}

impl SstScan {
    fn lock(&self) -> std::sync::MutexGuard<'_, scan::SstScan> {
        // A panic cannot leave a scan half-updated in a way later calls
        // would misread: they only report the error again or stop.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Decodes one backup SST (write-CF file + optional default-CF file) into
/// `(table index, pyarrow.RecordBatch)` pairs. Iterating releases the GIL.
#[pyclass(module = "br_parquet._native")]
pub struct SstScan {
    // pyclasses must be Sync; a scan is driven by one thread at a time.
    inner: Mutex<scan::SstScan>,
}

#[pymethods]
impl SstScan {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (write_sst, tables, *, batch_rows, default_sst = None, name = None, default_name = None, key_range = None, handle_range = None, checksums = false, clip_range = None))]
    fn new(
        py: Python<'_>,
        write_sst: PathBuf,
        tables: Vec<PyRef<'_, TableDecoder>>,
        batch_rows: usize,
        default_sst: Option<PathBuf>,
        name: Option<String>,
        default_name: Option<String>,
        key_range: Option<(Vec<u8>, Vec<u8>)>,
        handle_range: Option<(Option<i64>, Option<i64>)>,
        checksums: bool,
        clip_range: Option<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Self> {
        let schemas: Vec<Arc<TableSchema>> = tables.iter().map(|t| Arc::clone(&t.schema)).collect();
        let name = name.unwrap_or_else(|| write_sst.display().to_string());
        let default_name = default_name
            .or_else(|| default_sst.as_ref().map(|p| p.display().to_string()))
            .unwrap_or_default();
        let inner = py.detach(move || -> PyResult<scan::SstScan> {
            let write = sst::SstReader::open(&write_sst).map_err(|e| sst_error(&name, e))?;
            let default = default_sst
                .map(sst::SstReader::open)
                .transpose()
                .map_err(|e| sst_error(&default_name, e))?;
            let options = ScanOptions {
                batch_rows,
                handle_range: handle_range.map(|(lo, hi)| HandleRange { lo, hi }),
            };
            let mut scan = scan::SstScan::open(&name, &write, default.as_ref(), schemas, options)
                .map_err(scan_error)?
                .with_checksums(checksums)
                .with_default_name(&default_name);
            if let Some((start, end)) = key_range {
                scan = scan.with_key_range(KeyRange { start, end });
            }
            if let Some((start, end)) = clip_range {
                scan = scan.with_clip_range(KeyRange { start, end });
            }
            Ok(scan)
        })?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<(usize, Bound<'py, PyAny>)>> {
        let next = py.detach(|| self.lock().next_batch()).map_err(scan_error)?;
        match next {
            Some((idx, batch)) => Ok(Some((idx, PyRecordBatch::new(batch).into_pyarrow(py)?))),
            None => Ok(None),
        }
    }

    /// The files' TiKV checksums `(crc64xor, total_kvs, total_bytes)`, keyed
    /// `"write"` and (with a default-CF file) `"default"`; None unless the scan
    /// was opened with `checksums=True` and has returned its last batch.
    fn checksums(&self) -> Option<std::collections::HashMap<&'static str, (u64, u64, u64)>> {
        let sums = self.lock().checksums()?;
        let triple =
            |c: br_parquet_core::checksum::KvChecksum| (c.crc64xor, c.total_kvs, c.total_bytes);
        let mut out = std::collections::HashMap::new();
        out.insert("write", triple(sums.write));
        if let Some(d) = sums.default {
            out.insert("default", triple(d));
        }
        Some(out)
    }

    /// Rows emitted so far per table, indexed like `tables`.
    fn table_rows(&self) -> Vec<u64> {
        self.lock().table_rows().to_vec()
    }

    /// Counters of what the scan saw (rows, skipped index entries, …).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.lock().stats();
        let d = PyDict::new(py);
        d.set_item("write_kvs", s.write_kvs)?;
        d.set_item("rows", s.rows)?;
        d.set_item("index_kvs", s.index_kvs)?;
        d.set_item("unselected_kvs", s.unselected_kvs)?;
        d.set_item("deletes", s.deletes)?;
        d.set_item("delete_rows", s.delete_rows)?;
        d.set_item("locks_and_rollbacks", s.locks_and_rollbacks)?;
        d.set_item("default_cf_values", s.default_cf_values)?;
        d.set_item("zero_dates_nulled", s.zero_dates_nulled)?;
        d.set_item("out_of_range", s.out_of_range)?;
        d.set_item("clipped", s.clipped)?;
        Ok(d)
    }
}
