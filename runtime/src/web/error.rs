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
}

impl ApiError {
    /// 400: `field` is wrong, as `message` says.
    pub(super) fn bad(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field),
        }
    }

    /// 401: the application says the request has no user.
    pub(super) fn no_user() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "no user for this request".to_owned(),
            field: None,
        }
    }

    /// 404: no event of the user has this id (another user's event answers the same).
    pub(super) fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: "no such event".to_owned(),
            field: None,
        }
    }

    /// 500, with the error's message.
    pub(super) fn internal(error: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            field: None,
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
        (self.status, Json(Value::Object(body))).into_response()
    }
}

/// A parameter's parsed value, or a 400 that names the parameter and says what is wrong.
pub(super) fn parameter<T, E: std::fmt::Display>(
    field: &'static str,
    parsed: Result<T, E>,
) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::bad(field, e.to_string()))
}
