//! The list's parameters: a query string into an [`EventQuery`], or a 400 naming the parameter.

use uuid::Uuid;

use super::error::{ApiError, parameter};
use crate::name::{Action, Category};
use crate::store::{EventQuery, Order, PageSize, SortField};

/// Parses the list parameters; repeated keys add values.
pub(super) fn parse_query(raw: Option<&str>, user: Uuid) -> Result<EventQuery, ApiError> {
    let mut query = EventQuery::new().user(user);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.as_ref();
        let number = |field: &'static str| {
            let parsed = value.parse::<usize>();
            parameter(
                field,
                parsed.map_err(|_| format!("`{field}` must be a whole number, not {value:?}")),
            )
        };
        query = match key.as_ref() {
            "page" => query.page(number("page")?),
            "pagesize" if value == "all" => query.page_size(PageSize::All),
            "pagesize" => query.page_size(PageSize::Limit(number("pagesize")?)),
            "search" => query.search(value),
            "order" => query.order(parameter(
                "order",
                match value {
                    "asc" => Ok(Order::Asc),
                    "desc" => Ok(Order::Desc),
                    _ => Err(format!("`order` must be `asc` or `desc`, not {value:?}")),
                },
            )?),
            "sort" => query.sort(parameter(
                "sort",
                match value {
                    "created_at" => Ok(SortField::CreatedAt),
                    "updated_at" => Ok(SortField::UpdatedAt),
                    _ => Err(format!(
                        "`sort` must be `created_at` or `updated_at`, not {value:?}"
                    )),
                },
            )?),
            "status" => query.status(parameter("status", value.parse())?),
            "category" => each(
                "category",
                value,
                |q, v| Ok(q.category(Category::new(v.to_owned()).map_err(|e| e.to_string())?)),
                query,
            )?,
            "action" => each(
                "action",
                value,
                |q, v| Ok(q.action(Action::new(v.to_owned()).map_err(|e| e.to_string())?)),
                query,
            )?,
            "severity" => each(
                "severity",
                value,
                |q, v| Ok(q.severity(v.parse().map_err(|e: crate::UnknownLevel| e.to_string())?)),
                query,
            )?,
            "actedUpon" => each(
                "actedUpon",
                value,
                |q, v| {
                    let id = Uuid::parse_str(v)
                        .map_err(|_| format!("`actedUpon` must be a UUID, not {v:?}"))?;
                    Ok(q.acted_upon(id))
                },
                query,
            )?,
            // Parameters this API does not take (Meshery's UI sends `author`) are ignored, as
            // Meshery's server does.
            _ => query,
        };
    }
    Ok(query)
}

/// A multi-valued filter: repeated (`severity=error&severity=warning`), or one JSON array of
/// strings (`severity=["error","warning"]`, as Meshery's UI sends it). Each value is added by
/// `add`; a malformed array or value is a 400 naming the parameter.
fn each(
    field: &'static str,
    value: &str,
    add: impl Fn(EventQuery, &str) -> Result<EventQuery, String>,
    mut query: EventQuery,
) -> Result<EventQuery, ApiError> {
    // An empty value (a filter with nothing chosen, `category=`) does not filter.
    if value.is_empty() {
        return Ok(query);
    }
    if !value.trim_start().starts_with('[') {
        return parameter(field, add(query, value));
    }
    let values: Vec<String> = parameter(
        field,
        serde_json::from_str(value).map_err(|e| {
            format!("`{field}` as a list must be a JSON array of strings, not {value:?} ({e})")
        }),
    )?;
    for value in &values {
        query = parameter(field, add(query, value))?;
    }
    Ok(query)
}

/// The list parameters' parser, for the fuzz target: the query, or the parameter a 400 would
/// name and its message. Not a public API: compiled only with the `test-doors` feature.
#[cfg(feature = "test-doors")]
#[doc(hidden)]
pub fn __parse_query(raw: &str) -> Result<EventQuery, (&'static str, String)> {
    parse_query(Some(raw), Uuid::nil()).map_err(|e| (e.field.unwrap_or("query"), e.message))
}
