//! The events API over real HTTP on 127.0.0.1, as the web, limits and PostgreSQL tests start it:
//! the user of a request is the UUID in its `x-user-id` header; the readiness route is at
//! `/health`.
#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use tidings::web::Options;
use tidings::{Emitter, Uuid};

pub struct Server {
    /// Where the events API is mounted.
    pub base: String,
    /// The server's origin, where `/health` is.
    pub origin: String,
    pub events: Emitter,
    pub client: Client,
}

/// The events API of `events` with `options`, mounted at `/api/events` on an ephemeral port, and
/// its readiness route at `/health`.
pub async fn start(events: Emitter, options: Options) -> Server {
    let app = axum::Router::new()
        .nest_service(
            "/api/events",
            tidings::web::router_with(
                events.clone(),
                |parts| Uuid::parse_str(parts.headers.get("x-user-id")?.to_str().ok()?).ok(),
                options,
            ),
        )
        .nest_service("/health", tidings::web::health(events.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{address}/api/events"),
        origin: format!("http://{address}"),
        events,
        client: Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    }
}

impl Server {
    /// A request of `user` to `path` under the mount.
    pub fn request(
        &self,
        method: reqwest::Method,
        user: Uuid,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("x-user-id", user.to_string())
    }

    pub fn get(&self, user: Uuid, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, user, path)
    }

    /// A request with a JSON body.
    pub fn send(
        &self,
        method: reqwest::Method,
        user: Uuid,
        path: &str,
        body: Value,
    ) -> reqwest::RequestBuilder {
        self.request(method, user, path).json(&body)
    }

    /// The OpenAPI document the API serves.
    pub async fn openapi(&self) -> Value {
        self.client
            .get(format!("{}/openapi.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The list's answer for `query`, which must be 200.
    pub async fn list(&self, user: Uuid, query: &str) -> Value {
        let response = self.get(user, &format!("?{query}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}
