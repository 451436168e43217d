//! SQLite's memory from mimalloc, the allocator the rest of the process uses.
//!
//! SQLite calls the C library's `malloc` unless told otherwise, and most of what it allocates
//! is page-cache pages. In WAL mode a reader's cache is emptied whenever another connection
//! has committed, so on a server that writes between reads every read transaction frees
//! its pages and allocates them again. glibc gives such memory back to the kernel once
//! enough of it is free at the top of a heap, and takes it back page fault by page fault
//! (`mprotect`, then faults, under its arena lock): tracing over 100 million check-ins,
//! allocating cache pages took 5–11% of the process's CPU time. With mimalloc the heap
//! growth is gone, the faults not all (it too returns memory free for a while), and
//! tracing to F2 ran a tenth faster or more in a smaller resident set (`docs/benchmarks.md`).
//!
//! The workspace's only `unsafe` code: SQLite is configured through its C API.

use std::ffi::{c_int, c_void};

use libmimalloc_sys::{mi_free, mi_malloc, mi_realloc};
use rusqlite::ffi;

/// Bytes before each allocation that hold its size: SQLite asks for the size of what it
/// allocated (`xSize`), and a header keeps to mimalloc's basic interface. Eight, so that
/// what SQLite gets stays aligned to eight bytes as it requires.
const HEADER: usize = 8;

/// Makes SQLite allocate through mimalloc. It must run before the first SQLite connection
/// is opened, which initialises SQLite; later, SQLite refuses and keeps the C library's
/// allocator, which works the same. Returns whether SQLite took it.
pub fn use_mimalloc() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes one pointer to a `sqlite3_mem_methods`, which
    // SQLite copies before returning; it fails with SQLITE_MISUSE, changing nothing, once
    // SQLite is initialised.
    unsafe {
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) == ffi::SQLITE_OK
    }
}

unsafe extern "C" fn malloc(bytes: c_int) -> *mut c_void {
    let Ok(bytes) = usize::try_from(bytes) else { return std::ptr::null_mut() };
    // SAFETY: a fresh block of HEADER + bytes, at least eight-aligned; the size goes in its
    // first eight bytes and SQLite gets the rest.
    unsafe {
        let block = mi_malloc(HEADER + bytes).cast::<u64>();
        if block.is_null() {
            return std::ptr::null_mut();
        }
        block.write(bytes as u64);
        block.add(1).cast()
    }
}

unsafe extern "C" fn free(memory: *mut c_void) {
    if !memory.is_null() {
        // SAFETY: `memory` came from `malloc` or `realloc` above, HEADER bytes into a block.
        unsafe { mi_free(memory.cast::<u8>().sub(HEADER).cast()) }
    }
}

unsafe extern "C" fn realloc(memory: *mut c_void, bytes: c_int) -> *mut c_void {
    let Ok(bytes) = usize::try_from(bytes) else { return std::ptr::null_mut() };
    if memory.is_null() {
        // SAFETY: as `malloc`.
        return unsafe { malloc(bytes as c_int) };
    }
    // SAFETY: `memory` came from `malloc` or `realloc` above, HEADER bytes into a block;
    // the moved block keeps its header, which gets the new size.
    unsafe {
        let block = mi_realloc(memory.cast::<u8>().sub(HEADER).cast(), HEADER + bytes).cast::<u64>();
        if block.is_null() {
            return std::ptr::null_mut();
        }
        block.write(bytes as u64);
        block.add(1).cast()
    }
}

unsafe extern "C" fn size(memory: *mut c_void) -> c_int {
    if memory.is_null() {
        return 0;
    }
    // SAFETY: `memory` came from `malloc` or `realloc` above, which wrote its size before it.
    unsafe { memory.cast::<u64>().sub(1).read() as c_int }
}

/// Sizes as SQLite will be given them: rounded up to eight bytes, like its own allocator's.
unsafe extern "C" fn roundup(bytes: c_int) -> c_int {
    bytes.saturating_add(7) & !7
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_and_contents_when_they_grow() {
        // SAFETY: each block is used within the size asked for and freed once.
        unsafe {
            let block = malloc(100).cast::<u8>();
            assert!(!block.is_null());
            assert_eq!(size(block.cast()), 100);
            std::ptr::write_bytes(block, 7, 100);
            let grown = realloc(block.cast(), 10_000).cast::<u8>();
            assert_eq!(size(grown.cast()), 10_000);
            assert!(std::slice::from_raw_parts(grown, 100).iter().all(|b| *b == 7));
            assert_eq!(grown as usize % 8, 0);
            free(grown.cast());
            free(std::ptr::null_mut());
            assert_eq!(size(std::ptr::null_mut()), 0);
            assert!(malloc(-1).is_null());
        }
    }

    #[test]
    fn sizes_round_up_to_eight_bytes() {
        // SAFETY: `roundup` only computes.
        unsafe {
            assert_eq!(roundup(1), 8);
            assert_eq!(roundup(8), 8);
            assert_eq!(roundup(4097), 4104);
        }
    }
}
