//! `--api`: the events API's routes that a page load uses, at a fixed number of concurrent
//! clients, against the example server on PostgreSQL and against `src/bin/api_baseline.rs` (the
//! same API written by hand with axum, `tokio-postgres` and `deadpool-postgres`, running the same
//! SQL), on the same database with the same rows.
//!
//! Each client is a user with `--events-per-user` events (300 by default) and loads the page
//! again and again, one request after another: the list (page 0 of 15, newest first, with the
//! counts), `/types`, one event marked read, and the page's events marked unread again in bulk
//! (so that every pass finds the same state). Every answer must be 200 with the expected body;
//! a run with a failed request fails.
//!
//! A measurement is `--seconds` of this after a warm-up of `--warmup` seconds on a freshly
//! started server (the server on core 0, the clients on core 1). For each number of clients
//! (`--clients 16,256`), `--runs` pairs of measurements alternate which server goes first; the
//! ratios (tidings / hand-written) are taken per pair and their median printed.
//!
//! ```sh
//! cargo run --release -p tidings-load -- --api --pg postgres://postgres@127.0.0.1:5432 --clients 16,256 --runs 3 --seconds 10
//! ```
//!
//! `TIDINGS_LOAD_SERVER=path/to/server` measures that build of the example server instead of
//! this checkout's (an earlier commit's, say).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Database, Server};

/// What `--api` is asked for.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub pg: String,
    pub clients: Vec<usize>,
    pub runs: usize,
    pub seconds: u64,
    pub warmup: u64,
    pub events_per_user: usize,
    pub pin: bool,
}

/// One server's figures for one measurement.
#[derive(Debug, Clone, Copy)]
struct Measured {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The server process's CPU time per request, in µs (PostgreSQL's not counted).
    cpu_us: f64,
}

/// The two servers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Which {
    Tidings,
    ByHand,
}

/// Runs the mode; the failures, if any.
pub fn run(options: &ApiOptions) -> Vec<String> {
    let tidings = build(Which::Tidings);
    let by_hand = build(Which::ByHand);
    let pin = options.pin && crate::pin_to_second_core();
    let database = Database::create(&options.pg);
    let users: Vec<Uuid> = (0..options.clients.iter().copied().max().unwrap_or(1))
        .map(|_| Uuid::new_v4())
        .collect();
    // The schema, as the example server creates it; then the rows.
    drop(start(Which::Tidings, &tidings, &database, false));
    seed(&options.pg, &database.name, &users, options.events_per_user);
    println!(
        "{} users with {} events each in {}; {} s measured after {} s of warm-up, {} pair(s) \
         of runs per number of clients, alternating which server goes first",
        users.len(),
        options.events_per_user,
        database.name,
        options.seconds,
        options.warmup,
        options.runs
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for &clients in &options.clients {
        let mut pairs = Vec::new();
        for run in 0..options.runs {
            let order = if run % 2 == 0 {
                [Which::Tidings, Which::ByHand]
            } else {
                [Which::ByHand, Which::Tidings]
            };
            let mut pair = [None, None];
            for which in order {
                let binary = if which == Which::Tidings {
                    &tidings
                } else {
                    &by_hand
                };
                let server = start(which, binary, &database, pin);
                let result = runtime.block_on(measure(
                    &server,
                    &users[..clients],
                    Duration::from_secs(options.warmup),
                    Duration::from_secs(options.seconds),
                ));
                drop(server);
                match result {
                    Ok(measured) => {
                        println!(
                            "{clients:>4} clients, run {}, {which:?}: {:.0} requests/s, p50 \
                             {:.2} ms, p99 {:.2} ms, server CPU {:.0} µs a request",
                            run + 1,
                            measured.requests_per_second,
                            measured.p50_ms,
                            measured.p99_ms,
                            measured.cpu_us
                        );
                        pair[usize::from(which == Which::ByHand)] = Some(measured);
                    }
                    Err(failure) => {
                        failures.push(format!("{clients} clients, {which:?}: {failure}"))
                    }
                }
            }
            if let [Some(tidings), Some(by_hand)] = pair {
                pairs.push((tidings, by_hand));
            }
        }
        if !pairs.is_empty() {
            summary.push((clients, pairs));
        }
    }
    println!(
        "\n| clients | tidings requests/s | by hand requests/s | throughput ratio | tidings p99 | \
         by hand p99 | p99 ratio | server CPU a request, ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (clients, pairs) in &summary {
        // Of an even number, the mean of the two in the middle.
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            let middle = values.len() / 2;
            if values.len().is_multiple_of(2) {
                (values[middle - 1] + values[middle]) / 2.0
            } else {
                values[middle]
            }
        };
        let ours = median(pairs.iter().map(|(t, _)| t.requests_per_second).collect());
        let theirs = median(pairs.iter().map(|(_, b)| b.requests_per_second).collect());
        let throughput = median(
            pairs
                .iter()
                .map(|(t, b)| t.requests_per_second / b.requests_per_second)
                .collect(),
        );
        let our_p99 = median(pairs.iter().map(|(t, _)| t.p99_ms).collect());
        let their_p99 = median(pairs.iter().map(|(_, b)| b.p99_ms).collect());
        let p99 = median(pairs.iter().map(|(t, b)| t.p99_ms / b.p99_ms).collect());
        let cpu = median(pairs.iter().map(|(t, b)| t.cpu_us / b.cpu_us).collect());
        println!(
            "| {clients} | {ours:.0} | {theirs:.0} | **{throughput:.2}x** | {our_p99:.2} ms | \
             {their_p99:.2} ms | **{p99:.2}x** | {cpu:.2}x |"
        );
    }
    println!("(medians over the pairs; each ratio is taken within a pair)");
    failures
}

/// The server's program, built with this program's profile; for tidings, the program named by
/// `TIDINGS_LOAD_SERVER` if set (another build of the example server, to measure it against the
/// same hand-written one).
fn build(which: Which) -> PathBuf {
    if let (Which::Tidings, Some(path)) = (which, std::env::var_os("TIDINGS_LOAD_SERVER")) {
        return PathBuf::from(path);
    }
    let build = escargot::CargoBuild::new();
    crate::built(match which {
        Which::Tidings => build.package("tidings-example-server").example("server"),
        Which::ByHand => build.package("tidings-load").bin("api_baseline"),
    })
}

fn start(which: Which, binary: &Path, database: &Database, pin: bool) -> Server {
    let dir =
        std::env::temp_dir().join(format!("tidings-load-api-{}-{which:?}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    Server::start(binary, &["--pg".to_owned(), database.url.clone()], dir, pin)
}

/// `per_user` events for each of `users`, a mix of categories, actions and severities, all
/// unread, one a second back from now.
fn seed(server: &str, name: &str, users: &[Uuid], per_user: usize) {
    let url = format!("{server}/{name}");
    let users = users.to_vec();
    let per_user = i32::try_from(per_user).expect("events per user fit an integer");
    std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).expect("the seeding connection");
        client
            .execute(
                "INSERT INTO tidings_events (id, operation_id, user_id, acted_upon, category, \
                 action, severity, status, description, metadata, created_at, updated_at) \
                 SELECT gen_random_uuid(), gen_random_uuid(), u, gen_random_uuid(), \
                 (ARRAY['connection', 'design', 'pattern'])[1 + i % 3], \
                 (ARRAY['ping', 'deploy', 'undeploy', 'update'])[1 + i % 4], \
                 (ARRAY['success', 'informational', 'warning', 'error'])[1 + i % 4], 'unread', \
                 'the event ' || i || ' of a page load test', \
                 jsonb_build_object('n', i, 'trace', repeat('x', 100)), \
                 now() - make_interval(secs => i), now() - make_interval(secs => i) \
                 FROM unnest($1::uuid[]) AS u, generate_series(1, $2) AS i",
                &[&users, &per_user],
            )
            .expect("the events are seeded");
        client
            .batch_execute("VACUUM ANALYZE tidings_events")
            .expect("analyzed");
    })
    .join()
    .expect("seeding does not panic");
}

/// `users.len()` clients, each loading its user's page in a loop: `warmup`, then `measured`.
async fn measure(
    server: &Server,
    users: &[Uuid],
    warmup: Duration,
    measured: Duration,
) -> Result<Measured, String> {
    let base = server.base.as_str();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let from = start + warmup;
    let until = from + measured;
    let base: Arc<str> = Arc::from(base);
    let tasks: Vec<_> = users
        .iter()
        .map(|&user| {
            let (client, base) = (client.clone(), Arc::clone(&base));
            tokio::spawn(async move { page_loads(&client, &base, user, from, until).await })
        })
        .collect();
    tokio::time::sleep_until(from.into()).await;
    let cpu_from = server.cpu_seconds();
    tokio::time::sleep_until(until.into()).await;
    let cpu = server.cpu_seconds() - cpu_from;
    let mut latencies: Vec<u32> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| e.to_string())??);
    }
    if latencies.is_empty() {
        return Err("no request was measured".to_owned());
    }
    latencies.sort_unstable();
    let at = |q: f64| f64::from(latencies[((latencies.len() - 1) as f64 * q) as usize]) / 1000.0;
    Ok(Measured {
        requests_per_second: latencies.len() as f64 / measured.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        cpu_us: cpu * 1e6 / latencies.len() as f64,
    })
}

/// One client: page loads until `until`; the latency (µs) of each request that started at or
/// after `from`.
async fn page_loads(
    client: &reqwest::Client,
    base: &str,
    user: Uuid,
    from: Instant,
    until: Instant,
) -> Result<Vec<u32>, String> {
    let cookie = format!("tidings_user={user}");
    let api = format!("{base}/api/events");
    let mut latencies = Vec::new();
    let timed = |started: Instant, latencies: &mut Vec<u32>| {
        if started >= from {
            latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        }
    };
    while Instant::now() < until {
        let started = Instant::now();
        let page = answer(
            client
                .get(format!(
                    "{api}?page=0&sort=created_at&order=desc&pagesize=15"
                ))
                .header("cookie", &cookie),
            "the list",
        )
        .await?;
        timed(started, &mut latencies);
        let ids: Vec<String> = page["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| Some(e["id"].as_str()?.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() != 15 || page["countBySeverityLevel"].as_array().is_none() {
            return Err(format!("the list answered {page}"));
        }

        let started = Instant::now();
        let types = answer(
            client.get(format!("{api}/types")).header("cookie", &cookie),
            "/types",
        )
        .await?;
        timed(started, &mut latencies);
        if types["category"].as_array().is_none_or(Vec::is_empty) {
            return Err(format!("/types answered {types}"));
        }

        let started = Instant::now();
        let marked = answer(
            client
                .put(format!("{api}/status/{}", ids[0]))
                .header("cookie", &cookie)
                .json(&json!({ "status": "read" })),
            "marking one event read",
        )
        .await?;
        timed(started, &mut latencies);
        if marked["status"] != "read" {
            return Err(format!("marking one event read answered {marked}"));
        }

        let started = Instant::now();
        let bulk = answer(
            client
                .put(format!("{api}/status/bulk"))
                .header("cookie", &cookie)
                .json(&json!({ "ids": ids, "status": "unread" })),
            "marking the page unread",
        )
        .await?;
        timed(started, &mut latencies);
        if bulk["updated"].as_u64().is_none() {
            return Err(format!("marking the page unread answered {bulk}"));
        }
    }
    Ok(latencies)
}

/// The JSON of a 200 answer.
async fn answer(request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("{what} failed: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{what}: {e}"))?;
    if status != 200 {
        return Err(format!("{what} answered {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{what} answered {body:?}: {e}"))
}
