//! The scale-out store: PostgreSQL through a connection pool.
//!
//! Same contract and same behaviour as the SQLite store (the conformance suite holds both to
//! it); the schema keeps a distribution key on large tables so Citus can shard them later.

mod certificates;
mod checkins;
mod testing;
mod vaccination;
// Named apart from the `tracing` crate, which this module logs with.
#[path = "tracing.rs"]
mod contact_tracing;
mod zoning;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use outbreak_domain::{Person, PersonId, Phone, Role, Unit, UnitCode};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use crate::decode::{PersonColumns, grant, otp, owner_columns, session, unit};
use crate::records::*;
use crate::{
    AccountStore, AuditStore, KeyStore, PersonStore, Result, SessionStore, Store, StoreError, UnitStore, name_pattern,
    subtree_range,
};

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
    (14, include_str!("0014_venue_keys.sql")),
    (15, include_str!("0015_queue_by_unit.sql")),
    (16, include_str!("0016_client_keys_by_visitor.sql")),
    (17, include_str!("0017_contacts_identified.sql")),
    (18, include_str!("0018_phone_contacts.sql")),
];

const UNIT_COLUMNS: &str = "code, parent_code, level, name, division_type, path, population";
const PERSON_COLUMNS: &str = "id, full_name, date_of_birth, sex, phone, cccd, insurance_number, address_unit, \
     street, household, created_at, updated_at, address_path";
const ACCOUNT_COLUMNS: &str = "id, kind, username, display_name, password_hash, disabled, created_at";
const TOKEN_COLUMNS: &str = "id, account_id, name, hash, created_at, revoked_at";
const QR_COLUMNS: &str = "id, person_id, kid, issued_at, revoked_at";

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(32).build().map_err(|e| StoreError::Config(e.to_string()))?;
        let store = PostgresStore { pool };
        store.migrate().await?;
        store.ensure_partitions(outbreak_domain::now()).await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.pool.get().await?;
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
            .await?;
        for (version, sql) in MIGRATIONS {
            let tx = client.transaction().await?;
            // Several servers may start at once; one applies each migration.
            tx.execute("SELECT pg_advisory_xact_lock(7262031)", &[]).await?;
            let applied: bool = tx
                .query_one("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", &[version])
                .await?
                .get(0);
            if !applied {
                ::tracing::info!(version, "applying PostgreSQL migration");
                tx.batch_execute(sql).await?;
                tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", &[version])
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Commits when the work succeeded; a failed transaction is rolled back as it is dropped.
async fn commit<T>(tx: Transaction<'_>, result: Result<T>) -> Result<T> {
    let value = result?;
    tx.commit().await?;
    Ok(value)
}

fn unique_violation(error: &tokio_postgres::Error) -> Option<&str> {
    let db = error.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}

fn is_foreign_key_violation(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| db.code() == &SqlState::FOREIGN_KEY_VIOLATION)
}

async fn unit_path(tx: &Transaction<'_>, code: &UnitCode, field: &'static str) -> Result<String> {
    tx.query_opt("SELECT path FROM units WHERE code = $1", &[&code.as_str()])
        .await?
        .map(|r| r.get(0))
        .ok_or(StoreError::NotFound(field))
}

async fn put_person(tx: &Transaction<'_>, person: &Person, replace: bool) -> Result<()> {
    let address_path = unit_path(tx, &person.address_unit, "address_unit").await?;
    if let Some(household) = &person.household {
        unit_path(tx, household, "household").await?;
    }
    let sql = if replace {
        "UPDATE people SET full_name = $2, name_folded = $3, date_of_birth = $4, birth_year = $5, sex = $6,
            phone = $7, cccd = $8, insurance_number = $9, address_unit = $10, address_path = $11, street = $12,
            household = $13, updated_at = $15 WHERE id = $1 AND $14::timestamptz IS NOT NULL"
    } else {
        "INSERT INTO people (id, full_name, name_folded, date_of_birth, birth_year, sex, phone, cccd, insurance_number,
            address_unit, address_path, street, household, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    };
    let statement = tx.prepare_cached(sql).await?;
    let written = tx
        .execute(
            &statement,
            &[
                &person.id.0,
                &person.full_name,
                &person.folded_name(),
                &person.date_of_birth.to_string(),
                &person.date_of_birth.year(),
                &person.sex.as_str(),
                &person.phone.as_ref().map(Phone::as_str),
                &person.cccd.as_ref().map(|c| c.as_str()),
                &person.insurance_number.as_ref().map(|n| n.as_str()),
                &person.address_unit.as_str(),
                &address_path,
                &person.street,
                &person.household.as_ref().map(UnitCode::as_str),
                &person.created_at,
                &person.updated_at,
            ],
        )
        .await;
    match written {
        Ok(0) => Err(StoreError::NotFound("person")),
        Ok(_) => Ok(()),
        Err(error) => match unique_violation(&error) {
            // The caller looks up who holds the value: this transaction is already failed.
            Some("people_cccd_key") => Err(StoreError::Conflict { field: "cccd", existing: None }),
            Some("people_insurance_number_key") => {
                Err(StoreError::Conflict { field: "insurance_number", existing: None })
            }
            Some("people_pkey") => Err(StoreError::Conflict { field: "id", existing: Some(person.id.to_string()) }),
            _ => Err(error.into()),
        },
    }
}

fn person_row(r: &Row) -> Result<PersonRecord> {
    PersonColumns {
        id: r.try_get(0)?,
        full_name: r.try_get(1)?,
        date_of_birth: r.try_get(2)?,
        sex: r.try_get(3)?,
        phone: r.try_get(4)?,
        cccd: r.try_get(5)?,
        insurance_number: r.try_get(6)?,
        address_unit: r.try_get(7)?,
        street: r.try_get(8)?,
        household: r.try_get(9)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
        address_path: r.try_get(12)?,
    }
    .decode()
}

fn unit_row(r: &Row) -> Result<Unit> {
    unit(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?)
}

fn account_row(r: &Row) -> Result<Account> {
    let kind: String = r.try_get(1)?;
    Ok(Account {
        id: r.try_get(0)?,
        kind: AccountKind::parse(&kind),
        username: r.try_get(2)?,
        display_name: r.try_get(3)?,
        password_hash: r.try_get(4)?,
        grants: Vec::new(),
        disabled: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

fn token_row(r: &Row) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        name: r.try_get(2)?,
        hash: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

fn qr_row(r: &Row) -> Result<QrToken> {
    Ok(QrToken {
        id: r.try_get(0)?,
        person: PersonId(r.try_get(1)?),
        kid: r.try_get(2)?,
        issued_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
    })
}

/// Appends `(col >= $n AND col < $n+1) OR …` for each path prefix; `FALSE` when none.
fn push_scope(sql: &mut String, values: &mut Vec<Box<dyn ToSql + Sync + Send>>, column: &str, scope: &[String]) {
    if scope.is_empty() {
        sql.push_str("FALSE");
    }
    for (i, prefix) in scope.iter().enumerate() {
        let (low, high) = subtree_range(prefix);
        if i > 0 {
            sql.push_str(" OR ");
        }
        values.push(Box::new(low));
        values.push(Box::new(high));
        sql.push_str(&format!("({column} >= ${} AND {column} < ${})", values.len() - 1, values.len()));
    }
}

fn refs(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        self.pool.get().await?.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}

const INSERT_UNIT: &str =
    "INSERT INTO units (code, parent_code, level, name, name_folded, division_type, path, population)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

async fn insert_unit_row(tx: &Transaction<'_>, sql: &str, u: &Unit) -> std::result::Result<u64, tokio_postgres::Error> {
    let statement = tx.prepare_cached(sql).await?;
    tx.execute(
        &statement,
        &[
            &u.code.as_str(),
            &u.parent.as_ref().map(UnitCode::as_str),
            &u.level.as_str(),
            &u.name,
            &outbreak_domain::text::fold(&u.name),
            &u.division_type,
            &u.path,
            &u.population,
        ],
    )
    .await
}

#[async_trait]
impl UnitStore for PostgresStore {
    async fn seed_units(&self, units: &[Unit]) -> Result<u64> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            let sql = format!("{INSERT_UNIT} ON CONFLICT (code) DO NOTHING");
            let mut added = 0;
            for unit in units {
                added += insert_unit_row(tx, &sql, unit).await?;
            }
            Ok(added)
        }
        .await;
        commit(txn, result).await
    }

    async fn insert_unit(&self, unit: &Unit) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            if let Some(parent) = &unit.parent {
                unit_path(tx, parent, "parent").await?;
            }
            insert_unit_row(tx, INSERT_UNIT, unit).await.map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "code", existing: Some(unit.code.to_string()) },
                None => e.into(),
            })?;
            Ok(())
        }
        .await;
        commit(txn, result).await
    }

    async fn unit(&self, code: &UnitCode) -> Result<Option<Unit>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE code = $1")).await?;
        client.query_opt(&statement, &[&code.as_str()]).await?.as_ref().map(unit_row).transpose()
    }

    async fn child_units(&self, code: &UnitCode) -> Result<Vec<Unit>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {UNIT_COLUMNS} FROM units WHERE parent_code = $1 ORDER BY code COLLATE \"C\""
            ))
            .await?;
        client.query(&statement, &[&code.as_str()]).await?.iter().map(unit_row).collect()
    }

    async fn find_units(&self, folded: &str, scope: &[String], limit: u32) -> Result<Vec<Unit>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(name_pattern(folded)), Box::new(folded.trim().to_uppercase())];
        let mut sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE (name_folded LIKE $1 OR code = $2) AND (");
        push_scope(&mut sql, &mut values, "path", scope);
        sql.push_str(&format!(") ORDER BY length(path), code COLLATE \"C\" LIMIT {limit}"));
        client.query(&sql, &refs(&values)).await?.iter().map(unit_row).collect()
    }

    async fn set_population(&self, figures: &[(UnitCode, i64)]) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            let statement = tx.prepare_cached("UPDATE units SET population = $2 WHERE code = $1").await?;
            for (code, population) in figures {
                if tx.execute(&statement, &[&code.as_str(), population]).await? == 0 {
                    return Err(StoreError::NotFound("unit"));
                }
            }
            Ok(())
        }
        .await;
        commit(txn, result).await
    }
}

impl PostgresStore {
    /// Writes a person; on a unique collision, looks up the record that holds the value.
    async fn put_person_reporting(&self, person: &Person, replace: bool) -> Result<()> {
        let written = {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let result = put_person(&tx, person, replace).await;
            commit(tx, result).await
        };
        match written {
            Err(StoreError::Conflict { field, existing: None }) if field != "id" => {
                let value = match field {
                    "cccd" => person.cccd.as_ref().map(|c| c.as_str().to_owned()),
                    _ => person.insurance_number.as_ref().map(|n| n.as_str().to_owned()),
                };
                let sql = format!("SELECT id FROM people WHERE {field} = $1");
                let client = self.pool.get().await?;
                let existing = client.query_opt(&sql, &[&value]).await?.map(|r| r.get::<_, Uuid>(0).to_string());
                Err(StoreError::Conflict { field, existing })
            }
            other => other,
        }
    }
}

#[async_trait]
impl PersonStore for PostgresStore {
    async fn insert_person(&self, person: &Person) -> Result<()> {
        self.put_person_reporting(person, false).await
    }

    async fn insert_people(&self, people: &[Person]) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            for person in people {
                put_person(tx, person, false).await?;
            }
            Ok(())
        }
        .await;
        commit(txn, result).await
    }

    async fn update_person(&self, person: &Person) -> Result<()> {
        self.put_person_reporting(person, true).await
    }

    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1")).await?;
        client.query_opt(&statement, &[&id.0]).await?.as_ref().map(person_row).transpose()
    }

    async fn search_people(&self, query: &PersonQuery) -> Result<Vec<PersonRecord>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE (");
        push_scope(&mut sql, &mut values, "address_path", &query.scope);
        sql.push(')');
        for (column, value) in
            [("cccd", &query.cccd), ("phone", &query.phone), ("insurance_number", &query.insurance_number)]
        {
            if let Some(value) = value {
                values.push(Box::new(value.clone()));
                sql.push_str(&format!(" AND {column} = ${}", values.len()));
            }
        }
        if let Some(name) = &query.name {
            values.push(Box::new(name_pattern(name)));
            sql.push_str(&format!(" AND name_folded LIKE ${}", values.len()));
        }
        sql.push_str(&format!(
            " ORDER BY name_folded COLLATE \"C\", id::text COLLATE \"C\" LIMIT {} OFFSET {}",
            query.limit, query.offset
        ));
        client.query(&sql, &refs(&values)).await?.iter().map(person_row).collect()
    }

    async fn people_by_phone(&self, phone: &Phone) -> Result<Vec<PersonRecord>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {PERSON_COLUMNS} FROM people WHERE phone = $1 ORDER BY created_at, id::text COLLATE \"C\""
            ))
            .await?;
        client.query(&statement, &[&phone.as_str()]).await?.iter().map(person_row).collect()
    }

    async fn count_people(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        let count: i64 = client.query_one("SELECT count(*) FROM people", &[]).await?.get(0);
        Ok(count as u64)
    }
}

async fn insert_audit(tx: &Transaction<'_>, e: &NewAuditEntry) -> Result<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO audit_log (at, actor, actor_kind, action, entity, entity_id, detail, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    tx.execute(&statement, &[&e.at, &e.actor, &e.actor_kind, &e.action, &e.entity, &e.entity_id, &e.detail, &e.client])
        .await?;
    Ok(())
}

async fn insert_grants(tx: &Transaction<'_>, id: Uuid, grants: &[(Role, UnitCode)]) -> Result<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO account_grants (account_id, role, unit_code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .await?;
    for (role, unit) in grants {
        unit_path(tx, unit, "unit").await?;
        tx.execute(&statement, &[&id, &role.as_str(), &unit.as_str()]).await?;
    }
    Ok(())
}

async fn grants_of(client: &deadpool_postgres::Client, id: Uuid) -> Result<Vec<outbreak_domain::Grant>> {
    let statement = client
        .prepare_cached(
            "SELECT g.role, g.unit_code, u.path FROM account_grants g JOIN units u ON u.code = g.unit_code
             WHERE g.account_id = $1 ORDER BY u.path, g.role COLLATE \"C\"",
        )
        .await?;
    client.query(&statement, &[&id]).await?.iter().map(|r| grant(r.get(0), r.get(1), r.get(2))).collect()
}

impl PostgresStore {
    async fn load_account(&self, column: &str, value: &(dyn ToSql + Sync)) -> Result<Option<Account>> {
        let client = self.pool.get().await?;
        let row =
            client.query_opt(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = $1"), &[value]).await?;
        let Some(row) = row else { return Ok(None) };
        let mut account = account_row(&row)?;
        account.grants = grants_of(&client, account.id).await?;
        Ok(Some(account))
    }
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn insert_account(&self, account: &NewAccount) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            tx.execute(
                "INSERT INTO accounts (id, kind, username, display_name, password_hash, disabled, created_at)
                     VALUES ($1, $2, $3, $4, $5, FALSE, $6)",
                &[
                    &account.id,
                    &account.kind.as_str(),
                    &account.username,
                    &account.display_name,
                    &account.password_hash,
                    &account.created_at,
                ],
            )
            .await
            .map_err(|e| match unique_violation(&e) {
                Some("accounts_username_key") => StoreError::Conflict { field: "username", existing: None },
                _ => e.into(),
            })?;
            insert_grants(tx, account.id, &account.grants).await
        }
        .await;
        commit(txn, result).await
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        self.load_account("id", &id).await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<Account>> {
        self.load_account("username", &username).await
    }

    async fn list_accounts(&self, scope: &[String]) -> Result<Vec<Account>> {
        let client = self.pool.get().await?;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN (SELECT g.account_id FROM account_grants g
             JOIN units u ON u.code = g.unit_code WHERE "
        );
        push_scope(&mut sql, &mut values, "u.path", scope);
        sql.push_str(") ORDER BY username COLLATE \"C\"");
        let rows = client.query(&sql, &refs(&values)).await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut account = account_row(row)?;
            account.grants = grants_of(&client, account.id).await?;
            accounts.push(account);
        }
        Ok(accounts)
    }

    async fn set_grants(&self, id: Uuid, grants: &[(Role, UnitCode)]) -> Result<()> {
        let mut client = self.pool.get().await?;
        let txn = client.transaction().await?;
        let tx = &txn;
        let result = async {
            if tx.query_opt("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&id]).await?.is_none() {
                return Err(StoreError::NotFound("account"));
            }
            tx.execute("DELETE FROM account_grants WHERE account_id = $1", &[&id]).await?;
            insert_grants(tx, id, grants).await
        }
        .await;
        commit(txn, result).await
    }

    async fn set_account_disabled(&self, id: Uuid, disabled: bool) -> Result<()> {
        let client = self.pool.get().await?;
        match client.execute("UPDATE accounts SET disabled = $2 WHERE id = $1", &[&id, &disabled]).await? {
            0 => Err(StoreError::NotFound("account")),
            _ => Ok(()),
        }
    }

    async fn insert_api_token(&self, token: &ApiToken) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO api_tokens (id, account_id, name, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&token.id, &token.account_id, &token.name, &token.hash, &token.created_at, &token.revoked_at],
            )
            .await
            .map_err(|e| if is_foreign_key_violation(&e) { StoreError::NotFound("account") } else { e.into() })?;
        Ok(())
    }

    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
        let client = self.pool.get().await?;
        let statement =
            client.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1")).await?;
        client.query_opt(&statement, &[&hash]).await?.as_ref().map(token_row).transpose()
    }

    async fn api_tokens(&self, account_id: Uuid) -> Result<Vec<ApiToken>> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = $1 ORDER BY created_at, id::text COLLATE \"C\""
        );
        client.query(&sql, &[&account_id]).await?.iter().map(token_row).collect()
    }

    async fn revoke_api_token(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        match client
            .execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1", &[&id, &at])
            .await?
        {
            0 => Err(StoreError::NotFound("token")),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, s: &Session) -> Result<()> {
        let client = self.pool.get().await?;
        let (staff, citizen) = owner_columns(&s.owner);
        client
            .execute(
                "INSERT INTO sessions (hash, staff_account, citizen_phone, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[&s.hash, &staff, &citizen, &s.created_at, &s.expires_at],
            )
            .await?;
        Ok(())
    }

    async fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT hash, staff_account, citizen_phone, created_at, expires_at FROM sessions WHERE hash = $1",
            )
            .await?;
        match client.query_opt(&statement, &[&hash]).await? {
            None => Ok(None),
            Some(r) => session(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?).map(Some),
        }
    }

    async fn delete_session(&self, hash: &[u8]) -> Result<()> {
        self.pool.get().await?.execute("DELETE FROM sessions WHERE hash = $1", &[&hash]).await?;
        Ok(())
    }

    async fn put_otp(&self, c: &OtpChallenge) -> Result<()> {
        let attempts = c.attempts as i32;
        self.pool
            .get()
            .await?
            .execute(
                "INSERT INTO otp_challenges (phone, code_hash, expires_at, attempts) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
                 attempts = excluded.attempts",
                &[&c.phone.as_str(), &c.code_hash, &c.expires_at, &attempts],
            )
            .await?;
        Ok(())
    }

    async fn take_otp_attempt(&self, phone: &Phone) -> Result<Option<OtpChallenge>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "UPDATE otp_challenges SET attempts = attempts + 1 WHERE phone = $1
                 RETURNING phone, code_hash, expires_at, attempts",
                &[&phone.as_str()],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(r) => otp(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, i64::from(r.try_get::<_, i32>(3)?)).map(Some),
        }
    }

    async fn delete_otp(&self, phone: &Phone) -> Result<()> {
        self.pool.get().await?.execute("DELETE FROM otp_challenges WHERE phone = $1", &[&phone.as_str()]).await?;
        Ok(())
    }

    async fn record_otp_send(&self, phone: &Phone, client_address: &str, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        // Sends older than a day no longer count towards any limit.
        client.execute("DELETE FROM otp_sends WHERE at < $1", &[&(at - time::Duration::DAY)]).await?;
        client
            .execute(
                "INSERT INTO otp_sends (phone, client, at) VALUES ($1, $2, $3)",
                &[&phone.as_str(), &client_address, &at],
            )
            .await?;
        Ok(())
    }

    async fn count_otp_sends(&self, phone: &Phone, client_address: &str, since: OffsetDateTime) -> Result<(u64, u64)> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM otp_sends WHERE phone = $1 AND at >= $3),
                        (SELECT count(*) FROM otp_sends WHERE client = $2 AND at >= $3)",
                &[&phone.as_str(), &client_address, &since],
            )
            .await?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO signing_keys (kid, purpose, secret, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)",
                &[&key.kid, &key.purpose, &key.secret, &key.created_at, &key.retired_at],
            )
            .await
            .map_err(|e| match unique_violation(&e) {
                Some(_) => StoreError::Conflict { field: "kid", existing: Some(key.kid.clone()) },
                None => e.into(),
            })?;
        Ok(())
    }

    async fn signing_keys(&self, purpose: &str) -> Result<Vec<SigningKey>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT kid, purpose, secret, created_at, retired_at FROM signing_keys WHERE purpose = $1
                 ORDER BY created_at DESC, kid COLLATE \"C\" DESC",
                &[&purpose],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKey {
                    kid: r.try_get(0)?,
                    purpose: r.try_get(1)?,
                    secret: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    retired_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<()> {
        let client = self.pool.get().await?;
        match client
            .execute("UPDATE signing_keys SET retired_at = coalesce(retired_at, $2) WHERE kid = $1", &[&kid, &at])
            .await?
        {
            0 => Err(StoreError::NotFound("kid")),
            _ => Ok(()),
        }
    }

    async fn insert_qr_token(&self, t: &QrToken) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO qr_tokens (id, person_id, kid, issued_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
                &[&t.id, &t.person.0, &t.kid, &t.issued_at, &t.revoked_at],
            )
            .await
            .map_err(|e| if is_foreign_key_violation(&e) { StoreError::NotFound("person") } else { e.into() })?;
        Ok(())
    }

    async fn qr_token(&self, id: &str) -> Result<Option<QrToken>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&format!("SELECT {QR_COLUMNS} FROM qr_tokens WHERE id = $1")).await?;
        client.query_opt(&statement, &[&id]).await?.as_ref().map(qr_row).transpose()
    }

    async fn active_qr_token(&self, person: PersonId) -> Result<Option<QrToken>> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {QR_COLUMNS} FROM qr_tokens WHERE person_id = $1 AND revoked_at IS NULL ORDER BY issued_at DESC, id COLLATE \"C\" LIMIT 1"
        );
        client.query_opt(&sql, &[&person.0]).await?.as_ref().map(qr_row).transpose()
    }

    async fn revoke_qr_tokens(&self, person: PersonId, at: OffsetDateTime) -> Result<u64> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "UPDATE qr_tokens SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
                &[&person.0, &at],
            )
            .await?)
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, e: &NewAuditEntry) -> Result<()> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO audit_log (at, actor, actor_kind, action, entity, entity_id, detail, client)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        client
            .execute(
                &statement,
                &[&e.at, &e.actor, &e.actor_kind, &e.action, &e.entity, &e.entity_id, &e.detail, &e.client],
            )
            .await?;
        Ok(())
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let client = self.pool.get().await?;
        let mut sql =
            "SELECT id, at, actor, actor_kind, action, entity, entity_id, detail, client FROM audit_log WHERE TRUE"
                .to_owned();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut push = |clause: &str, value: Box<dyn ToSql + Sync + Send>| {
            values.push(value);
            sql.push_str(&format!(" AND {clause} ${}", values.len()));
        };
        if let Some(actor) = &filter.actor {
            push("actor =", Box::new(actor.clone()));
        }
        if let Some(action) = &filter.action {
            push("action =", Box::new(action.clone()));
        }
        if let Some(entity_id) = &filter.entity_id {
            push("entity_id =", Box::new(entity_id.clone()));
        }
        if let Some(since) = filter.since {
            push("at >=", Box::new(since));
        }
        if let Some(until) = filter.until {
            push("at <", Box::new(until));
        }
        if let Some(before) = filter.before_id {
            push("id <", Box::new(before));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", filter.limit));
        let rows = client.query(&sql, &refs(&values)).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    actor_kind: r.try_get(3)?,
                    action: r.try_get(4)?,
                    entity: r.try_get(5)?,
                    entity_id: r.try_get(6)?,
                    detail: r.try_get(7)?,
                    client: r.try_get(8)?,
                })
            })
            .collect()
    }
}
