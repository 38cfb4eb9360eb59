//! The OpenAPI 3.1 document of the events API, generated with `utoipa` from the handlers'
//! annotations and the shapes in [`schema`](super::schema); served at `{mount}/openapi.json`.

use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::schema::{
    BulkBodyDoc, BulkStatusBodyDoc, ClientEventDoc, ErrorDoc, EventDoc, EventListDoc, PageSizeDoc,
    SeverityCountDoc, SeverityDoc, SnakeCaseDoc, StatusBodyDoc, StatusDoc, TypesDoc, UpdatedDoc,
    UuidDoc,
};
use super::{handlers, stream};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tidings events API",
        description = "The events of the request's user: list, filter, mark, delete, and a live \
                       stream. The user comes from the application (a cookie or header its own \
                       authentication vouches for); a request without one answers 401."
    ),
    paths(
        handlers::list,
        handlers::create,
        handlers::types,
        handlers::get_one,
        handlers::delete_one,
        handlers::set_status_one,
        handlers::set_status_bulk,
        handlers::delete_bulk,
        stream::subscribe,
    ),
    components(schemas(
        EventDoc,
        SeverityDoc,
        StatusDoc,
        SeverityCountDoc,
        PageSizeDoc,
        EventListDoc,
        TypesDoc,
        ClientEventDoc,
        StatusBodyDoc,
        BulkStatusBodyDoc,
        BulkBodyDoc,
        UpdatedDoc,
        ErrorDoc,
        UuidDoc,
        SnakeCaseDoc,
    ))
)]
struct ApiDoc;

/// `GET /openapi.json`: the document, made once.
pub(super) async fn serve() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(document).clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document,
    )
        .into_response()
}

/// The document as JSON.
fn document() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The document's severities and statuses are the real ones: a level added to `Severity`
    /// and not here fails this.
    #[test]
    fn the_documented_levels_and_statuses_are_the_real_ones() {
        let document: Value = serde_json::from_str(&super::document()).unwrap();
        let names = |schema: &str| -> Vec<String> {
            document["components"]["schemas"][schema]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let mut documented = names("Severity");
        let mut real: Vec<String> = tidings_rules::SEVERITIES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        documented.sort();
        real.sort();
        assert_eq!(documented, real);
        assert_eq!(names("Status"), ["read", "unread"]);
    }
}
