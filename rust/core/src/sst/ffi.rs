//! Declarations of the C ABI in `cpp/sst_reader.cc`.
use std::ffi::c_char;

#[repr(C)]
pub struct RawReader {
    _private: [u8; 0],
}

#[repr(C)]
pub struct RawIter {
    _private: [u8; 0],
}

extern "C" {
    pub fn brpq_free_error(err: *mut c_char);
    pub fn brpq_sst_open(path: *const c_char, len: usize, err: *mut *mut c_char) -> *mut RawReader;
    pub fn brpq_sst_close(r: *mut RawReader);
    pub fn brpq_sst_verify_checksum(r: *mut RawReader) -> *mut c_char;
    pub fn brpq_sst_num_entries(r: *mut RawReader) -> u64;
    pub fn brpq_sst_properties(r: *mut RawReader, len: *mut usize) -> *mut c_char;
    pub fn brpq_sst_iter_new(r: *mut RawReader, readahead: usize) -> *mut RawIter;
    pub fn brpq_sst_iter_free(it: *mut RawIter);
    pub fn brpq_sst_iter_seek_to_first(it: *mut RawIter);
    pub fn brpq_sst_iter_seek(it: *mut RawIter, key: *const c_char, len: usize);
    pub fn brpq_sst_iter_next(it: *mut RawIter);
    pub fn brpq_sst_iter_entry(
        it: *const RawIter,
        key: *mut *const c_char,
        key_len: *mut usize,
        value: *mut *const c_char,
        value_len: *mut usize,
    ) -> u8;
    pub fn brpq_sst_iter_status(it: *const RawIter) -> *mut c_char;
}

/// Takes ownership of a malloc'ed error string from the shim.
pub fn take_error(err: *mut c_char) -> Option<String> {
    if err.is_null() {
        return None;
    }
    // SAFETY: the shim returns NUL-terminated strings from malloc.
    let msg = unsafe { std::ffi::CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: allocated by the shim's malloc; freed exactly once here.
    unsafe { brpq_free_error(err) };
    Some(msg)
}
