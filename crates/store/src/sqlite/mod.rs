//! The embedded store: one SQLite file in WAL mode.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a small pool of
//! readers, each used on Tokio's blocking threads so a slow query never stalls the server.

mod certificates;
mod checkins;
mod durability;
mod inbox;
mod rows;
mod testing;
mod vaccination;
// Named apart from the `tracing` crate, which this module logs with.
#[path = "tracing.rs"]
mod contact_tracing;
mod zoning;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use outbreak_domain::tracing::LONGEST_STAY;
use outbreak_domain::venue::Visitor;
use outbreak_domain::{Person, PersonId, Phone, Role, Unit, UnitCode};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params, params_from_iter};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::*;
use crate::{
    AccountStore, AuditStore, KeyStore, PersonStore, Result, SessionStore, Store, StoreError, UnitStore, key64,
    name_pattern, subtree_range,
};
use durability::Durability;
use rows::*;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("0001_foundation.sql")),
    (2, include_str!("0002_checkins.sql")),
    (3, include_str!("0003_testing.sql")),
    (4, include_str!("0004_tracing.sql")),
    (5, include_str!("0005_zoning.sql")),
    (6, include_str!("0006_vaccination.sql")),
    (7, include_str!("0007_certificates.sql")),
    (8, include_str!("0008_restrictions.sql")),
    (9, include_str!("0009_certificate_subjects.sql")),
    (10, include_str!("0010_venue_stays.sql")),
    (11, include_str!("0011_consumer_leases.sql")),
    (12, include_str!("0012_people_match.sql")),
    (13, include_str!("0013_contacts_unindexed_person.sql")),
    (14, include_str!("0014_slim_checkins.sql")),
    (15, include_str!("0015_people_keys.sql")),
    (16, include_str!("0016_queue_by_unit.sql")),
    (17, include_str!("0017_retention_by_venue.sql")),
    (18, include_str!("0018_checkin_inbox.sql")),
    (19, include_str!("0019_client_keys_in_checkins.sql")),
    (20, include_str!("0020_totals_by_day.sql")),
    (21, include_str!("0021_contacts_identified.sql")),
    (22, include_str!("0022_phone_contacts.sql")),
];

/// Readers kept open between requests; more are opened under load and closed after.
const IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    /// How many results one transaction records (see `record_results`).
    results_per_transaction: usize,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    durability: Arc<Durability>,
    /// Locked only by the writer, inside its transactions.
    inbox: Mutex<inbox::Inbox>,
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // NORMAL: a commit is written to the WAL but not flushed; `durability` flushes the WAL
    // before a write is answered, so an acknowledged write survives a power cut, not only a
    // crash of the process, while the writer goes on with the next transaction.
    //
    // Memory: the writer caches up to 128 MiB of pages, each reader 64 MiB
    // (`connect_reader`), so the idle pool and the writer hold at most 640 MiB. The soft
    // heap limit (the process's, not the connection's) is a guard for the readers opened
    // beyond the pool under load: past it, every cache recycles its pages rather than grow,
    // and a writer that runs out of clean pages to recycle writes its changes to the WAL
    // before its commit, so it is set above what the pool and the writer use. The file is
    // not memory-mapped: each connection would map it on its own, and a page read by
    // several would count in the server's resident memory once for each.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;
         PRAGMA cache_size = -131072;
         PRAGMA soft_heap_limit = 805306368;
         PRAGMA mmap_size = 0;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 262144;",
    )?;
    // Recording a batch of results alone uses more statements than rusqlite keeps by
    // default (16); each one pushed out is compiled again the next time.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The page cache of a connection for reads, in KiB: smaller than the writer's (see
/// `connect`).
pub const READER_CACHE_KIB: i64 = 65536;

/// The longest stay of each class of the venue index but the last (migration 15's
/// `stay_class`, 0 to 4), in minutes; the last class holds the longer stays, up to
/// [`LONGEST_STAY`].
const STAY_CLASS_MINUTES: [i64; 5] = [15, 30, 60, 120, 240];

/// The longest stay of each class in turn, in microseconds.
fn stay_class_longest() -> impl Iterator<Item = i64> {
    STAY_CLASS_MINUTES.iter().map(|m| m * 60_000_000).chain([LONGEST_STAY.whole_microseconds() as i64])
}

/// The stay classes as a table `k(class, longest)`, the longest in microseconds, for a
/// single statement that reads the venue index by time class by class, each as far back as
/// its longest stay (the trace benchmark's floor; the co-presence search reads a range per
/// class from `stay_class_longest`).
pub static STAY_CLASSES: LazyLock<String> = LazyLock::new(|| {
    let rows: Vec<String> =
        stay_class_longest().enumerate().map(|(class, micros)| format!("({class}, {micros})")).collect();
    format!("k(class, longest) AS (VALUES {})", rows.join(", "))
});

/// Every stay class, for a query that reads one venue's check-ins by time alone.
static EVERY_STAY_CLASS: LazyLock<String> = LazyLock::new(|| {
    let classes: Vec<String> = (0..stay_class_longest().count()).map(|class| class.to_string()).collect();
    format!("stay_class IN ({})", classes.join(", "))
});

/// A connection for reads.
fn connect_reader(path: &Path) -> Result<Connection> {
    let conn = connect(path)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

/// How often the checkpointer copies committed pages from the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the WAL on a thread of its own, so that the writer never stops to copy pages
/// back (on a busy server that is a tenth of its time). The writer still checkpoints by
/// itself if this thread ever falls a gigabyte behind (`wal_autocheckpoint` above). The
/// thread ends when the store is dropped.
fn start_checkpointer(store: std::sync::Weak<Inner>, path: PathBuf) {
    let spawned = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
        let conn = match connect(&path) {
            Ok(conn) => conn,
            Err(e) => return ::tracing::warn!(error = %e, "the SQLite checkpointer could not connect"),
        };
        while store.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                ::tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
            }
        }
    });
    if let Err(e) = spawned {
        ::tracing::warn!(error = %e, "no SQLite checkpointer thread; the writer checkpoints by itself");
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("a SQLite connection lock was poisoned by an earlier failure".into())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_owned();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
            }
            let mut writer = connect(&path)?;
            migrate(&mut writer)?;
            // Check-ins answered before a stop: from here on only the writer's map says
            // what the inbox holds.
            let mut inbox = inbox::Inbox::default();
            let tx = writer.transaction()?;
            inbox.move_all(&tx)?;
            tx.commit()?;
            let durability = Durability::start(&path);
            durability.flush_now(&path)?;
            let inner = Arc::new(Inner {
                path: path.clone(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                durability,
                inbox: Mutex::new(inbox),
            });
            start_checkpointer(Arc::downgrade(&inner), path);
            Ok(SqliteStore { inner, results_per_transaction: testing::RESULTS_PER_TRANSACTION })
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// The store recording results in transactions of `size` rather than the default
    /// (tests use a few, to see a file commit in several).
    pub fn with_results_per_transaction(self, size: usize) -> SqliteStore {
        SqliteStore { results_per_transaction: size.max(1), ..self }
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(poisoned)?.pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => connect_reader(&inner.path)?,
            };
            let result = f(&conn);
            let mut readers = inner.readers.lock().map_err(poisoned)?;
            if readers.len() < IDLE_READERS {
                readers.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Like `read`, for reads of check-ins: the inbox is moved into `checkins` first when it
    /// holds any, so that the read sees every check-in recorded before it began.
    async fn read_checkins<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = self
            .read(|c| Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM checkin_inbox)", [], |r| r.get::<_, bool>(0))?))
            .await?;
        if held {
            let inner = self.inner.clone();
            // Not waited for on the disk: every check-in moved is there already, in the inbox.
            let Ok(_) = self
                .commit_if(move |tx| {
                    inner.inbox.lock().map_err(poisoned)?.move_all(tx)?;
                    Ok(Ok::<_, std::convert::Infallible>(()))
                })
                .await?;
        }
        self.read(f).await
    }

    /// Like `read`, on a connection of its own that reads the file through a memory map, for
    /// work that reads many pages once each (planning a results upload). Pages then come
    /// straight from the operating system's cache: no system call and copy for each, and no
    /// page of SQLite's cache, whose allocation takes a lock the writer takes too. The map
    /// counts in the server's resident memory, so the connection is closed after, and the map
    /// with it.
    async fn read_mapped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = connect_reader(&path)?;
            // As much of the file as SQLite was built to map (`.cargo/config.toml`).
            let bytes: i64 = conn.pragma_update_and_check(None, "mmap_size", i64::MAX, |r| r.get(0))?;
            ::tracing::debug!(bytes, "mapped the database file for reading");
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Runs `f` in one write transaction: all of it is committed or none of it.
    async fn write<T: Send + 'static>(&self, f: impl FnOnce(&Transaction) -> Result<T> + Send + 'static) -> Result<T> {
        let kept = self.write_if(move |tx| f(tx).map(Ok::<T, std::convert::Infallible>)).await?;
        Ok(kept.unwrap_or_else(|never| match never {}))
    }

    /// Runs `f` in one write transaction, committed if `f` answers `Ok` and rolled back if
    /// it answers `Err` (it found the store other than it expected).
    async fn write_if<T: Send + 'static, U: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<std::result::Result<T, U>> + Send + 'static,
    ) -> Result<std::result::Result<T, U>> {
        let asked = std::time::Instant::now();
        let (value, commit, [locked, worked, committed]) = match self.commit_if(f).await? {
            Ok(done) => done,
            Err(undone) => return Ok(Err(undone)),
        };
        self.inner.durability.on_disk(commit).await?;
        // Where a write's time goes, for the trace log: waiting for the writer, the work,
        // writing the WAL, then waiting for the flush.
        ::tracing::trace!(
            lock_us = locked.as_micros() as u64,
            work_us = (worked - locked).as_micros() as u64,
            commit_us = (committed - worked).as_micros() as u64,
            disk_us = (asked.elapsed() - committed).as_micros() as u64,
            "sqlite write"
        );
        Ok(Ok(value))
    }

    /// `write_if` without waiting for the disk: the commit's number, for a caller that
    /// writes several transactions in a row to wait once for the last
    /// (`Durability::on_disk`), and the time it took to get the writer, to do the work and
    /// to commit.
    async fn commit_if<T: Send + 'static, U: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<std::result::Result<T, U>> + Send + 'static,
    ) -> Result<std::result::Result<(T, u64, [std::time::Duration; 3]), U>> {
        let inner = self.inner.clone();
        let asked = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(poisoned)?;
            let locked = asked.elapsed();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let value = match f(&tx)? {
                Ok(value) => value,
                Err(undone) => {
                    tx.rollback()?;
                    return Ok(Err(undone));
                }
            };
            let worked = asked.elapsed();
            tx.commit()?;
            Ok(Ok((value, inner.durability.committed(), [locked, worked, asked.elapsed()])))
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    migration_functions(conn)?;
    apply(conn, MIGRATIONS)
}

/// The functions of our own that migrations call.
fn migration_functions(conn: &Connection) -> Result<()> {
    // Migration 14 keys the venues already stored as the code does.
    conn.create_scalar_function(
        "venue_key",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |f| {
            let id: String = f.get(0)?;
            let id = uuid::Uuid::parse_str(&id).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            Ok(crate::venue_key(outbreak_domain::venue::VenueId(id)))
        },
    )?;
    // Migration 15 keys the people already stored by their visitor keys, migration 19 and
    // the inbox's moves hash client keys (NULL where a check-in came without one). It stays
    // on the writer's connection after the migrations.
    conn.create_scalar_function("key64", 1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |f| {
        Ok(f.get::<Option<String>>(0)?.map(|text| key64(&text)))
    })?;
    Ok(())
}

/// Applies those of `migrations` not yet applied, each in a transaction of its own.
fn apply(conn: &mut Connection, migrations: &[(i64, &str)]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in migrations {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| {
                r.get(0)
            })?;
        if !applied {
            ::tracing::info!(version, "applying SQLite migration");
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, micros(crate_now())],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn crate_now() -> OffsetDateTime {
    outbreak_domain::now()
}

/// Which unique column a failed insert collided with, if that is what failed.
fn unique_violation(error: &rusqlite::Error) -> Option<&str> {
    match error {
        rusqlite::Error::SqliteFailure(e, Some(message)) if e.code == ErrorCode::ConstraintViolation => message
            .strip_prefix("UNIQUE constraint failed: ")
            .or_else(|| message.strip_prefix("PRIMARY KEY constraint failed: ")),
        _ => None,
    }
}

fn unit_path(tx: &Connection, code: &UnitCode, field: &'static str) -> Result<String> {
    tx.prepare_cached("SELECT path FROM units WHERE code = ?1")?
        .query_row([code.as_str()], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound(field))
}

/// Units' paths as one transaction has read them: a batch of people or registrations names
/// the same few units again and again.
#[derive(Default)]
struct UnitPaths(std::collections::HashMap<String, Option<String>>);

impl UnitPaths {
    fn path(&mut self, tx: &Connection, code: &UnitCode, field: &'static str) -> Result<String> {
        if !self.0.contains_key(code.as_str()) {
            let path = unit_path(tx, code, field).map(Some).or_else(|e| match e {
                StoreError::NotFound(_) => Ok(None),
                e => Err(e),
            })?;
            self.0.insert(code.as_str().to_owned(), path);
        }
        self.0.get(code.as_str()).cloned().flatten().ok_or(StoreError::NotFound(field))
    }
}

/// Writes a person (insert or replace), mapping collisions to the field and existing record.
fn put_person(tx: &Connection, paths: &mut UnitPaths, person: &Person, replace: bool) -> Result<()> {
    let address_path = paths.path(tx, &person.address_unit, "address_unit")?;
    if let Some(household) = &person.household {
        paths.path(tx, household, "household")?;
    }
    let sql = if replace {
        "UPDATE people SET full_name = ?2, name_folded = ?3, date_of_birth = ?4, birth_year = ?5, sex = ?6,
            phone = ?7, cccd = ?8, insurance_number = ?9, address_unit = ?10, address_path = ?11, street = ?12,
            household = ?13, updated_at = ?15, key = ?16 WHERE id = ?1"
    } else {
        "INSERT INTO people (id, full_name, name_folded, date_of_birth, birth_year, sex, phone, cccd, insurance_number,
            address_unit, address_path, street, household, created_at, updated_at, key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    };
    let written = tx.prepare_cached(sql)?.execute(params![
        person.id.0.to_string(),
        person.full_name,
        person.folded_name(),
        person.date_of_birth.to_string(),
        person.date_of_birth.year(),
        person.sex.as_str(),
        person.phone.as_ref().map(Phone::as_str),
        person.cccd.as_ref().map(|c| c.as_str()),
        person.insurance_number.as_ref().map(|n| n.as_str()),
        person.address_unit.as_str(),
        address_path,
        person.street,
        person.household.as_ref().map(UnitCode::as_str),
        micros(person.created_at),
        micros(person.updated_at),
        // The index key of the person's visitor key (their id): tracing finds them by it.
        key64(&Visitor::Person(person.id).key()),
    ]);
    match written {
        Ok(0) => Err(StoreError::NotFound("person")),
        Ok(_) => Ok(()),
        Err(error) => Err(match unique_violation(&error) {
            Some("people.cccd") => conflict(tx, "cccd", person.cccd.as_ref().map(|c| c.as_str())),
            Some("people.insurance_number") => {
                conflict(tx, "insurance_number", person.insurance_number.as_ref().map(|n| n.as_str()))
            }
            Some("people.id") => StoreError::Conflict { field: "id", existing: Some(person.id.to_string()) },
            _ => error.into(),
        }),
    }
}

fn conflict(tx: &Connection, field: &'static str, value: Option<&str>) -> StoreError {
    let sql = match field {
        "cccd" => "SELECT id FROM people WHERE cccd = ?1",
        _ => "SELECT id FROM people WHERE insurance_number = ?1",
    };
    let existing = tx.query_row(sql, [value], |r| r.get::<_, String>(0)).optional().ok().flatten();
    StoreError::Conflict { field, existing }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}

#[async_trait]
impl UnitStore for SqliteStore {
    async fn seed_units(&self, units: &[Unit]) -> Result<u64> {
        let units = units.to_vec();
        self.write(move |tx| {
            let mut insert = tx.prepare(
                "INSERT INTO units (code, parent_code, level, name, name_folded, division_type, path, population)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (code) DO NOTHING",
            )?;
            let mut added = 0;
            for unit in &units {
                added += insert.execute(rusqlite::params_from_iter(unit_params(unit)))? as u64;
            }
            Ok(added)
        })
        .await
    }

    async fn insert_unit(&self, unit: &Unit) -> Result<()> {
        let unit = unit.clone();
        self.write(move |tx| {
            if let Some(parent) = &unit.parent {
                unit_path(tx, parent, "parent")?;
            }
            tx.execute(
                "INSERT INTO units (code, parent_code, level, name, name_folded, division_type, path, population)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params_from_iter(unit_params(&unit)),
            )
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "code", existing: Some(unit.code.to_string()) },
                None => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn unit(&self, code: &UnitCode) -> Result<Option<Unit>> {
        let code = code.clone();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE code = ?1"))?
                .query_row([code.as_str()], unit_row)
                .optional()?)
        })
        .await
    }

    async fn child_units(&self, code: &UnitCode) -> Result<Vec<Unit>> {
        let code = code.clone();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE parent_code = ?1 ORDER BY code"))?;
            let units = stmt.query_map([code.as_str()], unit_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(units)
        })
        .await
    }

    async fn find_units(&self, folded: &str, scope: &[String], limit: u32) -> Result<Vec<Unit>> {
        let pattern = name_pattern(folded);
        let code = folded.trim().to_uppercase();
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE (name_folded LIKE ?1 OR code = ?2) AND (");
            let mut values: Vec<String> = vec![pattern, code];
            push_scope(&mut sql, &mut values, "path", &scope);
            sql.push_str(&format!(") ORDER BY length(path), code LIMIT {limit}"));
            let mut stmt = c.prepare(&sql)?;
            let units = stmt.query_map(params_from_iter(values.iter()), unit_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(units)
        })
        .await
    }

    async fn set_population(&self, figures: &[(UnitCode, i64)]) -> Result<()> {
        let figures = figures.to_vec();
        self.write(move |tx| {
            let mut update = tx.prepare("UPDATE units SET population = ?2 WHERE code = ?1")?;
            for (code, population) in &figures {
                if update.execute(params![code.as_str(), population])? == 0 {
                    return Err(StoreError::NotFound("unit"));
                }
            }
            Ok(())
        })
        .await
    }
}

/// Appends `(col >= ? AND col < ?) OR …` for each path prefix; `0` (false) when none.
fn push_scope(sql: &mut String, values: &mut Vec<String>, column: &str, scope: &[String]) {
    if scope.is_empty() {
        sql.push('0');
    }
    for (i, prefix) in scope.iter().enumerate() {
        let (low, high) = subtree_range(prefix);
        if i > 0 {
            sql.push_str(" OR ");
        }
        values.push(low);
        let low_at = values.len();
        values.push(high);
        sql.push_str(&format!("({column} >= ?{low_at} AND {column} < ?{})", low_at + 1));
    }
}

#[async_trait]
impl PersonStore for SqliteStore {
    async fn insert_person(&self, person: &Person) -> Result<()> {
        let person = person.clone();
        self.write(move |tx| put_person(tx, &mut UnitPaths::default(), &person, false)).await
    }

    async fn insert_people(&self, people: &[Person]) -> Result<()> {
        let people = people.to_vec();
        self.write(move |tx| {
            let mut paths = UnitPaths::default();
            people.iter().try_for_each(|p| put_person(tx, &mut paths, p, false))
        })
        .await
    }

    async fn update_person(&self, person: &Person) -> Result<()> {
        let person = person.clone();
        self.write(move |tx| put_person(tx, &mut UnitPaths::default(), &person, true)).await
    }

    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1"))?
                .query_row([id.0.to_string()], person_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn search_people(&self, query: &PersonQuery) -> Result<Vec<PersonRecord>> {
        let query = query.clone();
        self.read(move |c| {
            let mut sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE (");
            let mut values: Vec<String> = Vec::new();
            push_scope(&mut sql, &mut values, "address_path", &query.scope);
            sql.push(')');
            for (column, value) in
                [("cccd", &query.cccd), ("phone", &query.phone), ("insurance_number", &query.insurance_number)]
            {
                if let Some(value) = value {
                    values.push(value.clone());
                    sql.push_str(&format!(" AND {column} = ?{}", values.len()));
                }
            }
            if let Some(name) = &query.name {
                values.push(name_pattern(name));
                sql.push_str(&format!(" AND name_folded LIKE ?{}", values.len()));
            }
            sql.push_str(&format!(" ORDER BY name_folded, id LIMIT {} OFFSET {}", query.limit, query.offset));
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), person_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn people_by_phone(&self, phone: &Phone) -> Result<Vec<PersonRecord>> {
        let phone = phone.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {PERSON_COLUMNS} FROM people WHERE phone = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([phone.as_str()], person_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn count_people(&self) -> Result<u64> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM people", [], |r| r.get::<_, i64>(0))? as u64)).await
    }
}

/// Events one outbox `INSERT` writes. The table keeps its sequence (`AUTOINCREMENT`), which
/// a statement reads and writes back once however many rows it adds, so a trace's
/// thousands of events go in statements of this many. A statement that may stop half-way
/// journals the pages it changes first, but the outbox only grows at its end, and new
/// pages need no journal.
const EVENTS_PER_INSERT: usize = 32;

const INSERT_EVENT: &str = "INSERT INTO events (kind, subject, unit_path, payload, at) VALUES (?, ?, ?, ?, ?)";

static INSERT_EVENTS: LazyLock<String> =
    LazyLock::new(|| format!("{INSERT_EVENT}{}", ", (?, ?, ?, ?, ?)".repeat(EVENTS_PER_INSERT - 1)));

/// Appends events to the outbox, in order.
fn insert_events(tx: &Connection, events: &[crate::testing::plan::NewEvent]) -> Result<()> {
    // Binds an event's columns from parameter `first` on.
    let bind = |insert: &mut rusqlite::Statement, first: usize, e: &crate::testing::plan::NewEvent| {
        insert.raw_bind_parameter(first, e.kind)?;
        insert.raw_bind_parameter(first + 1, &e.subject)?;
        insert.raw_bind_parameter(first + 2, &e.unit_path)?;
        insert.raw_bind_parameter(first + 3, e.payload.get())?;
        insert.raw_bind_parameter(first + 4, micros(e.at))
    };
    let mut chunks = events.chunks_exact(EVENTS_PER_INSERT);
    let mut insert = tx.prepare_cached(&INSERT_EVENTS)?;
    for chunk in &mut chunks {
        for (i, e) in chunk.iter().enumerate() {
            bind(&mut insert, 5 * i + 1, e)?;
        }
        insert.raw_execute()?;
    }
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    for e in chunks.remainder() {
        bind(&mut insert, 1, e)?;
        insert.raw_execute()?;
    }
    Ok(())
}

fn insert_audit(tx: &Connection, e: &NewAuditEntry) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (at, actor, actor_kind, action, entity, entity_id, detail, client)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![micros(e.at), e.actor, e.actor_kind, e.action, e.entity, e.entity_id, e.detail, e.client])?;
    Ok(())
}

fn insert_grants(tx: &Connection, id: Uuid, grants: &[(Role, UnitCode)]) -> Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO account_grants (account_id, role, unit_code) VALUES (?1, ?2, ?3)")?;
    for (role, unit) in grants {
        unit_path(tx, unit, "unit")?;
        insert.execute(params![id.to_string(), role.as_str(), unit.as_str()])?;
    }
    Ok(())
}

fn load_account(c: &Connection, column: &str, value: &str) -> Result<Option<Account>> {
    let account = c
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?1"))?
        .query_row([value], account_row)
        .optional()?;
    let Some(mut account) = account.transpose()? else { return Ok(None) };
    account.grants = grants_of(c, account.id)?;
    Ok(Some(account))
}

fn grants_of(c: &Connection, id: Uuid) -> Result<Vec<outbreak_domain::Grant>> {
    let mut stmt = c.prepare_cached(
        "SELECT g.role, g.unit_code, u.path FROM account_grants g JOIN units u ON u.code = g.unit_code
         WHERE g.account_id = ?1 ORDER BY u.path, g.role",
    )?;
    let rows = stmt.query_map([id.to_string()], |r| Ok(grant(r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.map(|r| r?).collect()
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_account(&self, account: &NewAccount) -> Result<()> {
        let account = account.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO accounts (id, kind, username, display_name, password_hash, disabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    account.id.to_string(),
                    account.kind.as_str(),
                    account.username,
                    account.display_name,
                    account.password_hash,
                    micros(account.created_at)
                ],
            )
            .map_err(|e| match unique_violation(&e) {
                Some("accounts.username") => StoreError::Conflict { field: "username", existing: None },
                _ => e.into(),
            })?;
            insert_grants(tx, account.id, &account.grants)
        })
        .await
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        self.read(move |c| load_account(c, "id", &id.to_string())).await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<Account>> {
        let username = username.to_owned();
        self.read(move |c| load_account(c, "username", &username)).await
    }

    async fn list_accounts(&self, scope: &[String]) -> Result<Vec<Account>> {
        let scope = scope.to_vec();
        self.read(move |c| {
            let mut sql = format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN (SELECT g.account_id FROM account_grants g
                 JOIN units u ON u.code = g.unit_code WHERE "
            );
            let mut values = Vec::new();
            push_scope(&mut sql, &mut values, "u.path", &scope);
            sql.push_str(") ORDER BY username");
            let mut stmt = c.prepare(&sql)?;
            let accounts: Vec<Account> =
                stmt.query_map(params_from_iter(values.iter()), account_row)?.map(|r| r?).collect::<Result<_>>()?;
            accounts
                .into_iter()
                .map(|mut a| {
                    a.grants = grants_of(c, a.id)?;
                    Ok(a)
                })
                .collect()
        })
        .await
    }

    async fn set_grants(&self, id: Uuid, grants: &[(Role, UnitCode)]) -> Result<()> {
        let grants = grants.to_vec();
        self.write(move |tx| {
            if tx.execute("DELETE FROM account_grants WHERE account_id = ?1", [id.to_string()])? == 0
                && tx.query_row("SELECT count(*) FROM accounts WHERE id = ?1", [id.to_string()], |r| {
                    r.get::<_, i64>(0)
                })? == 0
            {
                return Err(StoreError::NotFound("account"));
            }
            insert_grants(tx, id, &grants)
        })
        .await
    }

    async fn set_account_disabled(&self, id: Uuid, disabled: bool) -> Result<()> {
        self.write(move |tx| {
            match tx.execute("UPDATE accounts SET disabled = ?2 WHERE id = ?1", params![id.to_string(), disabled])? {
                0 => Err(StoreError::NotFound("account")),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn insert_api_token(&self, token: &ApiToken) -> Result<()> {
        let token = token.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO api_tokens (id, account_id, name, hash, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    token.id.to_string(),
                    token.account_id.to_string(),
                    token.name,
                    token.hash,
                    micros(token.created_at),
                    token.revoked_at.map(micros)
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => StoreError::NotFound("account"),
                _ => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
        let hash = hash.to_vec();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"))?
                .query_row([hash], token_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn api_tokens(&self, account_id: Uuid) -> Result<Vec<ApiToken>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([account_id.to_string()], token_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn revoke_api_token(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        self.write(move |tx| {
            match tx.execute(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                params![id.to_string(), micros(at)],
            )? {
                0 => Err(StoreError::NotFound("token")),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: &Session) -> Result<()> {
        let session = session.clone();
        self.write(move |tx| {
            let (staff, citizen) = owner_columns(&session.owner);
            tx.execute(
                "INSERT INTO sessions (hash, staff_account, citizen_phone, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![session.hash, staff.map(|id| id.to_string()), citizen, micros(session.created_at), micros(session.expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
        let hash = hash.to_vec();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT hash, staff_account, citizen_phone, created_at, expires_at FROM sessions WHERE hash = ?1",
            )?
            .query_row([hash], |r| {
                let staff = r.get::<_, Option<String>>(1)?;
                Ok(staff.as_deref().map(parse_uuid).transpose().and_then(|staff| {
                    session(r.get(0)?, staff, r.get(2)?, from_micros(r.get(3)?), from_micros(r.get(4)?))
                }))
            })
            .optional()?
            .transpose()
        })
        .await
    }

    async fn delete_session(&self, hash: &[u8]) -> Result<()> {
        let hash = hash.to_vec();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE hash = ?1", [hash])?;
            Ok(())
        })
        .await
    }

    async fn put_otp(&self, challenge: &OtpChallenge) -> Result<()> {
        let challenge = challenge.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO otp_challenges (phone, code_hash, expires_at, attempts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
                 attempts = excluded.attempts",
                params![
                    challenge.phone.as_str(),
                    challenge.code_hash,
                    micros(challenge.expires_at),
                    challenge.attempts
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn take_otp_attempt(&self, phone: &Phone) -> Result<Option<OtpChallenge>> {
        let phone = phone.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE otp_challenges SET attempts = attempts + 1 WHERE phone = ?1
                 RETURNING phone, code_hash, expires_at, attempts",
            )?
            .query_row([phone.as_str()], |r| Ok(otp(r.get(0)?, r.get(1)?, from_micros(r.get(2)?), r.get(3)?)))
            .optional()?
            .transpose()
        })
        .await
    }

    async fn delete_otp(&self, phone: &Phone) -> Result<()> {
        let phone = phone.clone();
        self.write(move |tx| {
            tx.execute("DELETE FROM otp_challenges WHERE phone = ?1", [phone.as_str()])?;
            Ok(())
        })
        .await
    }

    async fn record_otp_send(&self, phone: &Phone, client: &str, at: OffsetDateTime) -> Result<()> {
        let (phone, client) = (phone.clone(), client.to_owned());
        self.write(move |tx| {
            // Sends older than a day no longer count towards any limit.
            tx.execute("DELETE FROM otp_sends WHERE at < ?1", [micros(at - time::Duration::DAY)])?;
            tx.execute(
                "INSERT INTO otp_sends (phone, client, at) VALUES (?1, ?2, ?3)",
                params![phone.as_str(), client, micros(at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn count_otp_sends(&self, phone: &Phone, client: &str, since: OffsetDateTime) -> Result<(u64, u64)> {
        let (phone, client) = (phone.clone(), client.to_owned());
        self.read(move |c| {
            let by_phone: i64 = c.query_row(
                "SELECT count(*) FROM otp_sends WHERE phone = ?1 AND at >= ?2",
                params![phone.as_str(), micros(since)],
                |r| r.get(0),
            )?;
            let by_client: i64 = c.query_row(
                "SELECT count(*) FROM otp_sends WHERE client = ?1 AND at >= ?2",
                params![client, micros(since)],
                |r| r.get(0),
            )?;
            Ok((by_phone as u64, by_client as u64))
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<()> {
        let key = key.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO signing_keys (kid, purpose, secret, created_at, retired_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.kid, key.purpose, key.secret, micros(key.created_at), key.retired_at.map(micros)],
            )
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "kid", existing: Some(key.kid.clone()) },
                None => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>> {
        let purpose = purpose.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT kid, purpose, secret, created_at, retired_at FROM signing_keys WHERE purpose = ?1
                 ORDER BY created_at DESC, kid DESC",
            )?;
            let keys = stmt
                .query_map([purpose], |r| {
                    Ok(SigningKey {
                        kid: r.get(0)?,
                        purpose: r.get(1)?,
                        secret: r.get(2)?,
                        created_at: from_micros(r.get(3)?),
                        retired_at: r.get::<_, Option<i64>>(4)?.map(from_micros),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(keys)
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<()> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            match tx.execute(
                "UPDATE signing_keys SET retired_at = coalesce(retired_at, ?2) WHERE kid = ?1",
                params![kid, micros(at)],
            )? {
                0 => Err(StoreError::NotFound("kid")),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn insert_qr_token(&self, token: &QrToken) -> Result<()> {
        let token = token.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO qr_tokens (id, person_id, kid, issued_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.id,
                    token.person.0.to_string(),
                    token.kid,
                    micros(token.issued_at),
                    token.revoked_at.map(micros)
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => StoreError::NotFound("person"),
                _ => e.into(),
            })?;
            Ok(())
        })
        .await
    }

    async fn qr_token(&self, id: &str) -> Result<Option<QrToken>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {QR_COLUMNS} FROM qr_tokens WHERE id = ?1"))?
                .query_row([id], qr_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn active_qr_token(&self, person: PersonId) -> Result<Option<QrToken>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {QR_COLUMNS} FROM qr_tokens WHERE person_id = ?1 AND revoked_at IS NULL ORDER BY issued_at DESC, id LIMIT 1"
            ))?
            .query_row([person.0.to_string()], qr_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn revoke_qr_tokens(&self, person: PersonId, at: OffsetDateTime) -> Result<u64> {
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE qr_tokens SET revoked_at = ?2 WHERE person_id = ?1 AND revoked_at IS NULL",
                params![person.0.to_string(), micros(at)],
            )? as u64)
        })
        .await
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<()> {
        let e = entry.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_log (at, actor, actor_kind, action, entity, entity_id, detail, client)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                micros(e.at),
                e.actor,
                e.actor_kind,
                e.action,
                e.entity,
                e.entity_id,
                e.detail,
                e.client
            ])?;
            Ok(())
        })
        .await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let filter = filter.clone();
        self.read(move |c| {
            let mut sql = "SELECT id, at, actor, actor_kind, action, entity, entity_id, detail, client FROM audit_log WHERE 1 = 1".to_owned();
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            let mut push = |clause: &str, value: rusqlite::types::Value| {
                values.push(value);
                sql.push_str(&format!(" AND {clause} ?{}", values.len()));
            };
            if let Some(actor) = &filter.actor {
                push("actor =", actor.clone().into());
            }
            if let Some(action) = &filter.action {
                push("action =", action.clone().into());
            }
            if let Some(entity_id) = &filter.entity_id {
                push("entity_id =", entity_id.clone().into());
            }
            if let Some(since) = filter.since {
                push("at >=", micros(since).into());
            }
            if let Some(until) = filter.until {
                push("at <", micros(until).into());
            }
            if let Some(before) = filter.before_id {
                push("id <", before.into());
            }
            sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", filter.limit));
            let mut stmt = c.prepare(&sql)?;
            let entries = stmt
                .query_map(params_from_iter(values.iter()), |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: from_micros(r.get(1)?),
                        actor: r.get(2)?,
                        actor_kind: r.get(3)?,
                        action: r.get(4)?,
                        entity: r.get(5)?,
                        entity_id: r.get(6)?,
                        detail: r.get(7)?,
                        client: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(entries)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{CheckinStore, TracingStore, key64, venue_key};
    use outbreak_domain::venue::VenueId;

    /// The classes the venue index files stays under (migration 15's SQL) are those the
    /// co-presence search asks for (`stay_class_longest`, listed by `STAY_CLASSES`): each
    /// stay is in the first class whose longest stay it does not exceed.
    #[test]
    fn stays_are_filed_under_the_classes_the_search_asks_for() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let longest: Vec<i64> = stay_class_longest().collect();
        let listed: Vec<(i64, i64)> = conn
            .prepare(&format!("WITH {} SELECT class, longest FROM k ORDER BY class", *STAY_CLASSES))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(listed, longest.iter().enumerate().map(|(c, l)| (c as i64, *l)).collect::<Vec<_>>());
        let stays = longest.iter().flat_map(|l| [l - 1, *l, l + 1]).chain([0, 60_000_000]);
        for stay in stays {
            conn.execute(
                "INSERT INTO checkins (venue_key, visitor_key, visitor, name, at, until, source)
                 VALUES (1, 2, 'tel:+84912000001', 'Khách', 1000, 1000 + ?1, 'poster')",
                [stay],
            )
            .unwrap();
            let (class, by_phone): (i64, bool) = conn
                .query_row("SELECT stay_class, by_phone FROM checkins ORDER BY id DESC LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            let expected = longest.iter().position(|l| stay <= *l).unwrap_or(longest.len() - 1);
            assert_eq!(class, expected as i64, "a stay of {stay} µs");
            assert!(by_phone);
        }
    }

    /// A store file in a scratch folder of its own, migrated through `version`, for a test
    /// to write rows as that version stored them: the folder and the file.
    fn migrated_through(version: usize) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("outbreak-migrate-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite");
        let mut old = connect(&path).unwrap();
        migration_functions(&old).unwrap();
        apply(&mut old, &MIGRATIONS[..version]).unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn check_ins_people_and_client_keys_stored_before_migrations_14_15_and_19_read_back_whole() {
        let (dir, path) = migrated_through(13);
        let venue = VenueId(uuid::Uuid::now_v7());
        let person = uuid::Uuid::now_v7();
        let at = micros(crate_now() - time::Duration::hours(2));
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "INSERT INTO units (code, level, name, name_folded, division_type, path)
                 VALUES ('00070', 'commune', 'Hàng Bạc', 'hang bac', 'Phường', '/VN/01/00070/')",
            )
            .unwrap();
            old.execute(
                "INSERT INTO venues (id, code, name, kind, unit_code, unit_path, address, contact_phone, active, created_at)
                 VALUES (?1, 'CHO12345', 'Chợ Hôm', 'market', '00070', '/VN/01/00070/', 'Phố Huế', '0912345678', 1, ?2)",
                params![venue.0.to_string(), at],
            )
            .unwrap();
            old.execute(
                "INSERT INTO people (id, full_name, name_folded, date_of_birth, birth_year, sex, address_unit,
                    address_path, street, created_at, updated_at)
                 VALUES (?1, 'Lê Thị Hoa', 'le thi hoa', '1990-01-01', 1990, 'female', '00070', '/VN/01/00070/', '', ?2, ?2)",
                params![person.to_string(), at],
            )
            .unwrap();
            let mut insert = old
                .prepare(
                    "INSERT INTO checkins (venue_key, visitor_key, venue_id, visitor, person_id, phone, name, at, until, source)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8 + 3600000000, 'poster')",
                )
                .unwrap();
            let by_person = person.to_string();
            for (visitor, person, phone, name) in [
                (by_person.as_str(), Some(by_person.as_str()), None, "Hoa"),
                ("tel:+84912000001", None, Some("+84912000001"), "Khách"),
            ] {
                let row =
                    params![venue_key(venue), key64(visitor), venue.0.to_string(), visitor, person, phone, name, at];
                insert.execute(row).unwrap();
            }
            old.execute(
                "INSERT INTO checkin_client_keys (client_key, checkin_id, at)
                 SELECT 'gate:1', id, at FROM checkins WHERE visitor = 'tel:+84912000001'",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let since = crate_now() - time::Duration::days(1);
        let read = store.venue_checkins(venue, since, crate_now(), 10).await.unwrap();
        let mut seen: Vec<_> = read
            .iter()
            .map(|c| (c.venue, c.venue_code.as_str(), c.visitor.as_str(), c.person, c.phone.clone(), c.name.as_str()))
            .collect();
        seen.sort_by_key(|c| c.2);
        let phone = outbreak_domain::Phone::parse("p", "0912000001").unwrap();
        assert_eq!(
            seen,
            [
                (
                    venue,
                    "CHO12345",
                    person.to_string().as_str(),
                    Some(outbreak_domain::PersonId(person)),
                    None,
                    "Lê Thị Hoa"
                ),
                (venue, "CHO12345", "tel:+84912000001", None, Some(phone), "Khách"),
            ]
        );
        assert_eq!(store.count_venue_checkins(venue, since).await.unwrap(), 2);
        // The known person's row no longer keeps a name of its own.
        let stored: String = Connection::open(&path)
            .unwrap()
            .query_row("SELECT name FROM checkins WHERE visitor = ?1", [person.to_string()], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, "");

        // Migration 15 keys the people already stored: tracing finds the person by their key,
        // and the visitor by phone from their row.
        let met = |visitor: &str| crate::tracing::Presence {
            visitor: visitor.into(),
            from: crate_now() - time::Duration::days(1),
            until: crate_now(),
        };
        let by_phone = store.copresence(&[met("tel:+84912000001")], 10).await.unwrap();
        assert_eq!(
            by_phone
                .iter()
                .map(|r| (r.visitor.as_str(), r.person, r.name.as_str(), r.home_path.as_deref()))
                .collect::<Vec<_>>(),
            [(
                person.to_string().as_str(),
                Some(outbreak_domain::PersonId(person)),
                "Lê Thị Hoa",
                Some("/VN/01/00070/")
            )]
        );
        let by_person = store.copresence(&[met(&person.to_string())], 10).await.unwrap();
        assert_eq!(
            by_person.iter().map(|r| (r.visitor.as_str(), r.person, r.name.as_str())).collect::<Vec<_>>(),
            [("tel:+84912000001", None, "Khách")]
        );

        // Migration 19 moves a client key into the row of the check-in it named: a retry
        // from the same visitor is that check-in, even outside the repeat window.
        let keyed = read.iter().find(|c| c.visitor == "tel:+84912000001").unwrap();
        let retry = NewCheckin {
            venue,
            visitor: "tel:+84912000001".into(),
            name: "Khách".into(),
            at: keyed.at + time::Duration::hours(1),
            until: keyed.at + time::Duration::hours(2),
            source: "api".into(),
            client_key: Some("gate:1".into()),
        };
        let outcomes = store.record_checkins(vec![retry], time::Duration::minutes(30), vec![]).await.unwrap();
        assert_eq!(outcomes, [CheckinOutcome::Repeat(keyed.id)]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Migration 20 files the running totals by day; what the dashboards read is unchanged.
    #[tokio::test]
    async fn testing_totals_stored_before_migration_20_read_back_whole() {
        use crate::TestingStore;
        use crate::testing::{DailyTotals, Totals};
        use outbreak_domain::testing::TestType;
        let (dir, path) = migrated_through(19);
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "INSERT INTO testing_totals (unit_path, day, test_type, collected, positive, negative, invalid, retest, rejected)
                 VALUES ('/VN/01/', '2021-07-01', 'rt_pcr', 10, 1, 8, 1, 0, 0),
                        ('/VN/01/', '2021-07-02', 'rt_pcr', 20, 2, 18, 0, 0, 0),
                        ('/VN/01/', '2021-07-02', 'rapid_antigen', 5, 0, 4, 0, 1, 0),
                        ('/VN/79/', '2021-07-02', 'rt_pcr', 7, 0, 6, 0, 0, 1);
                 INSERT INTO testing_turnaround (unit_path, day, hours, specimens)
                 VALUES ('/VN/01/', '2021-07-01', 6, 3), ('/VN/01/', '2021-07-02', 6, 4),
                        ('/VN/01/', '2021-07-02', 30, 2), ('/VN/79/', '2021-07-02', 6, 9);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let (first, second) = (time::macros::date!(2021 - 07 - 01), time::macros::date!(2021 - 07 - 02));
        let totals = |collected, positive, negative, invalid, retest, rejected| Totals {
            collected,
            positive,
            negative,
            invalid,
            retest,
            rejected,
        };
        assert_eq!(
            store.testing_totals("/VN/01/", first, second).await.unwrap(),
            [
                DailyTotals { day: first, test_type: TestType::RtPcr, totals: totals(10, 1, 8, 1, 0, 0) },
                DailyTotals { day: second, test_type: TestType::RapidAntigen, totals: totals(5, 0, 4, 0, 1, 0) },
                DailyTotals { day: second, test_type: TestType::RtPcr, totals: totals(20, 2, 18, 0, 0, 0) },
            ]
        );
        assert_eq!(
            store.testing_totals_of(&["/VN/01/".into(), "/VN/79/".into()], second, second).await.unwrap(),
            [("/VN/01/".into(), totals(25, 2, 22, 0, 1, 0)), ("/VN/79/".into(), totals(7, 0, 6, 0, 0, 1))]
        );
        assert_eq!(store.testing_totals_all("/VN/01/").await.unwrap(), totals(35, 3, 30, 1, 1, 0));
        assert_eq!(store.turnaround("/VN/01/", first, second).await.unwrap(), [(6, 7), (30, 2)]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Migration 21 rewrites the contact events already in the outbox, one contact each,
    /// in the form consumers read now.
    #[tokio::test]
    async fn contact_events_stored_before_migration_21_name_their_contact() {
        use crate::TestingStore;
        use crate::tracing::{CONTACTS_IDENTIFIED, IdentifiedContacts};
        use outbreak_domain::testing::CaseId;
        use outbreak_domain::tracing::{ContactId, ExposureId};
        let (dir, path) = migrated_through(20);
        let (case, exposure) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (f1, f2, exposed) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        {
            let old = Connection::open(&path).unwrap();
            let event = |subject: uuid::Uuid, payload: String| {
                old.execute(
                    "INSERT INTO events (kind, subject, unit_path, payload, at)
                     VALUES ('contact.identified', ?1, '/VN/01/', ?2, 0)",
                    params![subject.to_string(), payload],
                )
                .unwrap();
            };
            event(f1, format!(r#"{{"case":"{case}","generation":1}}"#));
            // Events before 56f7f27 carried more, which is left as it was.
            event(f2, format!(r#"{{"case":"{case}","generation":2,"person":null}}"#));
            event(exposed, format!(r#"{{"exposure":"{exposure}","generation":1}}"#));
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let events = store.events_after(0, &[CONTACTS_IDENTIFIED], 10).await.unwrap();
        let named: Vec<(String, IdentifiedContacts)> =
            events.iter().map(|e| (e.subject.clone(), IdentifiedContacts::of(e).unwrap())).collect();
        let identified =
            |case: Option<uuid::Uuid>, exposure: Option<uuid::Uuid>, generation, contact| IdentifiedContacts {
                case: case.map(CaseId),
                exposure: exposure.map(ExposureId),
                generation,
                contacts: vec![ContactId(contact)],
            };
        assert_eq!(
            named,
            [
                (case.to_string(), identified(Some(case), None, 1, f1)),
                (case.to_string(), identified(Some(case), None, 2, f2)),
                (exposure.to_string(), identified(None, Some(exposure), 1, exposed)),
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
