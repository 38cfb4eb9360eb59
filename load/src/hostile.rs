//! `--hostile`: one signed-in user against the example server, trying to make it hold what it
//! should not (issue #28). Each probe prints the answers it got and the server's peak RSS growth
//! over the probe (the kernel's high-water mark, reset before each probe); a probe fails when it
//! grows the server by more than 64 MB, or when a refusal does not name its limit.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The most one probe may grow the server's RSS.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// The server under probe.
pub struct Target<'a> {
    pub base: &'a str,
    pub pid: u32,
}

impl Target<'_> {
    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Resets the peak RSS (`VmHWM`) to the current RSS; the RSS now.
    fn reset_peak(&self) -> u64 {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
        self.status_kib("VmRSS:")
    }
}

/// What one probe saw: its answers (status and how many), a sample error text per status.
#[derive(Default)]
struct Seen {
    statuses: BTreeMap<u16, usize>,
    errors: BTreeMap<u16, String>,
}

impl Seen {
    async fn answer(&mut self, response: reqwest::Response) -> Option<Value> {
        let status = response.status().as_u16();
        *self.statuses.entry(status).or_default() += 1;
        let body: Option<Value> = response.json().await.ok();
        if status >= 400 {
            let error = body
                .as_ref()
                .and_then(|b| b["error"].as_str())
                .unwrap_or("(no JSON error)")
                .to_owned();
            self.errors.entry(status).or_insert(error);
        }
        body
    }

    fn summary(&self) -> String {
        self.statuses
            .iter()
            .map(|(status, n)| format!("{status} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs every probe as one user of the example server at `target`; the failures.
pub async fn run(target: Target<'_>) -> Vec<String> {
    let client = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let page = client
        .get(format!("{}/", target.base))
        .send()
        .await
        .expect("the page");
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let api = format!("{}/api/events", target.base);
    let mut failures = Vec::new();
    println!("| probe | answers | a refusal says | peak RSS growth |");
    println!("|---|---|---|---|");
    let mut report = |name: &str, seen: &Seen, before: u64| {
        let growth = target.status_kib("VmHWM:").saturating_sub(before);
        let said = seen
            .errors
            .iter()
            .map(|(status, error)| {
                let short: String = error.chars().take(90).collect();
                format!("{status}: {short}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "| {name} | {} | {said} | {:.1} MB |",
            seen.summary(),
            growth as f64 / 1024.0
        );
        if growth > MAX_GROWTH_KIB {
            failures.push(format!(
                "{name}: the server grew by {:.1} MB (at most 64)",
                growth as f64 / 1024.0
            ));
        }
        for (status, error) in &seen.errors {
            let names_it = error.contains("max_")
                || error.contains("DefaultBodyLimit")
                || error.contains("application/json")
                || error.contains("MAX_");
            if *status != 400 && !names_it {
                failures.push(format!("{name}: a {status} that names no limit: {error}"));
            }
        }
    };
    let post = |body: Value| {
        client
            .post(&api)
            .header("cookie", &cookie)
            .json(&body)
            .send()
    };

    // 1. Events far over the size limit.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let huge = "d".repeat(1_500_000);
    for _ in 0..60 {
        let body = json!({"category": "design", "action": "import", "severity": "critical",
            "description": huge});
        seen.answer(post(body).await.unwrap()).await;
    }
    report("60 client events of 1.5 MB", &seen, before);

    // 2. Many events just within the size limit: the store's bounds hold.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let large = "l".repeat(60_000);
    for _ in 0..1_500 {
        let body = json!({"category": "design", "action": "import", "severity": "warning",
            "description": large});
        seen.answer(post(body).await.unwrap()).await;
    }
    report("1,500 client events of 60 KB", &seen, before);
    // The oldest event still stored: where the resumes below start.
    let oldest: Value = client
        .get(format!("{api}?order=asc&pagesize=1"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = oldest["events"][0]["id"].as_str().map(str::to_owned);

    // 3. The whole history in one answer.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let answer = seen
        .answer(
            client
                .get(format!("{api}?pagesize=all"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap(),
        )
        .await;
    let shown = answer
        .as_ref()
        .and_then(|a| a["events"].as_array().map(Vec::len))
        .unwrap_or(0);
    report(
        &format!("GET ?pagesize=all ({shown} events answered)"),
        &seen,
        before,
    );

    // 4. Resumes from the first event, five at once, read to their end of replay.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut request = client
            .get(format!("{api}/subscribe"))
            .header("cookie", &cookie);
        if let Some(first) = &first {
            request = request.header("last-event-id", first);
        }
        let response = request.send().await.unwrap();
        *seen.statuses.entry(response.status().as_u16()).or_default() += 1;
        streams.push(response);
    }
    // Not read: a client that does not read holds what the server sent it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    report("5 resumes from the first event, not read", &seen, before);
    drop(streams);

    // 5. More live streams than a user may hold.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let mut open = Vec::new();
    for _ in 0..40 {
        let response = client
            .get(format!("{api}/subscribe"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            *seen.statuses.entry(200).or_default() += 1;
            open.push(response);
        } else {
            seen.answer(response).await;
        }
    }
    report("40 live streams of one user", &seen, before);
    drop(open);

    // 6. A form from another site: not JSON.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let response = client
        .post(&api)
        .header("cookie", &cookie)
        .header("content-type", "text/plain")
        .body(r#"{"category":"security","action":"alert","severity":"critical"}"#)
        .send()
        .await
        .unwrap();
    seen.answer(response).await;
    report("POST as text/plain", &seen, before);

    // 7. Bulk bodies: too many ids, and a body over the body limit.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let ids: Vec<String> = (0..20_000)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let response = client
        .put(format!("{api}/status/bulk"))
        .header("cookie", &cookie)
        .json(&json!({"status": "read", "ids": ids}))
        .send()
        .await
        .unwrap();
    seen.answer(response).await;
    let ids: Vec<String> = (0..80_000)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let response = client
        .delete(format!("{api}/bulk"))
        .header("cookie", &cookie)
        .json(&json!({"ids": ids}))
        .send()
        .await
        .unwrap();
    seen.answer(response).await;
    report("bulk bodies of 20,000 and 80,000 ids", &seen, before);

    // 8. Mark all, then delete all, by the list's filters.
    let before = target.reset_peak();
    let mut seen = Seen::default();
    let response = client
        .put(format!("{api}/status/bulk?status=unread"))
        .header("cookie", &cookie)
        .json(&json!({"status": "read", "all": true}))
        .send()
        .await
        .unwrap();
    seen.answer(response).await;
    let response = client
        .delete(format!("{api}/bulk"))
        .header("cookie", &cookie)
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    *seen.statuses.entry(response.status().as_u16()).or_default() += 1;
    report("mark all read, then delete all", &seen, before);
    failures
}
