//! SST reading and writing exposed to Python.
use std::path::PathBuf;

use br_parquet_core::sst::{self, SstCompression, SstWriteOptions};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::sst_error;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(write_sst, m)?)?;
    m.add_class::<SstReader>()?;
    Ok(())
}

/// Writes `entries` (strictly ascending keys) to a new SST file with the
/// options TiKV's backup writer uses; returns the file size in bytes.
#[pyfunction]
#[pyo3(signature = (path, entries, *, compression = "zstd", whole_key_filtering = true, format_version = 2))]
fn write_sst(
    py: Python<'_>,
    path: PathBuf,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    compression: &str,
    whole_key_filtering: bool,
    format_version: i32,
) -> PyResult<u64> {
    let compression = SstCompression::parse(compression)
        .ok_or_else(|| PyValueError::new_err(format!("unknown SST compression {compression:?}")))?;
    if entries.is_empty() {
        return Err(PyValueError::new_err("an SST needs at least one entry"));
    }
    let opts = SstWriteOptions {
        compression,
        whole_key_filtering,
        format_version,
        ..Default::default()
    };
    py.detach(|| {
        sst::write_sst(
            &path,
            entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
            &opts,
        )
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))
    })
}

/// A standalone SST file opened through RocksDB's `SstFileReader`.
#[pyclass(module = "br_parquet._native", frozen)]
struct SstReader {
    inner: sst::SstReader,
}

#[pymethods]
impl SstReader {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = py
            .detach(|| sst::SstReader::open(&path))
            .map_err(|e| sst_error(&path.display().to_string(), e))?;
        Ok(Self { inner })
    }

    #[getter]
    fn path(&self) -> &str {
        self.inner.path()
    }

    #[getter]
    fn num_entries(&self) -> u64 {
        self.inner.num_entries()
    }

    /// Verifies every block checksum; raises `SstReadError` on corruption.
    fn verify_checksum(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.verify_checksum())
            .map_err(|e| sst_error(self.inner.path(), e))
    }

    /// Table properties, standard and user-collected, as `{name: bytes}`.
    fn properties<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.inner.properties() {
            d.set_item(k, PyBytes::new(py, &v))?;
        }
        Ok(d)
    }

    /// Scans every entry without copying it out: `(entries, key bytes, value
    /// bytes)`. The raw read rate of an SST, for benchmarks and checks.
    fn scan(&self, py: Python<'_>) -> PyResult<(u64, u64, u64)> {
        py.detach(|| -> Result<_, sst::SstError> {
            let (mut n, mut kb, mut vb) = (0u64, 0u64, 0u64);
            let mut it = self.inner.entries()?;
            while let Some((k, v)) = it.next_entry()? {
                n += 1;
                kb += k.len() as u64;
                vb += v.len() as u64;
            }
            Ok((n, kb, vb))
        })
        .map_err(|e| sst_error(self.inner.path(), e))
    }

    /// All `(key, value)` entries in key order, copied into Python bytes.
    /// Meant for tools and tests; the exporter decodes inside Rust.
    fn entries<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
        let raw: Vec<(Vec<u8>, Vec<u8>)> = py
            .detach(|| -> Result<_, sst::SstError> {
                let mut out = Vec::new();
                let mut it = self.inner.entries()?;
                while let Some((k, v)) = it.next_entry()? {
                    out.push((k.to_vec(), v.to_vec()));
                }
                Ok(out)
            })
            .map_err(|e| sst_error(self.inner.path(), e))?;
        Ok(raw
            .into_iter()
            .map(|(k, v)| (PyBytes::new(py, &k), PyBytes::new(py, &v)))
            .collect())
    }
}
