//! Table schemas and SST scans exposed to Python; batches cross as Arrow
//! (C Data Interface / PyCapsule) without copying.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use br_parquet_core::scan::{self, ScanOptions};
use br_parquet_core::schema::{TableSchema, TypeMapping};
use br_parquet_core::sst;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatch, PySchema};

use crate::errors::{sst_error, RowDecodeError, SchemaError};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TableDecoder>()?;
    m.add_class::<SstScan>()?;
    Ok(())
}

/// A table's output schema, derived from its TiDB `TableInfo` JSON.
#[pyclass(module = "br_parquet._native", frozen)]
pub struct TableDecoder {
    schema: Arc<TableSchema>,
}

#[pymethods]
impl TableDecoder {
    #[new]
    #[pyo3(signature = (table_info_json, type_mapping = "compat"))]
    fn new(table_info_json: &[u8], type_mapping: &str) -> PyResult<Self> {
        let mapping = TypeMapping::parse(type_mapping).ok_or_else(|| {
            PyValueError::new_err(format!(
                "type mapping must be compat or typed, got {type_mapping:?}"
            ))
        })?;
        let schema = TableSchema::from_json(table_info_json, mapping)
            .map_err(|e| SchemaError::new_err(e.to_string()))?;
        Ok(Self {
            schema: Arc::new(schema),
        })
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
    #[pyo3(signature = (write_sst, tables, *, default_sst = None, name = None, batch_rows = 8192))]
    fn new(
        py: Python<'_>,
        write_sst: PathBuf,
        tables: Vec<PyRef<'_, TableDecoder>>,
        default_sst: Option<PathBuf>,
        name: Option<String>,
        batch_rows: usize,
    ) -> PyResult<Self> {
        let schemas: Vec<Arc<TableSchema>> = tables.iter().map(|t| Arc::clone(&t.schema)).collect();
        let name = name.unwrap_or_else(|| write_sst.display().to_string());
        let inner = py.detach(move || -> PyResult<scan::SstScan> {
            let write = sst::SstReader::open(&write_sst).map_err(sst_error)?;
            let default = default_sst
                .map(sst::SstReader::open)
                .transpose()
                .map_err(sst_error)?;
            scan::SstScan::open(
                &name,
                &write,
                default.as_ref(),
                schemas,
                ScanOptions { batch_rows },
            )
            .map_err(|e| RowDecodeError::new_err(e.to_string()))
        })?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<(usize, Bound<'py, PyAny>)>> {
        let next = py
            .detach(|| self.lock().next_batch())
            .map_err(|e| RowDecodeError::new_err(e.to_string()))?;
        match next {
            Some((idx, batch)) => Ok(Some((idx, PyRecordBatch::new(batch).into_pyarrow(py)?))),
            None => Ok(None),
        }
    }

    /// Counters of what the scan saw (rows, skipped index entries, …).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.lock().stats();
        let d = PyDict::new(py);
        d.set_item("write_kvs", s.write_kvs)?;
        d.set_item("rows", s.rows)?;
        d.set_item("index_kvs", s.index_kvs)?;
        d.set_item("unselected_kvs", s.unselected_kvs)?;
        d.set_item("other_kvs", s.other_kvs)?;
        d.set_item("deletes", s.deletes)?;
        d.set_item("locks_and_rollbacks", s.locks_and_rollbacks)?;
        d.set_item("default_cf_values", s.default_cf_values)?;
        d.set_item("zero_dates_nulled", s.zero_dates_nulled)?;
        Ok(d)
    }
}
