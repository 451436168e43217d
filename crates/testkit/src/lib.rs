//! Test support shared by the workspace's test suites: a throwaway PostgreSQL cluster and a
//! headless Chromium driven over WebDriver. Nothing here downloads anything; both use the
//! machine's own binaries (see `.ci/run` for how they are installed).

// Test support fails a test by panicking with the reason; nothing here runs in production.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod postgres;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A TCP port on the loopback that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A new directory for one test's files (`what` names it), under `<temp>/outbreak-tests/`.
/// Tests hand the stores they open to servers and tasks that outlive any guard, so nothing
/// removes a directory when its test ends; instead the first call in each test process
/// removes the directories that earlier runs left more than an hour ago.
pub fn scratch_dir(what: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let root = std::env::temp_dir().join("outbreak-tests");
    SWEPT.call_once(|| remove_older_than(&root, Duration::from_secs(3600)));
    let dir = root.join(format!("{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Removes the entries of `root` last changed more than `age` ago; what cannot be read or
/// removed (another run's files in use) is left.
fn remove_older_than(root: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let changed = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if changed.is_some_and(|elapsed| elapsed > age) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The `shared/` folder beside the repository, which holds test data the project reads in
/// place; `None` where it is absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.is_dir().then_some(dir)
}
