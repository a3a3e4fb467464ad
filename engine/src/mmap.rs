//! Memory maps of index files. This is one of the three modules where `unsafe` is allowed
//! (with io_uring and the C ABI): creating a map is unsafe because another process could
//! truncate the file under it.

use std::fs::File;
use std::io;

use memmap2::MmapMut;

use crate::io::MappedRegion;

/// A writable shared map of the start of a file.
#[derive(Debug)]
pub(crate) struct FileMap {
    map: MmapMut,
}

impl FileMap {
    /// Maps the first `len` bytes of `file` (which must be at least that long).
    pub(crate) fn map(file: &File, len: usize) -> io::Result<FileMap> {
        let file_len = file.metadata()?.len();
        if (file_len as u128) < len as u128 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot map {len} bytes of a {file_len}-byte file"),
            ));
        }
        if len == 0 {
            // A zero-length mapping is not allowed by mmap(2); use an anonymous empty map.
            return Ok(FileMap { map: MmapMut::map_anon(0)? });
        }
        // SAFETY: the file is one of eoslog's own index files inside a data directory that this
        // process holds an exclusive lock on, so no other cooperating process truncates it while
        // mapped; eoslog itself only resizes an index after dropping its map. The length was
        // checked against the file size above, so every mapped page is backed by the file.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(file)? };
        // Index entries are touched one page at a time (appends at the end, binary searches);
        // without this hint the first write into a fresh, sparse 10 MiB index makes the kernel
        // read ahead (zero-fill) megabytes: measured at 7–26 ms per new index file.
        if let Err(e) = map.advise(memmap2::Advice::Random) {
            log::debug!("madvise(MADV_RANDOM) on an index map failed: {e}");
        }
        Ok(FileMap { map })
    }
}

impl MappedRegion for FileMap {
    fn bytes(&self) -> &[u8] {
        &self.map
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

/// Takes an exclusive, non-blocking `flock` on an open file; `WouldBlock` if held elsewhere.
pub(crate) fn flock_exclusive_nonblocking(file: &File) -> io::Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
