//! Reading: one event, a filtered page with its counts, what a resuming stream missed, and the
//! distinct categories and actions.

use std::borrow::Cow;
use std::fmt;

use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use super::Shared;
use super::connection::{Context, backend, on_pool, select};
use super::schema::READ_COLUMNS as COLUMNS;
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
        count: u32::try_from(row.try_get::<_, i32>(13).context("cannot read events")?).unwrap_or(1),
    }))
}

/// Rows of `COLUMNS` as events.
fn read_events(rows: &[Row]) -> Result<Vec<Event>, StoreError> {
    rows.iter().map(read_event).collect()
}

/// A `WHERE` clause of fixed text and numbered placeholders; the values are bound.
pub(super) struct Where {
    pub(super) clause: String,
    values: Vec<Box<dyn ToSql + Send + Sync>>,
}

impl Where {
    fn new() -> Where {
        Where {
            clause: String::new(),
            values: Vec::new(),
        }
    }

    /// Adds `condition`, in which `$` stands for the next placeholder.
    fn and(&mut self, condition: &str, value: Box<dyn ToSql + Send + Sync>) {
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
        self.values
            .iter()
            .map(|v| &**v as &(dyn ToSql + Sync))
            .collect()
    }
}

/// ASCII-only lower case, as the reference store compares (`lower` would fold other letters by
/// the database's locale).
const ASCII_LOWER: &str = "translate(description, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
    'abcdefghijklmnopqrstuvwxyz')";

pub(super) fn filters(query: &EventQuery) -> Where {
    let mut condition = Where::new();
    let texts = |items: Vec<&str>| -> Box<dyn ToSql + Send + Sync> {
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
    pub(super) async fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tidings_events WHERE id = $1");
        let rows = on_pool!(self.queries()?, "cannot read events", |client| async {
            select(client, &sql, &[&id]).await
        })?;
        rows.first().map(read_event).transpose()
    }

    /// A page of events, with the counts of the page's user.
    pub(super) async fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let context = "cannot query events";
        let condition = filters(query);
        let (column, direction) = (query.sort_column(), query.sort_direction());
        // Beyond `bigint` means "all of them".
        let window = query.window().map(|(size, offset)| {
            (
                i64::try_from(size).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX),
            )
        });
        let n = condition.params().len();
        let limit = match &window {
            None => String::new(),
            Some(_) => format!("LIMIT ${} OFFSET ${}", n + 1, n + 2),
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
        let (total, rows, counts_rows) = on_pool!(self.queries()?, context, |client| async {
            let mut params = condition.params();
            if let Some((size, offset)) = &window {
                params.push(size);
                params.push(offset);
            }
            // Sent together: one round trip for the three (tokio-postgres pipelines the
            // statements of one connection that are awaited at once).
            let (total, rows, counts) = futures_util::future::try_join3(
                select(client, &count_sql, &params[..n]),
                select(client, &page_sql, &params),
                select(
                    client,
                    "SELECT severity, count(*) FILTER (WHERE status = $1), \
                     count(*) FILTER (WHERE status = 'read') FROM tidings_events \
                     WHERE ($2::uuid IS NULL OR user_id = $2) GROUP BY severity",
                    &[&counted, &user],
                ),
            )
            .await?;
            let total: i64 = total.first().map_or(0, |row| row.get(0));
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
    }

    /// A user's events after `after`, in the store's order; `None` when `after` is unknown.
    pub(super) async fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLUMNS} FROM tidings_events \
             WHERE seq > $1 AND user_id = $2 ORDER BY seq LIMIT $3"
        );
        let rows = on_pool!(self.queries()?, "cannot read events", |client| async {
            let seq: Option<i64> = select(
                client,
                "SELECT seq FROM tidings_events WHERE id = $1 AND user_id = $2",
                &[&after, &user],
            )
            .await?
            .first()
            .map(|row| row.get(0));
            match seq {
                Some(seq) => select(client, &sql, &[&seq, &user, &limit]).await.map(Some),
                None => Ok(None),
            }
        })?;
        rows.map(|rows| read_events(&rows)).transpose()
    }

    /// The distinct categories and actions.
    pub(super) async fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        let context = "cannot read event types";
        // The user's (or everyone's) distinct values of a column, in order; both on one
        // connection, in one round trip.
        let sql = |column: &str| match user {
            Some(_) => format!(
                "SELECT DISTINCT {column} FROM tidings_events WHERE user_id = $1 \
                 ORDER BY {column}"
            ),
            None => format!("SELECT DISTINCT {column} FROM tidings_events ORDER BY {column}"),
        };
        let (categories_sql, actions_sql) = (sql("category"), sql("action"));
        let (categories, actions) = on_pool!(self.queries()?, context, |client| async {
            let distinct = async |sql: &str| -> Result<Vec<String>, postgres::Error> {
                let rows = match &user {
                    Some(user) => select(client, sql, &[user]).await?,
                    None => select(client, sql, &[]).await?,
                };
                Ok(rows.iter().map(|row| row.get(0)).collect())
            };
            // Sent together, as the list's statements are.
            futures_util::future::try_join(distinct(&categories_sql), distinct(&actions_sql)).await
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
    }
}
