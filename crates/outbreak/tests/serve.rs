//! `outbreak serve` as operators run it: settings from the environment, a fresh SQLite
//! store created with its folder, health checks, and a clean stop on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn serves_from_environment_settings_and_stops_on_sigterm() {
    let dir = outbreak_testkit::scratch_dir("serve");
    let database = dir.join("nested/folder/outbreak.sqlite");
    let port = outbreak_testkit::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_outbreak"))
        .arg("serve")
        .env("OUTBREAK_DATABASE", &database)
        .env("OUTBREAK_LISTEN", format!("127.0.0.1:{port}"))
        .env("OUTBREAK_SMS_LOG", dir.join("sms.log"))
        .env("OUTBREAK_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let ready = loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            break response;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready.text().await.unwrap(), "ready");
    assert!(database.exists(), "the store and its folder were created");
    assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let units: serde_json::Value =
        client.get(format!("{base}/api/v1/units/VN/children")).send().await.unwrap().json().await.unwrap();
    assert_eq!(units.as_array().unwrap().len(), 34, "the national units are loaded at start");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopped.elapsed() < Duration::from_secs(25), "the server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
    let logs = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(logs.lines().any(|l| l.contains("SIGTERM") && l.starts_with('{')), "structured logs: {logs}");
}

#[test]
fn a_bad_database_url_is_refused_clearly() {
    let output = Command::new(env!("CARGO_BIN_EXE_outbreak"))
        .args(["serve", "--database", "postgres://nobody@127.0.0.1:1/none", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("cannot open the store"), "{text}");
}
