//! `br_parquet._native`: the thin Python binding of `br-parquet-core`.
//! Argument conversion, GIL release and error mapping only; logic lives in
//! the core crate or in the Python package.
use pyo3::prelude::*;

mod decode;
mod errors;
mod sst;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    sst::register(m)?;
    decode::register(m)?;
    m.add_function(wrap_pyfunction!(crc64_xz, m)?)?;
    Ok(())
}

/// CRC-64/XZ of `data`, the per-KV hash of TiKV's backup checksums.
#[pyfunction]
fn crc64_xz(py: Python<'_>, data: &[u8]) -> u64 {
    py.detach(|| br_parquet_core::checksum::crc64_xz(data))
}
