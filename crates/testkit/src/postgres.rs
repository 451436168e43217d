//! A throwaway PostgreSQL for tests.
//!
//! Each test gets its own database. The cluster comes from `OUTBREAK_TEST_POSTGRES` (a
//! `postgres://` URL of a server the caller runs) or else is started once per test process
//! from the machine's PostgreSQL binaries in a temporary folder; a watchdog stops it and
//! removes the folder when the test process ends.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The newest PostgreSQL server installed the Debian way (`/usr/lib/postgresql/<n>/bin`).
fn server_bin() -> Option<std::path::PathBuf> {
    let mut versions: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

static CLUSTER: OnceLock<String> = OnceLock::new();

/// The URL of a new, empty database on the test cluster.
pub async fn database() -> String {
    let base = CLUSTER.get_or_init(start_cluster).clone();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {base}: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let (prefix, _) = base.rsplit_once('/').unwrap_or((base.as_str(), ""));
    format!("{prefix}/{name}")
}

fn start_cluster() -> String {
    if let Ok(url) = std::env::var("OUTBREAK_TEST_POSTGRES") {
        return url;
    }
    let bin = server_bin().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed (apt-get install postgresql), and OUTBREAK_TEST_POSTGRES is not set")
    });
    let dir = std::env::temp_dir().join(format!("outbreak-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if as_root {
        // initdb refuses to run as root; the cluster belongs to the postgres user.
        run(Command::new("chown").arg("postgres").arg(&dir));
    }
    let pg = |tool: &str| {
        let mut command = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
            c
        } else {
            Command::new(bin.join(tool))
        };
        command.stdout(Stdio::null());
        command
    };
    let data = dir.join("data");
    run(pg("initdb").arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "--no-sync"]));
    let port = crate::free_port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        dir.display()
    );
    run(pg("pg_ctl").arg("-D").arg(&data).args(["-o", &options, "-l"]).arg(dir.join("log")).args(["-w", "start"]));
    // Stop the cluster when this process is gone, however it ends.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {dir}",
        pid = std::process::id(),
        stop = if as_root {
            format!("runuser -u postgres -- {}/pg_ctl -D {} -m immediate stop", bin.display(), data.display())
        } else {
            format!("{}/pg_ctl -D {} -m immediate stop", bin.display(), data.display())
        },
        dir = dir.display(),
    );
    // The watchdog outlives this process on purpose: nobody waits for it.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog: {e}"));
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}
