//! Reading: one event, a filtered page with its counts, what a resuming stream missed, and the
//! distinct categories and actions.

use std::borrow::Cow;
use std::fmt;

use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use super::Shared;
use super::connection::{Context, backend};
use super::schema::COLUMNS;
use crate::event::{Event, EventParts};
use crate::name::{Action, Category};
use crate::severity::Severity;
use crate::store::{EventPage, EventQuery, EventTypes, Filter, PageCounts, StoreError, count};

/// One row of `COLUMNS` as an event.
pub(super) fn read_event(row: &Row) -> Result<Event, StoreError> {
    let invalid =
        |what: &str, e: &dyn fmt::Display| backend("cannot read events", format!("{what}: {e}"));
    let metadata: serde_json::Value = row.try_get(10).context("cannot read events")?;
    let metadata = match metadata {
        serde_json::Value::Object(map) => map,
        other => return Err(invalid("metadata is not an object", &other)),
    };
    let text = |index: usize| -> Result<String, StoreError> {
        row.try_get(index).context("cannot read events")
    };
    Ok(Event::from_parts(EventParts {
        id: row.try_get(0).context("cannot read events")?,
        operation_id: row.try_get(1).context("cannot read events")?,
        user_id: row.try_get(2).context("cannot read events")?,
        system_id: row.try_get(3).context("cannot read events")?,
        acted_upon: row.try_get(4).context("cannot read events")?,
        category: Category::new(text(5)?).map_err(|e| invalid("category", &e))?,
        action: Action::new(text(6)?).map_err(|e| invalid("action", &e))?,
        severity: text(7)?.parse().map_err(|e| invalid("severity", &e))?,
        status: text(8)?.parse().map_err(|e| invalid("status", &e))?,
        description: Cow::Owned(text(9)?),
        metadata,
        created_at: row.try_get(11).context("cannot read events")?,
        updated_at: row.try_get(12).context("cannot read events")?,
    }))
}

/// Rows of `COLUMNS` as events.
fn read_events(rows: &[Row]) -> Result<Vec<Event>, StoreError> {
    rows.iter().map(read_event).collect()
}

/// A `WHERE` clause of fixed text and numbered placeholders; the values are bound.
pub(super) struct Where {
    pub(super) clause: String,
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Where {
    fn new() -> Where {
        Where {
            clause: String::new(),
            values: Vec::new(),
        }
    }

    /// Adds `condition`, in which `$` stands for the next placeholder.
    fn and(&mut self, condition: &str, value: Box<dyn ToSql + Sync>) {
        self.values.push(value);
        let condition = condition.replace('$', &format!("${}", self.values.len()));
        self.clause.push_str(if self.clause.is_empty() {
            "WHERE "
        } else {
            " AND "
        });
        self.clause.push_str(&condition);
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| &**v).collect()
    }
}

/// ASCII-only lower case, as the reference store compares (`lower` would fold other letters by
/// the database's locale).
const ASCII_LOWER: &str = "translate(description, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
    'abcdefghijklmnopqrstuvwxyz')";

pub(super) fn filters(query: &EventQuery) -> Where {
    let mut condition = Where::new();
    let texts = |items: Vec<&str>| -> Box<dyn ToSql + Sync> {
        Box::new(
            items
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<String>>(),
        )
    };
    for filter in query.filters() {
        match filter {
            Filter::User(user) => condition.and("user_id = $", Box::new(user)),
            Filter::Categories(categories) => condition.and(
                "category = ANY($)",
                texts(categories.iter().map(Category::as_str).collect()),
            ),
            Filter::Actions(actions) => condition.and(
                "action = ANY($)",
                texts(actions.iter().map(Action::as_str).collect()),
            ),
            Filter::Severities(severities) => condition.and(
                "severity = ANY($)",
                texts(severities.iter().map(|s| s.as_str()).collect()),
            ),
            Filter::ActedUpon(ids) => condition.and("acted_upon = ANY($)", Box::new(ids.to_vec())),
            Filter::Ids(ids) => condition.and("id = ANY($)", Box::new(ids.to_vec())),
            Filter::Status(status) => condition.and("status = $", Box::new(status.as_str())),
            // strpos, not LIKE: `%`, `_` and quotes in the search text are plain characters.
            Filter::Search(search) => condition.and(
                &format!("strpos({ASCII_LOWER}, $) > 0"),
                Box::new(search.to_ascii_lowercase()),
            ),
        }
    }
    condition
}

impl Shared {
    /// One event by id.
    pub(super) fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        self.off_runtime(|| {
            let sql = format!("SELECT {COLUMNS} FROM tidings_events WHERE id = $1");
            let rows = self.on_pool("cannot read events", |connection| {
                connection.query_prepared(&sql, &[&id])
            })?;
            rows.first().map(read_event).transpose()
        })
    }

    /// A page of events, with the counts of the page's user.
    pub(super) fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        self.off_runtime(|| {
            let context = "cannot query events";
            let condition = filters(query);
            let (column, direction) = (query.sort_column(), query.sort_direction());
            let mut params = condition.params();
            // Beyond `bigint` means "all of them".
            let window = query.window().map(|(size, offset)| {
                (
                    i64::try_from(size).unwrap_or(i64::MAX),
                    i64::try_from(offset).unwrap_or(i64::MAX),
                )
            });
            let n = params.len();
            let limit = match &window {
                None => String::new(),
                Some((size, offset)) => {
                    params.push(size);
                    params.push(offset);
                    format!("LIMIT ${} OFFSET ${}", n + 1, n + 2)
                }
            };
            let count_sql = format!("SELECT count(*) FROM tidings_events {}", condition.clause);
            let page_sql = format!(
                "SELECT {COLUMNS} FROM tidings_events {} \
                 ORDER BY {column} {direction}, seq {direction} {limit}",
                condition.clause
            );
            // Per severity with the counted status, and read: the user's events (everyone's).
            let counted = query.counted_status().as_str();
            let user = query.user_id();
            let (total, rows, counts_rows) = self.on_pool(context, |connection| {
                let total: i64 = connection
                    .query_prepared(&count_sql, &params[..n])?
                    .first()
                    .map_or(0, |row| row.get(0));
                let rows = connection.query_prepared(&page_sql, &params)?;
                let counts = connection.query_prepared(
                    "SELECT severity, count(*) FILTER (WHERE status = $1), \
                     count(*) FILTER (WHERE status = 'read') FROM tidings_events \
                     WHERE ($2::uuid IS NULL OR user_id = $2) GROUP BY severity",
                    &[&counted, &user],
                )?;
                Ok((total, rows, counts))
            })?;
            let events = read_events(&rows)?;
            let mut counts = PageCounts::default();
            for row in counts_rows {
                let severity: Severity = row
                    .get::<_, String>(0)
                    .parse()
                    .map_err(|e| backend(context, e))?;
                counts.add(severity, count(row.get(1)), count(row.get(2)));
            }
            Ok(EventPage::assemble(query, events, count(total), counts))
        })
    }

    /// A user's events after `after`, in the store's order; `None` when `after` is unknown.
    pub(super) fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.off_runtime(|| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let sql = format!(
                "SELECT {COLUMNS} FROM tidings_events \
                 WHERE seq > $1 AND user_id = $2 ORDER BY seq LIMIT $3"
            );
            let rows = self.on_pool("cannot read events", |connection| {
                let seq: Option<i64> = connection
                    .query_prepared(
                        "SELECT seq FROM tidings_events WHERE id = $1 AND user_id = $2",
                        &[&after, &user],
                    )?
                    .first()
                    .map(|row| row.get(0));
                match seq {
                    Some(seq) => connection
                        .query_prepared(&sql, &[&seq, &user, &limit])
                        .map(Some),
                    None => Ok(None),
                }
            })?;
            rows.map(|rows| read_events(&rows)).transpose()
        })
    }

    /// The distinct categories and actions.
    pub(super) fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        self.off_runtime(|| {
            let context = "cannot read event types";
            // The user's (or everyone's) distinct values of a column, in order; both on one
            // connection.
            let sql = |column: &str| match user {
                Some(_) => format!(
                    "SELECT DISTINCT {column} FROM tidings_events WHERE user_id = $1 \
                     ORDER BY {column}"
                ),
                None => format!("SELECT DISTINCT {column} FROM tidings_events ORDER BY {column}"),
            };
            let (categories_sql, actions_sql) = (sql("category"), sql("action"));
            let (categories, actions) = self.on_pool(context, |connection| {
                let mut distinct = |sql: &str| -> Result<Vec<String>, postgres::Error> {
                    let rows = match &user {
                        Some(user) => connection.query_prepared(sql, &[user])?,
                        None => connection.query_prepared(sql, &[])?,
                    };
                    Ok(rows.iter().map(|row| row.get(0)).collect())
                };
                Ok((distinct(&categories_sql)?, distinct(&actions_sql)?))
            })?;
            let categories = categories
                .into_iter()
                .map(|c| Category::new(c).map_err(|e| backend(context, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let actions = actions
                .into_iter()
                .map(|a| Action::new(a).map_err(|e| backend(context, e)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(EventTypes {
                categories,
                actions,
            })
        })
    }
}
