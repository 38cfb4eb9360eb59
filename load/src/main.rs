//! The load and soak harness: many Server-Sent-Events clients against the real example server on
//! loopback, events emitted through its annotated handler at a fixed rate, every frame checked,
//! then a shutdown with the streams open.
//!
//! ```sh
//! cargo run --release -p tidings-load -- --clients 1000 --rate 2000 --seconds 60 --warmup 130 --max-growth 10
//! ```
//!
//! With `--pg postgres://user@host:port` (a server, without a database) it makes a fresh database
//! there, starts `--instances N` example servers on it, connects every client to the first and
//! emits on the others (on the first when N is 1): the latency is then from an emit on one
//! instance to the frame on another. The database is dropped at the end.
//!
//! With `--store memory` the example server keeps its events in the memory store. `--baseline`
//! runs the same clients against `src/bin/baseline.rs` instead (the server a team writes by hand:
//! axum's `Sse`, one `tokio::sync::broadcast` channel per user, each event serialized once, no
//! store, no resume), and `--compare` runs tidings, then the baseline, in one invocation, and
//! prints their ratios (`--baseline-first` runs the baseline first, so that a series of runs can
//! alternate the order):
//!
//! ```sh
//! cargo run --release -p tidings-load -- --clients 10000 --rate 2000 --seconds 20 --warmup 5 --store memory --compare
//! ```
//!
//! On a machine with two cores or more, the server runs on core 0 and this program (the clients
//! and the emitting requests) on core 1 (`taskset`; `--no-pin` leaves both to the scheduler).
//! Memory per connection is the server's RSS after the warm-up less its RSS before the first
//! client connected, divided by the number of clients.
//!
//! The warm-up is long enough for the server to reach its steady state: the SQLite store keeps a
//! page cache of up to 64 MiB, which fills as the database grows (at 2,000 events per second,
//! in about two minutes); the memory printed every 10 s shows the plateau.
//!
//! It builds the example server with the same profile as itself, starts it on an ephemeral port
//! with a fresh SQLite file, and raises its own open-file limit to the hard limit first (the
//! server inherits it). The clients are spread over `clients / 10` users (at least one); each
//! user's events are emitted one request after another (`POST /api/designs/d{n}/deploy`), so
//! every client knows the exact sequence it must receive. Then:
//!
//! 1. warm-up: emitting for `--warmup` seconds; the server's memory (RSS) is read;
//! 2. the run: emitting for `--seconds` seconds; the server's CPU time is read around it;
//! 3. drain: every client that was never told it lagged must receive every event of its user,
//!    once and in order; the server's memory is read again;
//! 4. shutdown: SIGTERM; the server must exit cleanly within 10 s and every stream end.
//!
//! It prints the figures and exits with 1 when a frame was lost, duplicated or out of order,
//! when a client was told it lagged, when the shutdown failed, or (with `--max-growth P`) when
//! the memory after the run exceeds the memory after warm-up by more than P percent.

mod api;
mod hostile;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

/// What the command line asks for.
#[derive(Debug, Clone)]
struct Options {
    clients: usize,
    rate: u64,
    seconds: u64,
    warmup: u64,
    max_growth: Option<f64>,
    /// A PostgreSQL server (a URL without a database) instead of SQLite.
    pg: Option<String>,
    instances: usize,
    /// The example server's store: `sqlite` (the default) or `memory`.
    store: String,
    /// Which servers run, one after the other, in this order.
    kinds: Vec<Kind>,
    /// Server and clients on separate cores (`taskset`), where there are at least two.
    pin: bool,
    /// `--hostile`: one user's probes of the server's limits instead of the load run.
    hostile: bool,
    /// `--api`: the events API's page-load routes against a hand-written server (`api.rs`).
    api: bool,
    /// `--clients` as a list (`16,256`), for `--api`.
    client_counts: Vec<usize>,
    /// `--runs`: pairs of measurements per number of clients, for `--api`.
    runs: usize,
    /// `--events-per-user`, for `--api`.
    events_per_user: usize,
}

/// A server the harness measures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The example server: tidings' router, an annotated handler.
    Tidings,
    /// `src/bin/baseline.rs`: axum's `Sse` and a broadcast channel per user, by hand.
    Baseline,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        clients: 1000,
        rate: 2000,
        seconds: 60,
        warmup: 10,
        max_growth: None,
        pg: None,
        instances: 1,
        store: "sqlite".to_owned(),
        kinds: vec![Kind::Tidings],
        pin: true,
        hostile: false,
        api: false,
        client_counts: vec![1000],
        runs: 3,
        events_per_user: 300,
    };
    let mut baseline_first = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name} must be a whole number, not {text:?}"))
        };
        match arg.as_str() {
            "--clients" => {
                let text = value("--clients")?;
                options.client_counts = text
                    .split(',')
                    .map(|n| number("--clients", n.to_owned()).map(|n| n as usize))
                    .collect::<Result<_, _>>()?;
                options.clients = options.client_counts.iter().copied().max().unwrap_or(0);
            }
            "--runs" => options.runs = number("--runs", value("--runs")?)? as usize,
            "--events-per-user" => {
                options.events_per_user =
                    number("--events-per-user", value("--events-per-user")?)? as usize;
            }
            "--api" => options.api = true,
            "--rate" => options.rate = number("--rate", value("--rate")?)?,
            "--seconds" => options.seconds = number("--seconds", value("--seconds")?)?,
            "--warmup" => options.warmup = number("--warmup", value("--warmup")?)?,
            "--pg" => options.pg = Some(value("--pg")?.trim_end_matches('/').to_owned()),
            "--store" => {
                options.store = value("--store")?;
                if !["sqlite", "memory"].contains(&options.store.as_str()) {
                    return Err(format!(
                        "--store must be sqlite or memory, not {:?}",
                        options.store
                    ));
                }
            }
            "--baseline" => options.kinds = vec![Kind::Baseline],
            "--compare" => options.kinds = vec![Kind::Tidings, Kind::Baseline],
            "--baseline-first" => baseline_first = true,
            "--no-pin" => options.pin = false,
            "--hostile" => options.hostile = true,
            "--instances" => {
                options.instances = number("--instances", value("--instances")?)? as usize;
            }
            "--max-growth" => {
                let text = value("--max-growth")?;
                options.max_growth = Some(text.parse().map_err(|_| {
                    format!("--max-growth must be a percentage such as 10, not {text:?}")
                })?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --clients N --rate EVENTS_PER_S --seconds S \
                     --warmup S --max-growth PERCENT --pg URL --instances N --store sqlite|memory \
                     --baseline --compare --no-pin --hostile, or --api --pg URL --clients N,M \
                     --runs N --seconds S --warmup S --events-per-user N"
                ));
            }
        }
    }
    if options.clients == 0 || options.rate == 0 || options.seconds == 0 {
        return Err("--clients, --rate and --seconds must be at least 1".to_owned());
    }
    if options.api {
        if options.pg.is_none() {
            return Err("--api needs --pg URL (a PostgreSQL server)".to_owned());
        }
        if options.client_counts.contains(&0) || options.runs == 0 || options.events_per_user < 15 {
            return Err(
                "--api needs at least 1 client, 1 run and 15 events per user (a page)".to_owned(),
            );
        }
        return Ok(options);
    }
    if options.clients > 1 && options.client_counts.len() > 1 {
        return Err("--clients takes one number, a list only with --api".to_owned());
    }
    if options.instances == 0 || (options.instances > 1 && options.pg.is_none()) {
        return Err("--instances must be at least 1, and more than 1 only with --pg".to_owned());
    }
    if baseline_first {
        if options.kinds.len() != 2 {
            return Err("--baseline-first goes with --compare".to_owned());
        }
        options.kinds.reverse();
    }
    if options.kinds.contains(&Kind::Baseline) && options.pg.is_some() {
        return Err(
            "the baseline has no store: --baseline and --compare go without --pg".to_owned(),
        );
    }
    Ok(options)
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("tidings-load: {message}");
            std::process::exit(2);
        }
    };
    if options.hostile {
        hostile_run(&options);
        return;
    }
    if options.api {
        api_run(&options);
        return;
    }
    // Built before pinning, so that a first build has every core.
    let binaries: Vec<(Kind, PathBuf)> = options
        .kinds
        .iter()
        .map(|&kind| (kind, Server::binary(kind)))
        .collect();
    let pin = options.pin && pin_to_second_core();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut results = Vec::new();
    for (kind, binary) in binaries {
        println!("\n== {kind:?}");
        let (figures, failures) = runtime.block_on(run(options.clone(), kind, &binary, pin));
        results.push((kind, figures, failures));
    }
    let figures = |wanted: Kind| {
        results
            .iter()
            .find(|(kind, _, _)| *kind == wanted)
            .map(|(_, figures, _)| figures)
    };
    if let (Some(tidings), Some(baseline)) = (figures(Kind::Tidings), figures(Kind::Baseline)) {
        println!("\n| tidings / baseline | ratio |");
        println!("|---|---|");
        let ratio = |a: f64, b: f64| a / b;
        println!("| latency p50 | {:.2}x |", ratio(tidings.p50, baseline.p50));
        println!("| latency p99 | {:.2}x |", ratio(tidings.p99, baseline.p99));
        println!(
            "| RSS per connection after warm-up | {:.2}x |",
            ratio(
                tidings.rss_per_connection_kib,
                baseline.rss_per_connection_kib
            )
        );
        println!(
            "| RSS per connection once connected (the streams alone) | {:.2}x |",
            ratio(tidings.rss_per_stream_kib, baseline.rss_per_stream_kib)
        );
        println!(
            "| CPU per frame | {:.2}x |",
            ratio(tidings.cpu_per_frame_us, baseline.cpu_per_frame_us)
        );
    }
    let failed = results.iter().any(|(_, _, failures)| !failures.is_empty());
    for (kind, _, failures) in &results {
        if failures.is_empty() {
            println!("\n{kind:?}: PASS");
        } else {
            println!("\n{kind:?}: FAIL");
            for failure in failures {
                println!("- {failure}");
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

/// `--hostile`: the example server on the chosen store, probed by one user; exits 1 on a failed
/// probe.
fn hostile_run(options: &Options) {
    let binary = Server::binary(Kind::Tidings);
    let database = options.pg.as_deref().map(Database::create);
    let dir = std::env::temp_dir().join(format!("tidings-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (args, store) = match &database {
        Some(database) => (vec!["--pg".to_owned(), database.url.clone()], "PostgreSQL"),
        None if options.store == "memory" => (vec!["--memory".to_owned()], "memory"),
        None => (
            vec![
                "--db".to_owned(),
                dir.join("events.db").display().to_string(),
            ],
            "SQLite",
        ),
    };
    let server = Server::start(&binary, &args, dir, false);
    println!("== hostile probes, the example server on the {store} store");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let failures = runtime.block_on(hostile::run(hostile::Target {
        base: &server.base,
        pid: server.child.id(),
    }));
    drop(server);
    drop(database);
    if failures.is_empty() {
        println!("\nhostile: PASS");
    } else {
        println!("\nhostile: FAIL");
        for failure in &failures {
            println!("- {failure}");
        }
        std::process::exit(1);
    }
}

/// `--api`: the page-load routes against the hand-written server; exits 1 on a failed request.
fn api_run(options: &Options) {
    if options.warmup == 10 && options.seconds == 60 {
        println!("(the API mode's defaults: --seconds 10 --warmup 3)");
    }
    let failures = api::run(&api::ApiOptions {
        pg: options.pg.clone().expect("checked"),
        clients: options.client_counts.clone(),
        runs: options.runs,
        seconds: if options.seconds == 60 {
            10
        } else {
            options.seconds
        },
        warmup: if options.warmup == 10 {
            3
        } else {
            options.warmup
        },
        events_per_user: options.events_per_user,
        pin: options.pin,
    });
    if failures.is_empty() {
        println!("\napi: PASS");
    } else {
        println!("\napi: FAIL");
        for failure in &failures {
            println!("- {failure}");
        }
        std::process::exit(1);
    }
}

/// Pins this process (and the threads it starts after) to the second core, leaving the first
/// to the server. Says so, or why not.
fn pin_to_second_core() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores < 2 {
        println!("one core: server and clients share it");
        return false;
    }
    let pinned = Command::new("taskset")
        .args(["-cp", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if pinned {
        println!("pinned: the server on core 0, the clients on core 1 (taskset)");
    } else {
        println!("taskset failed: server and clients are not pinned");
    }
    pinned
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    p50: f64,
    p99: f64,
    rss_per_connection_kib: f64,
    /// The same once every client connected, before any event: the streams alone.
    rss_per_stream_kib: f64,
    cpu_per_frame_us: f64,
}

/// The example server, built with this program's profile and started on an ephemeral port.
struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Server {
    /// The server's program, built with this program's profile (as the example server's own
    /// tests build it).
    fn binary(kind: Kind) -> PathBuf {
        let build = escargot::CargoBuild::new();
        built(match kind {
            Kind::Tidings => build.package("tidings-example-server").example("server"),
            Kind::Baseline => build.package("tidings-load").bin("baseline"),
        })
    }

    /// `binary` with these arguments after `--port 0`, on core 0 when `pin`; `dir` is removed
    /// when it is dropped.
    fn start(binary: &std::path::Path, args: &[String], dir: PathBuf, pin: bool) -> Server {
        let mut command = if pin {
            let mut command = Command::new("taskset");
            command.args(["-c", "0"]).arg(binary);
            command
        } else {
            Command::new(binary)
        };
        let mut child = command
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("piped");
        let (banner, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = banner.send(line);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its address");
        let base = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Server { child, base, dir }
    }

    /// The server's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// The server's CPU time (user and system), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
    }
}

/// The program of `build`, built with this program's profile.
fn built(build: escargot::CargoBuild) -> PathBuf {
    build
        .current_release()
        .run()
        .expect("the server builds")
        .path()
        .to_owned()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Events received.
    frames: AtomicU64,
    /// The next sequence number it expects.
    next: AtomicU64,
    /// Frames that were not the next in sequence (lost, duplicated or out of order).
    out_of_order: AtomicU64,
    lagged: AtomicBool,
    /// The stream ended cleanly (after the shutdown).
    ended: AtomicBool,
    /// The stream failed.
    failed: AtomicBool,
}

/// One demo user: its cookie and how many events were emitted for it.
struct User {
    cookie: String,
    emitted: AtomicU64,
}

async fn run(
    options: Options,
    kind: Kind,
    binary: &std::path::Path,
    pin: bool,
) -> (Figures, Vec<String>) {
    let mut failures = Vec::new();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => println!("open-file limit: {limit}"),
        Err(e) => println!("open-file limit could not be raised: {e}"),
    }
    let database = options.pg.as_deref().map(Database::create);
    let servers: Vec<Server> = (0..options.instances)
        .map(|i| {
            let dir = std::env::temp_dir().join(format!("tidings-load-{}-{i}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            let args = match (&database, kind) {
                (_, Kind::Baseline) => vec![],
                (Some(database), _) => vec!["--pg".to_owned(), database.url.clone()],
                (None, _) if options.store == "memory" => vec!["--memory".to_owned()],
                (None, _) => vec![
                    "--db".to_owned(),
                    dir.join("events.db").display().to_string(),
                ],
            };
            Server::start(binary, &args, dir, pin)
        })
        .collect();
    // The clients connect to the first instance; events are emitted on the others.
    let server = &servers[0];
    let base = server.base.clone();
    let emit_bases: Arc<Vec<String>> = Arc::new(if servers.len() > 1 {
        servers[1..].iter().map(|s| s.base.clone()).collect()
    } else {
        vec![base.clone()]
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()
        .expect("an HTTP client");
    let users_n = (options.clients / 10).max(1);
    println!(
        "{} clients over {users_n} users on {base}; {} events/s for {} s after {} s of warm-up; \
         {} instance(s) on {}",
        options.clients,
        options.rate,
        options.seconds,
        options.warmup,
        servers.len(),
        match (&database, kind) {
            (_, Kind::Baseline) => "no store (the baseline)".to_owned(),
            (Some(database), _) => format!("PostgreSQL ({})", database.name),
            (None, _) if options.store == "memory" => "the memory store".to_owned(),
            (None, _) => "SQLite".to_owned(),
        }
    );

    let mut users = Vec::with_capacity(users_n);
    for _ in 0..users_n {
        let page = client
            .get(format!("{base}/"))
            .send()
            .await
            .expect("the page answers");
        let cookie = page.headers()["set-cookie"]
            .to_str()
            .expect("a cookie")
            .split(';')
            .next()
            .expect("a cookie")
            .to_owned();
        users.push(Arc::new(User {
            cookie,
            emitted: AtomicU64::new(0),
        }));
    }

    // The server's memory before any stream: what each connection adds is measured from here.
    let rss_idle = server.rss_kib();

    // The clients: each connects, then reads until its stream ends.
    let latencies: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let connected = Arc::new(AtomicUsize::new(0));
    let (all_connected, mut on_connected) = watch::channel(0_usize);
    let all_connected = Arc::new(all_connected);
    let mut clients = Vec::with_capacity(options.clients);
    for i in 0..options.clients {
        let seen = Arc::new(Seen::default());
        let user = Arc::clone(&users[i % users_n]);
        let request = client
            .get(format!("{base}/api/events/subscribe"))
            .header("cookie", &user.cookie);
        let (seen2, latencies, connected, all_connected) = (
            Arc::clone(&seen),
            Arc::clone(&latencies),
            Arc::clone(&connected),
            Arc::clone(&all_connected),
        );
        let task = tokio::spawn(async move {
            let response = match request.send().await {
                Ok(response) if response.status() == 200 => response,
                _ => {
                    seen2.failed.store(true, Ordering::Relaxed);
                    let n = connected.fetch_add(1, Ordering::Relaxed) + 1;
                    let _ = all_connected.send(n);
                    return;
                }
            };
            let n = connected.fetch_add(1, Ordering::Relaxed) + 1;
            let _ = all_connected.send(n);
            read_stream(response, &seen2, &latencies).await;
        });
        clients.push((i % users_n, seen, task));
    }
    while *on_connected.borrow_and_update() < options.clients {
        if on_connected.changed().await.is_err() {
            break;
        }
    }
    let rss_connected = server.rss_kib();
    println!(
        "connected: {} clients; server RSS {} MiB",
        options.clients,
        rss_connected / 1024
    );

    // Emitting: each user's events one request after another, at rate / users per second.
    let period = Duration::from_secs_f64(users_n as f64 / options.rate as f64);
    let (stop, stopped) = watch::channel(false);
    let errors = Arc::new(AtomicU64::new(0));
    let mut emitters = Vec::with_capacity(users_n);
    // Each user's ticks are offset by its share of the period, so that the events come evenly
    // (not every user at once, once a period).
    let start = tokio::time::Instant::now();
    for (i, user) in users.iter().enumerate() {
        let offset = period.mul_f64(i as f64 / users_n as f64);
        let (client, bases, user, mut stopped, errors) = (
            client.clone(),
            Arc::clone(&emit_bases),
            Arc::clone(user),
            stopped.clone(),
            Arc::clone(&errors),
        );
        emitters.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(start + offset, period);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopped.changed() => return,
                }
                let n = user.emitted.load(Ordering::Relaxed);
                let base = &bases[n as usize % bases.len()];
                let answer = client
                    .post(format!("{base}/api/designs/d{n}/deploy"))
                    .header("cookie", &user.cookie)
                    .send()
                    .await;
                match answer {
                    Ok(answer) if answer.status() == 200 => {
                        user.emitted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // The server's memory every 10 s, to tell a plateau (caches filling) from a leak.
    let mut timeline = Vec::new();
    let warmup_end = Instant::now() + Duration::from_secs(options.warmup);
    while Instant::now() + Duration::from_secs(10) < warmup_end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        timeline.push(server.rss_kib() / 1024);
    }
    tokio::time::sleep(warmup_end.saturating_duration_since(Instant::now())).await;
    let rss_warm = server.rss_kib();
    let cpu_of_all = || servers.iter().map(Server::cpu_seconds).sum::<f64>();
    let cpu_before = cpu_of_all();
    let emitted_before: u64 = users
        .iter()
        .map(|u| u.emitted.load(Ordering::Relaxed))
        .sum();
    let frames_before: u64 = clients
        .iter()
        .map(|(_, seen, _)| seen.frames.load(Ordering::Relaxed))
        .sum();
    latencies.lock().expect("not poisoned").clear();
    println!(
        "after {} s of warm-up: server RSS {} MiB",
        options.warmup,
        rss_warm / 1024
    );
    let started = Instant::now();
    let run_end = started + Duration::from_secs(options.seconds);
    timeline.push(rss_warm / 1024);
    while Instant::now() + Duration::from_secs(10) < run_end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        timeline.push(server.rss_kib() / 1024);
    }
    tokio::time::sleep(run_end.saturating_duration_since(Instant::now())).await;
    let _ = stop.send(true);
    for emitter in emitters {
        let _ = emitter.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let emitted: u64 = users
        .iter()
        .map(|u| u.emitted.load(Ordering::Relaxed))
        .sum();

    // Drain: every client that keeps up receives every event of its user.
    let drain_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let behind = clients.iter().any(|(user, seen, _)| {
            !seen.lagged.load(Ordering::Relaxed)
                && !seen.failed.load(Ordering::Relaxed)
                && seen.frames.load(Ordering::Relaxed)
                    < users[*user].emitted.load(Ordering::Relaxed)
        });
        if !behind || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu_after = cpu_of_all();
    let rss_end = server.rss_kib();
    let frames: u64 = clients
        .iter()
        .map(|(_, seen, _)| seen.frames.load(Ordering::Relaxed))
        .sum();

    // Shutdown with every stream open: every instance.
    let mut servers = servers;
    let signalled = Instant::now();
    for server in &servers {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &server.child.id().to_string()])
            .status();
    }
    let mut exits = Vec::with_capacity(servers.len());
    for server in &mut servers {
        let exit = loop {
            if let Ok(Some(exit)) = server.child.try_wait() {
                break Some(exit);
            }
            if signalled.elapsed() > Duration::from_secs(10) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        exits.push(exit);
    }
    // The worst: one that did not exit, else one that failed, else a clean exit.
    let exit = exits
        .iter()
        .copied()
        .min_by_key(|exit| exit.map(|e| u8::from(e.success()) + 1).unwrap_or(0))
        .flatten();
    let shutdown = signalled.elapsed();
    for (_, _, task) in &mut clients {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }

    // The figures.
    let rate = (emitted - emitted_before) as f64 / elapsed;
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let lagged = clients
        .iter()
        .filter(|(_, seen, _)| seen.lagged.load(Ordering::Relaxed))
        .count();
    let failed = clients
        .iter()
        .filter(|(_, seen, _)| seen.failed.load(Ordering::Relaxed))
        .count();
    let not_ended = clients
        .iter()
        .filter(|(_, seen, _)| !seen.ended.load(Ordering::Relaxed))
        .count();
    let mut missing = 0_u64;
    let mut out_of_order = 0_u64;
    for (user, seen, _) in &clients {
        if seen.lagged.load(Ordering::Relaxed) {
            continue;
        }
        out_of_order += seen.out_of_order.load(Ordering::Relaxed);
        let expected = users[*user].emitted.load(Ordering::Relaxed);
        missing += expected.saturating_sub(seen.frames.load(Ordering::Relaxed));
    }
    let growth = (rss_end as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
    let cpu_per_frame = (cpu_after - cpu_before) / (frames - frames_before).max(1) as f64;
    let by_user: HashMap<usize, usize> =
        clients
            .iter()
            .fold(HashMap::new(), |mut counts, (user, _, _)| {
                *counts.entry(*user).or_default() += 1;
                counts
            });

    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| clients, users | {} over {} ({} per user) |",
        options.clients,
        users_n,
        by_user.get(&0).copied().unwrap_or(0)
    );
    println!(
        "| events emitted (after warm-up) | {} in {elapsed:.1} s: {rate:.0}/s (asked {}/s) |",
        emitted - emitted_before,
        options.rate
    );
    println!(
        "| emit requests refused | {} |",
        errors.load(Ordering::Relaxed)
    );
    println!("| frames delivered in all | {frames} |");
    println!(
        "| latency emit → frame, p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        quantile(0.5),
        quantile(0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!("| lost (clients that kept up) | {missing} |");
    println!("| duplicated or out of order | {out_of_order} |");
    println!("| clients told they lagged | {lagged} |");
    println!(
        "| server RSS: connected / after warm-up / end | {} / {} / {} MiB ({growth:+.1}% over the run) |",
        rss_connected / 1024,
        rss_warm / 1024,
        rss_end / 1024
    );
    println!(
        "| server RSS every 10 s while emitting | {} MiB |",
        timeline
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rss_per_connection = rss_warm.saturating_sub(rss_idle) as f64 / options.clients as f64;
    let rss_per_stream = rss_connected.saturating_sub(rss_idle) as f64 / options.clients as f64;
    println!(
        "| server RSS per connection: once connected / after warm-up (growth over {} MiB before connecting, / N) | {rss_per_stream:.1} / {rss_per_connection:.1} KiB |",
        rss_idle / 1024
    );
    println!(
        "| server CPU per delivered frame | {:.2} µs |",
        cpu_per_frame * 1e6
    );
    println!(
        "| shutdown (SIGTERM to exit) | {} |",
        match exit {
            Some(exit) => format!("{:.0} ms, {exit}", shutdown.as_secs_f64() * 1000.0),
            None => "did not exit within 10 s".to_owned(),
        }
    );
    println!("| streams not ended cleanly | {not_ended} |");

    if missing > 0 {
        failures.push(format!("{missing} frames lost by clients that kept up"));
    }
    if out_of_order > 0 {
        failures.push(format!("{out_of_order} frames duplicated or out of order"));
    }
    if lagged > 0 {
        failures.push(format!("{lagged} clients were told they lagged"));
    }
    if failed > 0 {
        failures.push(format!(
            "{failed} clients could not connect or their stream failed"
        ));
    }
    if errors.load(Ordering::Relaxed) > 0 {
        failures.push(format!(
            "{} emit requests failed",
            errors.load(Ordering::Relaxed)
        ));
    }
    match exit {
        Some(exit) if exit.success() => {}
        Some(exit) => failures.push(format!("the server exited with {exit} after SIGTERM")),
        None => failures.push("the server did not exit within 10 s of SIGTERM".to_owned()),
    }
    if not_ended > 0 {
        failures.push(format!(
            "{not_ended} streams did not end cleanly at shutdown"
        ));
    }
    if let Some(max) = options.max_growth
        && growth > max
    {
        failures.push(format!(
            "server memory grew {growth:.1}% over the run (limit {max}%)"
        ));
    }
    drop(servers);
    drop(database);
    let figures = Figures {
        p50: quantile(0.5),
        p99: quantile(0.99),
        rss_per_connection_kib: rss_per_connection,
        rss_per_stream_kib: rss_per_stream,
        cpu_per_frame_us: cpu_per_frame * 1e6,
    };
    (figures, failures)
}

/// A fresh database for one run, dropped at the end.
struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    fn create(server: &str) -> Database {
        let name = format!("tidings_load_{}", std::process::id());
        Database::admin(
            server,
            &[
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                &format!("CREATE DATABASE {name}"),
            ],
        )
        .unwrap_or_else(|e| {
            panic!("cannot make a database on the PostgreSQL server at {server}: {e}")
        });
        Database {
            server: server.to_owned(),
            url: format!("{server}/{name}"),
            name,
        }
    }
}

impl Database {
    /// Runs `statements` one by one on the server's `postgres` database, on a thread of its
    /// own: the sync client cannot run on the async executor's threads.
    fn admin(server: &str, statements: &[&str]) -> Result<(), postgres::Error> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut admin =
                        postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)?;
                    for statement in statements {
                        admin.batch_execute(statement)?;
                    }
                    Ok(())
                })
                .join()
                .expect("the admin connection does not panic")
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = Database::admin(&self.server, &[&drop]);
    }
}

/// Reads one client's stream until it ends, checking each event's place in its user's sequence.
async fn read_stream(
    mut response: reqwest::Response,
    seen: &Seen,
    latencies: &std::sync::Mutex<Vec<f64>>,
) {
    let mut buffer = String::new();
    let mut local = Vec::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                seen.ended.store(true, Ordering::Relaxed);
                break;
            }
            Err(_) => {
                seen.failed.store(true, Ordering::Relaxed);
                break;
            }
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut kind = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    kind = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            match kind.as_deref() {
                Some("lagged") => seen.lagged.store(true, Ordering::Relaxed),
                Some(_) => {}
                None if data.is_empty() => {}
                None => {
                    let received = OffsetDateTime::now_utc();
                    let Ok(event) = serde_json::from_str::<serde_json::Value>(&data) else {
                        seen.out_of_order.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let n = event["metadata"]["Design"]
                        .as_str()
                        .and_then(|design| design.strip_prefix('d')?.parse::<u64>().ok());
                    let expected = seen.next.load(Ordering::Relaxed);
                    if n == Some(expected) {
                        seen.next.store(expected + 1, Ordering::Relaxed);
                    } else {
                        seen.out_of_order.fetch_add(1, Ordering::Relaxed);
                        if let Some(n) = n {
                            seen.next.store(n + 1, Ordering::Relaxed);
                        }
                    }
                    seen.frames.fetch_add(1, Ordering::Relaxed);
                    if let Some(created) = event["createdAt"]
                        .as_str()
                        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                    {
                        local.push((received - created).as_seconds_f64() * 1000.0);
                    }
                    if local.len() >= 256 {
                        latencies.lock().expect("not poisoned").append(&mut local);
                    }
                }
            }
        }
    }
    latencies.lock().expect("not poisoned").append(&mut local);
}
