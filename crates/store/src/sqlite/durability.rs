//! Group commit for SQLite: a write is answered once the disk holds it, without the single
//! writer waiting for the disk.
//!
//! The connections commit with `synchronous = NORMAL`, which writes a transaction's pages
//! to the WAL file but does not flush it. A thread of its own then flushes the WAL file
//! (`fdatasync`) for every commit made since its last flush at once, and each write waits
//! for the first flush that began after its commit. Meanwhile the writer is already
//! running the next transactions, so the disk's latency no longer caps how many
//! transactions a second the writer gets through, and one flush serves many of them.
//!
//! Why this is as safe as `synchronous = FULL`: a commit's frames are in the WAL file when
//! `commit` returns, and flushing the file puts them on disk; SQLite reuses the WAL from
//! its start only after a checkpoint has copied every frame into the database file and
//! flushed that file (which `NORMAL` still does). Should a flush ever fail, the kernel may
//! have dropped the pages it could not write, so no later flush proves anything: every
//! write waiting then, and every write after, gets an error until the server restarts
//! (PostgreSQL makes the same choice).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::{Result, StoreError};

/// Where the flushing stands, as every waiting write sees it.
#[derive(Clone, Debug, Default)]
struct Flushed {
    /// Every commit numbered up to this one is on disk.
    through: u64,
    /// Set once a flush has failed; no commit after `through` will ever be on disk.
    failure: Option<Arc<str>>,
}

/// Numbers commits and tells writes when theirs is on disk.
pub(super) struct Durability {
    /// The number of the latest commit whose frames are in the WAL file.
    committed: Mutex<u64>,
    wake: Condvar,
    flushed: watch::Sender<Flushed>,
}

impl Durability {
    /// Starts the flushing thread for the WAL of the database at `path`; it ends once the
    /// store has dropped its handle.
    pub(super) fn start(path: &Path) -> Arc<Durability> {
        let durability = Arc::new(Durability {
            committed: Mutex::new(0),
            wake: Condvar::new(),
            flushed: watch::Sender::new(Flushed::default()),
        });
        let wal = wal_path(path);
        let handle = durability.clone();
        let spawned = std::thread::Builder::new().name("sqlite-flush".into()).spawn(move || flush_loop(&handle, &wal));
        if let Err(e) = spawned {
            durability.fail(format!("no thread to flush the SQLite WAL: {e}"));
        }
        durability
    }

    /// Numbers a commit that has just been written to the WAL. Called with the writer
    /// held, so numbers follow the order of commits.
    pub(super) fn committed(&self) -> u64 {
        let mut committed = self.committed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *committed += 1;
        self.wake.notify_one();
        *committed
    }

    /// Waits until commit `number` is on disk.
    pub(super) async fn on_disk(&self, number: u64) -> Result<()> {
        let mut flushed = self.flushed.subscribe();
        let state = flushed
            .wait_for(|f| f.through >= number || f.failure.is_some())
            .await
            .map_err(|_| StoreError::Backend("the SQLite WAL flushing thread has stopped".into()))?;
        match (&state.failure, state.through >= number) {
            (_, true) => Ok(()),
            (Some(failure), false) => Err(StoreError::Backend(failure.to_string())),
            (None, false) => Err(StoreError::Backend("the SQLite WAL was not flushed".into())),
        }
    }

    /// Flushes the WAL at once, from the calling thread (for bulk loads that hold the
    /// writer themselves and for migrations).
    pub(super) fn flush_now(&self, path: &Path) -> Result<()> {
        let number = self.committed();
        let mut wal = Wal::new(wal_path(path));
        match wal.flush() {
            Ok(()) => {
                self.flushed.send_if_modified(|f| {
                    let advanced = f.failure.is_none() && f.through < number;
                    if advanced {
                        f.through = number;
                    }
                    advanced
                });
                Ok(())
            }
            Err(e) => Err(self.fail(format!("flushing the SQLite WAL failed: {e}"))),
        }
    }

    fn fail(&self, message: String) -> StoreError {
        ::tracing::error!(error = %message, "SQLite writes will fail until the server restarts");
        let failure: Arc<str> = message.clone().into();
        self.flushed.send_modify(|f| {
            f.failure.get_or_insert(failure);
        });
        StoreError::Backend(message)
    }
}

fn flush_loop(durability: &Arc<Durability>, wal: &Path) {
    let mut file = Wal::new(wal.to_owned());
    let mut through = 0;
    loop {
        let target = {
            let mut committed = durability.committed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            while *committed == through {
                // Only this thread's handle left: the store is gone.
                if Arc::strong_count(durability) == 1 {
                    return;
                }
                committed = durability
                    .wake
                    .wait_timeout(committed, Duration::from_millis(500))
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            *committed
        };
        if let Err(e) = file.flush() {
            durability.fail(format!("flushing the SQLite WAL failed: {e}"));
            return;
        }
        through = target;
        let mut failed = false;
        durability.flushed.send_modify(|f| match f.failure {
            None => f.through = f.through.max(target),
            Some(_) => failed = true,
        });
        if failed {
            return;
        }
    }
}

fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The WAL file, kept open between flushes and opened again should SQLite ever have
/// replaced it (it deletes the file when the last connection closes).
struct Wal {
    path: PathBuf,
    open: Option<(File, u64)>,
}

impl Wal {
    fn new(path: PathBuf) -> Wal {
        Wal { path, open: None }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let inode = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata.ino(),
            // No WAL file: every commit is already in the database file, flushed by the
            // checkpoint that emptied it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if !matches!(&self.open, Some((_, open)) if *open == inode) {
            self.open = Some((File::open(&self.path)?, inode));
        }
        match &self.open {
            Some((file, _)) => file.sync_data(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn database() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("outbreak-durability-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.sqlite")
    }

    #[tokio::test]
    async fn a_commit_is_answered_once_flushed() {
        let path = database();
        std::fs::write(wal_path(&path), b"frames").unwrap();
        let durability = Durability::start(&path);
        let first = durability.committed();
        let second = durability.committed();
        durability.on_disk(second).await.unwrap();
        durability.on_disk(first).await.unwrap();
        // No WAL file at all: nothing is waiting to be flushed.
        std::fs::remove_file(wal_path(&path)).unwrap();
        let third = durability.committed();
        durability.on_disk(third).await.unwrap();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn after_a_failed_flush_every_later_write_fails() {
        let path = database();
        let durability = Durability::start(&path);
        let flushed = durability.committed();
        durability.on_disk(flushed).await.unwrap();
        durability.fail("the disk is gone".into());
        let waiting = durability.committed();
        let error = durability.on_disk(waiting).await.unwrap_err();
        assert!(error.to_string().contains("the disk is gone"), "{error}");
        // What was on disk before the failure stays answered.
        durability.on_disk(flushed).await.unwrap();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
