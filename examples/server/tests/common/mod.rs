//! The example server, run as a process by the tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tidings::Uuid;
pub use tidings_test_support::Frame;
use tidings_test_support::SseReader;

/// The example server's binary, built here with this test's profile, so that a test runs alone
/// too.
pub fn binary() -> PathBuf {
    escargot::CargoBuild::new()
        .package("tidings-example-server")
        .example("server")
        .current_release()
        .run()
        .expect("the example server builds")
        .path()
        .to_owned()
}

/// The example server, started on an ephemeral port with a fresh database.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Server {
    /// With a SQLite database in a fresh directory.
    pub fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("tidings-example-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("events.db").display().to_string();
        Server::start_with(&["--db", &db], dir)
    }

    /// With these arguments (the port is 0); `dir` is removed when the server is dropped.
    pub fn start_with(args: &[&str], dir: PathBuf) -> Server {
        let mut child = Command::new(binary())
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (first_line, banner) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = first_line.send(line);
            // Keep reading what it prints, so that it never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let mut server = Server {
            child,
            base: String::new(),
            dir,
        };
        let banner = banner
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its address within 60 s");
        let base = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .to_owned();
        server.base = base;
        server
    }

    /// A demo user's cookie, as the page gives it.
    /// The demo user of `cookie`, as `/api/me` says.
    pub async fn user(&self, client: &reqwest::Client, cookie: &str) -> Uuid {
        client
            .get(format!("{}/api/me", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The sum of the server's counter `name` over its labels, from its `/metrics` (0 when it
    /// has none).
    pub async fn counter(&self, client: &reqwest::Client, name: &str) -> f64 {
        let text = client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub async fn cookie(&self, client: &reqwest::Client) -> String {
        let page = client.get(format!("{}/", self.base)).send().await.unwrap();
        page.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The frames of a live stream (the test-support crate's reader), of a response that must be
/// `200 OK`.
pub struct Frames(SseReader);

impl Frames {
    pub fn new(response: reqwest::Response) -> Frames {
        assert_eq!(response.status(), 200);
        Frames(SseReader::new(response))
    }

    /// The next frame with data (keep-alive comments skipped), or `None` when the stream ended
    /// or nothing came within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        self.0.next(wait).await
    }
}
