//! A real Outbreak server for integration tests: a fresh store, the HTTP stack on a free
//! loopback port, staff accounts made to order, and the SMS log to read codes from.

#![allow(dead_code)]

pub mod pages;

use std::path::PathBuf;
use std::sync::Arc;

use outbreak_domain::{Grant, Principal, Role, UnitCode};
use outbreak_server::AppState;
use outbreak_services::accounts::{AccountRequest, GrantRequest};
use outbreak_services::sms::LogGateway;
use outbreak_services::{Caller, Config, Services};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    pub services: Services,
    pub dir: PathBuf,
    _stop: oneshot::Sender<()>,
}

/// The caller that tests use to set things up, like an installer would.
pub fn root() -> Caller {
    Caller {
        principal: Principal::Staff {
            account_id: uuid::Uuid::nil(),
            username: "test-setup".into(),
            grants: vec![Grant { role: Role::Admin, unit: UnitCode::country(), unit_path: "/VN/".into() }],
        },
        client: "test".into(),
        is_system: false,
    }
}

impl TestServer {
    /// A server on a new SQLite store.
    pub async fn start() -> TestServer {
        let dir = outbreak_testkit::scratch_dir("server");
        let database = dir.join("store.sqlite").to_string_lossy().into_owned();
        TestServer::start_on(&database, dir).await
    }

    /// A server on a new PostgreSQL database.
    pub async fn start_postgres() -> TestServer {
        let dir = outbreak_testkit::scratch_dir("server");
        TestServer::start_on(&outbreak_testkit::postgres::database().await, dir).await
    }

    /// A server on a SQLite file the test chooses (to reopen it later).
    pub async fn start_on_file(database: &str, dir: PathBuf) -> TestServer {
        TestServer::start_on(database, dir).await
    }

    async fn start_on(database: &str, dir: PathBuf) -> TestServer {
        std::fs::create_dir_all(&dir).unwrap();
        let store = outbreak_store::open(database).await.unwrap();
        store.seed_units(&outbreak_domain::unit::national_units()).await.unwrap();
        store.put_priority_groups(&outbreak_domain::vaccination::national_priority_groups()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sms_log = dir.join("sms.log");
        let config = Config::new(url.clone(), sms_log.clone());
        let services = Services::new(store, Arc::new(LogGateway::new(sms_log)), config);
        services.start_notifier();
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(services.clone(), false);
        tokio::spawn(async move {
            outbreak_server::serve(listener, state, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer { url, services, dir, _stop: stop }
    }

    /// Creates a staff account holding `role` over `unit`; returns its password.
    pub async fn staff(&self, username: &str, role: &str, unit: &str) -> String {
        let password = format!("{username}-password-1");
        self.services
            .create_account(
                &root(),
                &AccountRequest {
                    username: username.into(),
                    display_name: username.into(),
                    password: Some(password.clone()),
                    system: false,
                    grants: vec![GrantRequest { role: role.into(), unit: unit.into() }],
                },
            )
            .await
            .unwrap();
        password
    }

    /// A system account with an API token for `role` over `unit`; returns the token.
    pub async fn system_token(&self, username: &str, role: &str, unit: &str) -> String {
        let account = self
            .services
            .create_account(
                &root(),
                &AccountRequest {
                    username: username.into(),
                    display_name: username.into(),
                    password: None,
                    system: true,
                    grants: vec![GrantRequest { role: role.into(), unit: unit.into() }],
                },
            )
            .await
            .unwrap();
        self.services.issue_api_token(&root(), account.id, "test").await.unwrap().secret
    }

    /// Every SMS the log shows for `phone` (E.164), oldest first.
    pub fn messages(&self, phone: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("sms.log")).unwrap_or_default();
        log.lines()
            .filter(|line| line.split('\t').nth(1) == Some(phone))
            .filter_map(|line| line.split('\t').nth(2).map(str::to_owned))
            .collect()
    }

    /// The last one-time code the SMS log shows for `phone` (E.164).
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let log = std::fs::read_to_string(self.dir.join("sms.log")).ok()?;
        log.lines()
            .filter(|line| line.split('\t').nth(1) == Some(phone))
            .filter_map(|line| line.split("la ").nth(1).map(|rest| rest.chars().take(6).collect::<String>()))
            .next_back()
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// A browser-like client signed in as staff, and the CSRF token for its changes.
    pub async fn signed_in(&self, username: &str, password: &str) -> (reqwest::Client, String) {
        let client = TestServer::client();
        let response = client
            .post(format!("{}/api/v1/auth/staff", self.url))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in of {username}");
        let body: Value = response.json().await.unwrap();
        (client, body["csrf_token"].as_str().unwrap().to_owned())
    }

    pub async fn people_count(&self) -> u64 {
        self.services.store.count_people().await.unwrap()
    }
}

/// A valid person for commune `unit`, with the given CCCD.
pub fn person(name: &str, cccd: Option<&str>, unit: &str) -> Value {
    json!({
        "full_name": name,
        "date_of_birth": "1987-03-21",
        "sex": "male",
        "phone": "0912345678",
        "cccd": cccd,
        "address_unit": unit,
        "street": "12 Hàng Bạc",
    })
}

/// A certificate with one letter of its signed payload changed (the first of `word`, which
/// must appear in it): decoded, altered and encoded again, so that it still reads but its
/// signature no longer matches.
pub fn tampered_hc1(hc1: &str, word: &str) -> String {
    use outbreak_formats::hcert::{base45, zlib};
    let compressed = base45::decode(hc1.strip_prefix("HC1:").unwrap()).unwrap();
    let mut cose = zlib::inflate(&compressed).unwrap();
    let at = cose.windows(word.len()).position(|w| w == word.as_bytes()).unwrap();
    cose[at] = if cose[at] == b'M' { b'N' } else { b'M' };
    format!("HC1:{}", base45::encode(&zlib::compress(&cose).unwrap()))
}

/// Calls the API at `path` (under `/api/v1`) with a bearer token; the status and the JSON
/// answer (`Null` when there is none).
pub async fn call(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let client = TestServer::client();
    let url = format!("{}/api/v1{path}", server.url);
    let request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        _ => client.post(url),
    }
    .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A person registered in Hoàn Kiếm (`family` `given`, born `birth`) and the facts of their
/// second Comirnaty dose on 2021-09-15, to issue certificates from; tests change fields as
/// they need.
pub async fn vaccinated(
    server: &TestServer,
    family: &str,
    given: &str,
    birth: &str,
) -> outbreak_services::certificates::VaccinationFacts {
    let person = outbreak_domain::NewPerson {
        full_name: format!("{family} {given}"),
        date_of_birth: birth.into(),
        sex: "female".into(),
        address_unit: "00070".into(),
        ..outbreak_domain::NewPerson::default()
    };
    let person = server.services.register_person(&root(), &person).await.unwrap().id();
    outbreak_services::certificates::VaccinationFacts {
        person,
        family_name: family.into(),
        given_name: given.into(),
        date_of_birth: birth.into(),
        vaccine: "1119349007".into(),
        product: "EU/1/20/1528".into(),
        manufacturer: "ORG-100030215".into(),
        dose_number: 2,
        total_doses: 2,
        date: time::macros::date!(2021 - 09 - 15),
    }
}
