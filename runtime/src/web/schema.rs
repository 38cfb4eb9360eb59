//! The shapes of the API as its OpenAPI document describes them (`utoipa` schemas): what the
//! handlers' `#[utoipa::path]` annotations name, and what [`openapi`](super::openapi) lists.
//! They are documentation only: never built, so their fields are never read (the module is
//! declared with `#[expect(dead_code)]`, which fails the build once one of them is used).

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

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
    /// Whether the page size asked for (`all`, or a number) was over the server's cap
    /// (`web::Options::max_page_size`) and the page holds at most the cap.
    capped: bool,
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

/// A new status for several events: `ids`, or `"all": true` for every event of the user that
/// the list's filters in the query string match.
#[derive(ToSchema)]
#[schema(as = BulkStatusChange)]
pub(super) struct BulkStatusBodyDoc {
    status: StatusDoc,
    #[schema(inline, value_type = Option<Vec<UuidDoc>>)]
    ids: Option<Vec<String>>,
    /// Every event of the user that the query string's filters match (instead of `ids`).
    all: Option<bool>,
}

/// Several events: `ids`, or `"all": true` for every event of the user that the list's filters
/// in the query string match.
#[derive(ToSchema)]
#[schema(as = EventIds)]
pub(super) struct BulkBodyDoc {
    #[schema(inline, value_type = Option<Vec<UuidDoc>>)]
    ids: Option<Vec<String>>,
    /// Every event of the user that the query string's filters match (instead of `ids`).
    all: Option<bool>,
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
