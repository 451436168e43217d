//! Test support shared by the workspace's test suites: a throwaway PostgreSQL cluster and a
//! headless Chromium driven over WebDriver. Nothing here downloads anything; both use the
//! machine's own binaries (see `.ci/run` for how they are installed).

// Test support fails a test by panicking with the reason; nothing here runs in production.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod postgres;

use std::net::TcpListener;
use std::path::PathBuf;

/// A TCP port on the loopback that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// The `shared/` folder beside the repository, which holds test data the project reads in
/// place; `None` where it is absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}
