//! The OpenAPI 3.1 document of the events API, generated with `utoipa` from these declarations
//! and the routes' annotations in `web.rs`; served at `{mount}/openapi.json`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// An event, as the API serves it (MeshKit's event JSON, camelCase).
#[derive(ToSchema)]
#[schema(as = Event)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventDoc {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    operation_id: String,
    /// Absent for a system event.
    #[schema(format = Uuid)]
    user_id: Option<String>,
    #[schema(format = Uuid)]
    system_id: Option<String>,
    /// The resource the event is about, if any.
    #[schema(format = Uuid)]
    acted_upon: Option<String>,
    /// snake_case.
    category: String,
    /// snake_case.
    action: String,
    severity: SeverityDoc,
    status: StatusDoc,
    description: String,
    /// Free-form entries; an error event carries its error under `err` (and, where the API
    /// serves Meshery's UI, under `error` in MeshKit's shape too).
    metadata: BTreeMap<String, Value>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated_at: String,
}

/// The eight MeshKit severities.
#[derive(ToSchema)]
#[schema(as = Severity)]
#[serde(rename_all = "lowercase")]
pub(super) enum SeverityDoc {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Informational,
    Debug,
    Success,
}

/// Read or unread.
#[derive(ToSchema)]
#[schema(as = Status)]
#[serde(rename_all = "lowercase")]
pub(super) enum StatusDoc {
    Read,
    Unread,
}

/// How many events of a severity.
#[derive(ToSchema)]
#[schema(as = SeverityCount)]
pub(super) struct SeverityCountDoc {
    severity: SeverityDoc,
    count: u64,
}

/// A page size: a number, or `all`.
#[derive(ToSchema)]
#[schema(as = PageSize)]
#[serde(untagged)]
pub(super) enum PageSizeDoc {
    Number(u64),
    #[schema(value_type = String, example = "all")]
    All(String),
}

/// One page of the user's events.
#[derive(ToSchema)]
#[schema(as = EventList)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventListDoc {
    events: Vec<EventDoc>,
    page: u64,
    page_size: PageSizeDoc,
    /// How many events match the filters.
    total_count: u64,
    /// The user's events with the request's `status` (unread without one) per severity, most
    /// urgent first, whatever the other filters.
    count_by_severity_level: Vec<SeverityCountDoc>,
    /// The user's read events.
    read_count: u64,
}

/// The distinct categories and actions.
#[derive(ToSchema)]
#[schema(as = EventTypes)]
pub(super) struct TypesDoc {
    category: Vec<String>,
    action: Vec<String>,
}

/// A client event: the server sets the id, user, system, status and times, and ignores fields
/// it does not take.
#[derive(ToSchema)]
#[schema(as = ClientEvent)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClientEventDoc {
    /// snake_case, at most 64 bytes.
    #[schema(pattern = "^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    category: String,
    /// snake_case, at most 64 bytes.
    #[schema(pattern = "^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    action: String,
    severity: SeverityDoc,
    description: Option<String>,
    metadata: Option<BTreeMap<String, Value>>,
    #[schema(format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    acted_upon: Option<String>,
}

/// A snake_case name: a category or an action.
#[derive(ToSchema)]
#[schema(as = SnakeCase, value_type = String, pattern = "^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
pub(super) struct SnakeCaseDoc(String);

/// A UUID.
#[derive(ToSchema)]
#[schema(as = Uuid, value_type = String, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
pub(super) struct UuidDoc(String);

/// A new status.
#[derive(ToSchema)]
#[schema(as = StatusChange)]
pub(super) struct StatusBodyDoc {
    status: StatusDoc,
}

/// A new status for several events.
#[derive(ToSchema)]
#[schema(as = BulkStatusChange)]
pub(super) struct BulkStatusBodyDoc {
    status: StatusDoc,
    #[schema(inline, value_type = Vec<UuidDoc>)]
    ids: Vec<String>,
}

/// Several events.
#[derive(ToSchema)]
#[schema(as = EventIds)]
pub(super) struct BulkBodyDoc {
    #[schema(inline, value_type = Vec<UuidDoc>)]
    ids: Vec<String>,
}

/// How many events changed.
#[derive(ToSchema)]
#[schema(as = Updated)]
pub(super) struct UpdatedDoc {
    updated: u64,
}

/// What went wrong, and the field or parameter it concerns.
#[derive(ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorDoc {
    error: String,
    field: Option<String>,
}

/// The list's parameters. `category`, `action`, `severity` and `actedUpon` take several values,
/// each as a parameter of its own (`severity=error&severity=warning`); one JSON array of
/// strings in one parameter (`severity=["error","warning"]`, as Meshery's UI sends them) works
/// too. Parameters the API does not take are ignored.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(super) struct ListParams {
    /// The page, from 0.
    #[param(minimum = 0)]
    page: Option<u64>,
    /// A number, or `all` (default 25).
    #[param(value_type = Option<String>, rename = "pagesize", pattern = "^([0-9]+|all)$")]
    pagesize: Option<String>,
    /// Only events whose description contains this text (ASCII case ignored).
    search: Option<String>,
    /// `asc` or `desc` (the default).
    #[param(pattern = "^(asc|desc)$")]
    order: Option<String>,
    /// `created_at` (the default) or `updated_at`.
    #[param(pattern = "^(created_at|updated_at)$")]
    sort: Option<String>,
    status: Option<StatusDoc>,
    /// snake_case categories.
    #[param(style = Form, explode, value_type = Option<Vec<SnakeCaseDoc>>)]
    category: Option<Vec<String>>,
    /// snake_case actions.
    #[param(style = Form, explode, value_type = Option<Vec<SnakeCaseDoc>>)]
    action: Option<Vec<String>>,
    #[param(style = Form, explode)]
    severity: Option<Vec<SeverityDoc>>,
    #[param(style = Form, explode, value_type = Option<Vec<UuidDoc>>)]
    acted_upon: Option<Vec<String>>,
}

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
        super::list,
        super::create,
        super::types,
        super::get_one,
        super::delete_one,
        super::set_status_one,
        super::set_status_bulk,
        super::delete_bulk,
        super::subscribe,
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
pub(super) struct ApiDoc;

/// The document as JSON.
pub(super) fn document() -> String {
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
