//! Databases and clusters for the PostgreSQL tests: each test makes its own, with a random
//! name, and drops it at the end (the server is shared by every run on the machine).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use tidings::Uuid;

/// The server the tests use, without a database: `TIDINGS_TEST_PG`, by default the one every
/// machine of the project runs.
pub fn server() -> String {
    std::env::var("TIDINGS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database of its own, dropped (with its connections) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        TestDb::on(&server())
    }

    /// A database on the server at `server` (a URL without a database).
    pub fn on(server: &str) -> TestDb {
        let name = format!("tidings_test_{}", Uuid::new_v4().simple());
        let mut admin = admin(server);
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create the test database on {server}: {e}"));
        TestDb {
            url: format!("{server}/{name}"),
            name,
            server: server.to_owned(),
        }
    }

    /// A plain connection to the database.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }

    /// Terminates the connections of this database whose application name is `name`; returns
    /// how many.
    pub fn terminate(&self, application_name: &str) -> usize {
        let mut admin = admin(&self.server);
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()",
                &[&self.name, &application_name],
            )
            .map(|rows| rows.len())
            .unwrap_or(0)
    }

    /// How many events are stored.
    pub fn count(&self) -> i64 {
        self.client()
            .query_one("SELECT count(*) FROM tidings_events", &[])
            .unwrap()
            .get(0)
    }

    /// The stored ids of `user`'s events, in the store's order.
    pub fn ids_of(&self, user: Uuid) -> Vec<Uuid> {
        self.client()
            .query(
                "SELECT id FROM tidings_events WHERE user_id = $1 ORDER BY seq",
                &[&user],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&format!("{}/postgres", self.server), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn admin(server: &str) -> Client {
    Client::connect(&format!("{server}/postgres"), NoTls).unwrap_or_else(|e| {
        panic!("no PostgreSQL server at {server} ({e}): start one, or set TIDINGS_TEST_PG")
    })
}

/// A PostgreSQL cluster of the test's own (`initdb` into a temporary directory, its own port on
/// 127.0.0.1), which the test may restart: the shared server is never restarted. Stopped and
/// removed when dropped.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

impl Cluster {
    pub fn start() -> Cluster {
        let bin = bindir();
        let dir = std::env::temp_dir().join(format!("tidings-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user then.
        as_postgres(
            Command::new("chown").args(["postgres:postgres"]).arg(&dir),
            false,
        );
        let port = free_port();
        let cluster = Cluster { dir, port, bin };
        cluster.run(
            cluster
                .tool("initdb")
                .args(["-A", "trust", "-U", "postgres", "-D"])
                .arg(cluster.data()),
        );
        cluster.pg_ctl(&["start", "-w"]);
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let mut command = as_postgres_command();
        command.arg(self.bin.join(name));
        command
    }

    fn run(&self, command: &mut Command) {
        let output = command.output().expect("the PostgreSQL tools run");
        assert!(
            output.status.success(),
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.run(
            self.tool("pg_ctl")
                .args(args)
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(log)
                .args(["-m", "immediate", "-o"])
                .arg(options),
        );
    }

    /// The server URL, without a database.
    pub fn server(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Restarts the server at once (`immediate`: as a crash would), waiting until it is back.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-w"]);
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-w"]);
    }

    /// Starts the stopped server.
    pub fn start_again(&self) {
        self.pg_ctl(&["start", "-w"]);
    }

    /// A streaming standby of this cluster (`pg_basebackup -R`), started on a port of its own.
    pub fn standby(&self) -> Cluster {
        let dir = std::env::temp_dir().join(format!("tidings-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        as_postgres(
            Command::new("chown").args(["postgres:postgres"]).arg(&dir),
            false,
        );
        let standby = Cluster {
            dir,
            port: free_port(),
            bin: self.bin.clone(),
        };
        standby.run(
            standby
                .tool("pg_basebackup")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "-p",
                ])
                .arg(self.port.to_string())
                .arg("-D")
                .arg(standby.data()),
        );
        standby.pg_ctl(&["start", "-w"]);
        standby
    }

    /// Promotes this standby to a primary, waiting until it takes writes.
    pub fn promote(&self) {
        self.pg_ctl(&["promote", "-w"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("stop")
            .args(["-m", "immediate", "-D"])
            .arg(self.data())
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command that runs as the `postgres` user when the tests run as root.
fn as_postgres_command() -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]);
        command
    } else {
        Command::new("env")
    }
}

fn as_postgres(command: &mut Command, always: bool) {
    if always || running_as_root() {
        let _ = command.output();
    }
}

/// Where `initdb` and `pg_ctl` are: `PG_BINDIR`, else Debian's newest
/// `/usr/lib/postgresql/<version>/bin`, else the `PATH`.
fn bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `done` holds, for at most `limit`; `true` when it held.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
