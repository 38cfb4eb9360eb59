//! Errors as the API answers them: a status and a JSON body naming what was wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// A 4xx or 5xx answer with a JSON body naming what was wrong: `{"error": ..., "field": ...}`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) field: Option<&'static str>,
    /// `Retry-After`, in seconds, for a refusal that passes.
    pub(super) retry_after: Option<u32>,
}

impl ApiError {
    /// 400: `field` is wrong, as `message` says.
    pub(super) fn bad(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field),
            retry_after: None,
        }
    }

    /// 401: the application says the request has no user.
    pub(super) fn no_user() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "no user for this request".to_owned(),
            field: None,
            retry_after: None,
        }
    }

    /// 404: no event of the user has this id (another user's event answers the same).
    pub(super) fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: "no such event".to_owned(),
            field: None,
            retry_after: None,
        }
    }

    /// 413: `field` is over a limit, as `message` says (naming the limit and the value).
    pub(super) fn too_large(field: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::debug!(target: "tidings", field, %message, "a request was refused: over a limit");
        metrics::counter!("tidings_requests_refused_total", "limit" => field).increment(1);
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message,
            field: Some(field),
            retry_after: None,
        }
    }

    /// 415: a body that is not `application/json`.
    pub(super) fn not_json(content_type: Option<&str>) -> Self {
        let found = content_type.map_or_else(|| "none".to_owned(), |t| format!("{t:?}"));
        tracing::debug!(target: "tidings", content_type = %found, "a request was refused: not JSON");
        metrics::counter!("tidings_requests_refused_total", "limit" => "content_type").increment(1);
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("a body must be `Content-Type: application/json`, not {found}"),
            field: Some("Content-Type"),
            retry_after: None,
        }
    }

    /// 429: a limit on what is open at once, as `message` says; try again after `seconds`.
    pub(super) fn too_many(message: impl Into<String>, seconds: u32) -> Self {
        let message = message.into();
        tracing::debug!(target: "tidings", %message, "a live stream was refused: over a limit");
        metrics::counter!("tidings_requests_refused_total", "limit" => "streams").increment(1);
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message,
            field: None,
            retry_after: Some(seconds),
        }
    }

    /// 503: the store's threads and their queue are full, as `message` says; try again in a
    /// second.
    pub(super) fn busy(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::debug!(target: "tidings", %message, "a request was refused: the store is busy");
        metrics::counter!("tidings_requests_refused_total", "limit" => "store_queue").increment(1);
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message,
            field: None,
            retry_after: Some(1),
        }
    }

    /// 500, with the error's message.
    pub(super) fn internal(error: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            field: None,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(self.message));
        if let Some(field) = self.field {
            body.insert("field".to_owned(), Value::String(field.to_owned()));
        }
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// A parameter's parsed value, or a 400 that names the parameter and says what is wrong.
pub(super) fn parameter<T, E: std::fmt::Display>(
    field: &'static str,
    parsed: Result<T, E>,
) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::bad(field, e.to_string()))
}
