//! Python exception classes raised by the native module.
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    NativeError,
    PyException,
    "Base class of errors raised by the native core."
);
create_exception!(
    _native,
    SstReadError,
    NativeError,
    "An SST file could not be opened, read or written."
);
create_exception!(
    _native,
    RowDecodeError,
    NativeError,
    "A key or value in an SST could not be decoded."
);
create_exception!(
    _native,
    SchemaError,
    NativeError,
    "A TableInfo could not be turned into an output schema."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NativeError", py.get_type::<NativeError>())?;
    m.add("SstReadError", py.get_type::<SstReadError>())?;
    m.add("RowDecodeError", py.get_type::<RowDecodeError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    Ok(())
}

pub fn sst_error(e: br_parquet_core::sst::SstError) -> PyErr {
    SstReadError::new_err(e.to_string())
}
