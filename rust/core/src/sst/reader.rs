//! A standalone SST file opened with `rocksdb::SstFileReader`.
use std::collections::BTreeMap;
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use super::ffi;
use super::SstError;

/// Read-ahead for the sequential scans the exporter does.
const READAHEAD_BYTES: usize = 4 << 20;

struct RawHandle(*mut ffi::RawReader);

// SAFETY: RocksDB's SstFileReader has no thread affinity, and it is only
// reached through `SstReader`/`SstEntries`, which are not `Sync`.
unsafe impl Send for RawHandle {}
unsafe impl Sync for RawHandle {}

impl Drop for RawHandle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from brpq_sst_open and is closed exactly
        // once, after every iterator holding this handle is gone.
        unsafe { ffi::brpq_sst_close(self.0) };
    }
}

/// An open SST file. Every block read is checksum-verified by RocksDB.
pub struct SstReader {
    raw: Arc<RawHandle>,
    path: String,
}

impl SstReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SstError> {
        let path = path.as_ref().to_string_lossy().into_owned();
        let mut err = ptr::null_mut();
        // SAFETY: path bytes are valid for the call; err is an out-pointer.
        let raw = unsafe { ffi::brpq_sst_open(path.as_ptr().cast(), path.len(), &mut err) };
        if let Some(message) = ffi::take_error(err) {
            return Err(SstError { path, message });
        }
        if raw.is_null() {
            return Err(SstError {
                path,
                message: "cannot open SST".into(),
            });
        }
        Ok(Self {
            raw: Arc::new(RawHandle(raw)),
            path,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of entries according to the table properties.
    pub fn num_entries(&self) -> u64 {
        // SAFETY: raw is a live reader.
        unsafe { ffi::brpq_sst_num_entries(self.raw.0) }
    }

    /// Verifies the checksum of every block in the file.
    pub fn verify_checksum(&self) -> Result<(), SstError> {
        // SAFETY: raw is a live reader.
        let err = unsafe { ffi::brpq_sst_verify_checksum(self.raw.0) };
        match ffi::take_error(err) {
            Some(message) => Err(self.error(message)),
            None => Ok(()),
        }
    }

    /// Standard and user-collected table properties.
    pub fn properties(&self) -> BTreeMap<String, Vec<u8>> {
        let mut len = 0usize;
        // SAFETY: raw is a live reader; the buffer is malloc'ed by the shim.
        let buf = unsafe { ffi::brpq_sst_properties(self.raw.0, &mut len) };
        let mut out = BTreeMap::new();
        if buf.is_null() {
            return out;
        }
        // SAFETY: the shim reports the buffer's exact length.
        let bytes = unsafe { std::slice::from_raw_parts(buf as *const u8, len) }.to_vec();
        // SAFETY: allocated with malloc by the shim; freed exactly once.
        unsafe { ffi::brpq_free_error(buf) };
        let mut rest = bytes.as_slice();
        while let (Some(k), Some(v)) = (take_part(&mut rest), take_part(&mut rest)) {
            out.insert(String::from_utf8_lossy(k).into_owned(), v.to_vec());
        }
        out
    }

    /// A scan over all entries in key order, starting at the first key. The
    /// scan keeps the file open on its own.
    pub fn entries(&self) -> Result<SstEntries, SstError> {
        // SAFETY: raw is a live reader, kept alive by the Arc in the scan.
        let it = unsafe { ffi::brpq_sst_iter_new(self.raw.0, READAHEAD_BYTES) };
        if it.is_null() {
            return Err(self.error("cannot create iterator".into()));
        }
        // SAFETY: it is a fresh iterator.
        unsafe { ffi::brpq_sst_iter_seek_to_first(it) };
        Ok(SstEntries {
            raw: it,
            _reader: Arc::clone(&self.raw),
            path: self.path.clone(),
            started: false,
        })
    }

    fn error(&self, message: String) -> SstError {
        SstError {
            path: self.path.clone(),
            message,
        }
    }
}

/// Splits one (u32 LE length, bytes) part off the shim's property buffer.
fn take_part<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let part = rest.get(4..4 + len)?;
    *rest = &rest[4 + len..];
    Some(part)
}

/// A `(key, value)` pair borrowed from an SST iterator.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

/// A lending iterator over `(key, value)` slices. A slice is valid until the
/// next call to [`SstEntries::next_entry`] or [`SstEntries::seek`].
pub struct SstEntries {
    raw: *mut ffi::RawIter,
    // Declared after `raw`: the iterator is freed before the reader.
    _reader: Arc<RawHandle>,
    path: String,
    started: bool,
}

// SAFETY: see `RawHandle`; a RocksDB iterator may move between threads.
unsafe impl Send for SstEntries {}

impl SstEntries {
    /// Advances and returns the next entry, `Ok(None)` at the end.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, SstError> {
        if self.started {
            // SAFETY: raw is a live iterator.
            unsafe { ffi::brpq_sst_iter_next(self.raw) };
        }
        self.started = true;
        self.current()
    }

    /// Positions at the first key ≥ `target`; the next `next_entry` returns it.
    pub fn seek(&mut self, target: &[u8]) {
        // SAFETY: target is valid for the call; raw is a live iterator.
        unsafe { ffi::brpq_sst_iter_seek(self.raw, target.as_ptr().cast(), target.len()) };
        self.started = false;
    }

    /// Positions at the first key ≥ `target`, as [`SstEntries::seek`] does,
    /// and returns that entry. Steps forward with `next` when the target is
    /// a few entries ahead (lookups in key order), seeks otherwise.
    pub fn seek_forward(&mut self, target: &[u8]) -> Result<Option<Entry<'_>>, SstError> {
        const MAX_STEPS: usize = 8;
        let mut stepped = false;
        for _ in 0..MAX_STEPS {
            match self.current()? {
                Some((k, _)) if k < target => {
                    // SAFETY: raw is a live, valid iterator.
                    unsafe { ffi::brpq_sst_iter_next(self.raw) };
                    stepped = true;
                }
                // At the target or past it after stepping from below it:
                // this is the first key ≥ target.
                Some((k, _)) if k == target || stepped => {
                    self.started = false;
                    return self.current();
                }
                // Past it from the start (or at the end): it may lie behind.
                _ => break,
            }
        }
        self.seek(target);
        self.current()
    }

    /// The entry at the current position without advancing.
    #[inline]
    pub fn current(&self) -> Result<Option<Entry<'_>>, SstError> {
        let (mut k, mut kl, mut v, mut vl) = (ptr::null(), 0usize, ptr::null(), 0usize);
        // SAFETY: out-pointers are valid; raw is a live iterator.
        let valid = unsafe { ffi::brpq_sst_iter_entry(self.raw, &mut k, &mut kl, &mut v, &mut vl) };
        if valid == 0 {
            // SAFETY: raw is a live iterator.
            let err = unsafe { ffi::brpq_sst_iter_status(self.raw) };
            return match ffi::take_error(err) {
                Some(message) => Err(SstError {
                    path: self.path.clone(),
                    message,
                }),
                None => Ok(None),
            };
        }
        // SAFETY: RocksDB guarantees the slices until the iterator moves, which
        // needs `&mut self`, so the borrow checker enforces the lifetime.
        let key = unsafe { std::slice::from_raw_parts(k.cast::<u8>(), kl) };
        let value = unsafe { std::slice::from_raw_parts(v.cast::<u8>(), vl) };
        Ok(Some((key, value)))
    }
}

impl Drop for SstEntries {
    fn drop(&mut self) {
        // SAFETY: raw came from brpq_sst_iter_new and is freed exactly once.
        unsafe { ffi::brpq_sst_iter_free(self.raw) };
    }
}
