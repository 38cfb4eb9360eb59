//! Writing: the background writer's batches, each one transaction: one statement that takes
//! the ordering lock and inserts the batch (its columns as arrays; a large batch is copied into
//! a staging table first, with no lock held, and moved), one `NOTIFY` to every listener, the
//! commit. A batch is retried while the database is unreachable, for at most the
//! write timeout; after a connection that broke during `COMMIT`, the events already stored are
//! looked up before any is retried or reported.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::sync::PoisonError;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{Json, ToSql};
use postgres::{Client, NoTls};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Shared;
use super::connection::{backend, bounded, describe, transient};
use super::schema::{
    CHANNEL, COPY_STAGED, INSERT, INSERT_STAGED, ORDER_LOCK, STAGE_FROM, STAGING, STAGING_TYPES,
};
use crate::event::Event;
use crate::store::StoreError;

/// The writer's own connection.
pub(super) struct WriterConnection {
    client: Client,
    /// Whether its staging table exists (made on its first large batch).
    staging: bool,
}

/// The outcome of one attempt at a batch.
enum Attempt {
    /// Committed: for each event, whether it was stored (or skipped as a duplicate id).
    Done(Vec<bool>),
    /// The server refused the batch (it rolled back): one of its events is the cause.
    Refused(postgres::Error),
    /// The connection broke or the server is unavailable: if it broke during `COMMIT`, the
    /// batch may be stored.
    Broken(String),
}

/// What one try on the writer's connection leads to.
enum Tried {
    Step(Step),
    /// The connection failed: wait, then try on a new one.
    Broken,
    /// The server refused the batch for one of its events: each event alone.
    EachAlone,
}

/// What one try at the pending events leads to.
enum Step {
    /// Every event has its result.
    Finished,
    /// Wait, then try again if the deadline allows.
    Wait,
}

/// One batch on its way through its attempts.
struct Batch<'a> {
    events: &'a [Arc<Event>],
    /// Each event's result, once it has one.
    results: Vec<Option<Result<(), StoreError>>>,
    /// The indexes of the events still to store.
    pending: Vec<usize>,
    /// The last attempt broke where its transaction may have committed.
    maybe_stored: bool,
    last_error: String,
}

impl<'a> Batch<'a> {
    fn new(events: &'a [Arc<Event>]) -> Self {
        Batch {
            events,
            results: events.iter().map(|_| None).collect(),
            pending: (0..events.len()).collect(),
            maybe_stored: false,
            last_error: String::new(),
        }
    }

    fn pending_events(&self) -> Vec<&'a Event> {
        self.pending.iter().map(|&i| &*self.events[i]).collect()
    }

    /// After a broken attempt: the pending events that are stored after all are done.
    fn settle_stored(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        let ids: Vec<Uuid> = self.pending_events().iter().map(|e| e.id()).collect();
        let rows = client.query("SELECT id FROM tidings_events WHERE id = ANY($1)", &[&ids])?;
        let stored: HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let (events, results) = (self.events, &mut self.results);
        self.pending.retain(|&i| {
            let done = stored.contains(&events[i].id());
            if done {
                results[i] = Some(Ok(()));
            }
            !done
        });
        self.maybe_stored = false;
        Ok(())
    }

    /// A committed attempt: each pending event stored, or a duplicate id.
    fn record_done(&mut self, stored: Vec<bool>) {
        for (i, stored) in std::mem::take(&mut self.pending).into_iter().zip(stored) {
            self.results[i] = Some(if stored {
                Ok(())
            } else {
                Err(StoreError::DuplicateId(self.events[i].id()))
            });
        }
    }

    /// The server refused the one pending event.
    fn record_refused(&mut self, error: &postgres::Error) {
        for i in std::mem::take(&mut self.pending) {
            self.results[i] = Some(Err(backend(
                format!("cannot store event {}", self.events[i].id()),
                describe(error),
            )));
        }
    }

    /// Every result; the events without one failed for the time the database stayed away.
    fn finish(self, timeout: Duration) -> Vec<Result<(), StoreError>> {
        let unknown = if self.maybe_stored {
            "; the last attempt's outcome is unknown (the connection broke during it), so the \
             event may be stored after all"
        } else {
            ""
        };
        let last_error = self.last_error;
        self.events
            .iter()
            .zip(self.results)
            .map(|(event, result)| {
                result.unwrap_or_else(|| {
                    Err(backend(
                        format!("cannot store event {}", event.id()),
                        format!(
                            "the database stayed unreachable for {timeout:?} ({last_error}){unknown}"
                        ),
                    ))
                })
            })
            .collect()
    }
}

impl Shared {
    /// Stores a batch: retried while the database is unreachable, for at most the write
    /// timeout; after a broken connection, the events already stored are looked up first.
    pub(super) fn write(&self, events: &[Arc<Event>]) -> Vec<Result<(), StoreError>> {
        let deadline = Instant::now() + self.write_timeout;
        let mut batch = Batch::new(events);
        let mut backoff = Duration::from_millis(20);
        let mut last_try = false;
        while !batch.pending.is_empty() {
            let started = Instant::now();
            match self.try_once(&mut batch) {
                Step::Finished => break,
                Step::Wait => tracing::debug!(
                    target: "tidings",
                    events = batch.pending.len(),
                    error = %batch.last_error,
                    "a batch is retried: the database did not take it"
                ),
            }
            if Instant::now() >= deadline {
                // An attempt that began in time and ended past the deadline: the process was
                // paused (a VM pause, SIGSTOP) or the call was held up. One more try, at once,
                // on a new connection, before any event is reported.
                if started < deadline && !last_try {
                    last_try = true;
                    continue;
                }
                break;
            }
            pending_wait(&mut backoff, deadline);
        }
        if batch.maybe_stored && !batch.pending.is_empty() {
            self.settle_before_reporting(&mut batch);
        }
        batch.finish(self.write_timeout)
    }

    /// Past the deadline, the last attempt broke where it may have committed: one look-up on a
    /// new connection, so that an event stored after all is not reported as failed.
    fn settle_before_reporting(&self, batch: &mut Batch<'_>) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        *writer = None;
        let Ok(mut connection) = self.connect_writer() else {
            return;
        };
        if batch.settle_stored(&mut connection.client).is_ok() {
            *writer = Some(connection);
        }
    }

    /// One try at the pending events: the writer's connection, the look-up after a broken
    /// commit, one attempt.
    fn try_once(&self, batch: &mut Batch<'_>) -> Step {
        let outcome = {
            let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let client = match &mut *writer {
                Some(client) => client,
                None => match self.connect_writer() {
                    Ok(client) => writer.insert(client),
                    Err(e) => {
                        batch.last_error = describe(&e);
                        return Step::Wait;
                    }
                },
            };
            let outcome = self.try_on(client, batch);
            // A connection that failed may be broken, or to a server that is read only now (a
            // demoted primary): the next try opens a new one.
            if matches!(outcome, Tried::Broken) {
                *writer = None;
            }
            outcome
        };
        match outcome {
            Tried::Step(step) => step,
            Tried::Broken => Step::Wait,
            // Each event alone, with the connection given back (each opens it again).
            Tried::EachAlone => {
                self.write_each(batch);
                Step::Finished
            }
        }
    }

    /// The writer's own connection, with its session bounded by the write timeout: a lock wait,
    /// a statement or an idle transaction of this writer lasts at most half of it, so that an
    /// instance paused while it holds the order lock holds up the others for no longer.
    fn connect_writer(&self) -> Result<WriterConnection, postgres::Error> {
        let mut config = self.config.clone();
        let name = format!(
            "{}-writer",
            config
                .get_application_name()
                .unwrap_or(super::APPLICATION_NAME)
        );
        config.application_name(&name);
        bounded(
            &mut config,
            (self.write_timeout / 2).max(Duration::from_secs(1)),
        );
        Ok(WriterConnection {
            client: postgres::Config::from(config).connect(NoTls)?,
            staging: false,
        })
    }

    /// The look-up after a broken commit, then one attempt, on `connection`.
    fn try_on(&self, connection: &mut WriterConnection, batch: &mut Batch<'_>) -> Tried {
        if batch.maybe_stored {
            if let Err(e) = batch.settle_stored(&mut connection.client) {
                batch.last_error = describe(&e);
                return Tried::Broken;
            }
            if batch.pending.is_empty() {
                return Tried::Step(Step::Finished);
            }
        }
        match self.attempt(connection, &batch.pending_events()) {
            Attempt::Done(stored) => {
                batch.record_done(stored);
                Tried::Step(Step::Finished)
            }
            Attempt::Refused(error) if batch.pending.len() == 1 => {
                batch.record_refused(&error);
                Tried::Step(Step::Finished)
            }
            Attempt::Refused(_) => Tried::EachAlone,
            Attempt::Broken(error) => {
                batch.last_error = error;
                batch.maybe_stored = true;
                Tried::Broken
            }
        }
    }

    /// One event spoils the batch (a NUL character, say): each event on its own, so that only
    /// that one fails.
    fn write_each(&self, batch: &mut Batch<'_>) {
        for i in std::mem::take(&mut batch.pending) {
            let one = self.write(std::slice::from_ref(&batch.events[i]));
            batch.results[i] = one.into_iter().next();
        }
    }

    /// One batch transaction, its error sorted: a broken connection or unavailable server, or
    /// a refusal.
    fn attempt(&self, connection: &mut WriterConnection, events: &[&Event]) -> Attempt {
        match self.transaction(connection, events) {
            Ok(attempt) => attempt,
            Err(e) if transient(&e) => Attempt::Broken(describe(&e)),
            Err(e) => Attempt::Refused(e),
        }
    }

    /// The ordering lock and the insert (one statement), one `NOTIFY`, the commit. The lock is
    /// taken by a statement the server runs without waiting for this process: a pause of this
    /// process while it sends the batch holds no lock, and a pause after it ends at its
    /// session's idle-transaction bound.
    fn transaction(
        &self,
        connection: &mut WriterConnection,
        events: &[&Event],
    ) -> Result<Attempt, postgres::Error> {
        let staged = events.len() >= STAGE_FROM;
        if staged && !connection.staging {
            // Outside the batch's transaction, so that its rollback does not take it away.
            connection.client.batch_execute(STAGING)?;
            connection.staging = true;
        }
        let mut transaction = connection.client.transaction()?;
        #[cfg(feature = "test-doors")]
        self.hooks.before_send();
        let rows = if staged {
            stage(
                &mut transaction,
                events,
                #[cfg(feature = "test-doors")]
                &self.hooks,
            )?;
            transaction.query(INSERT_STAGED, &[&ORDER_LOCK])?
        } else {
            transaction.query(INSERT, &Columns::of(events).params())?
        };
        let mut stored: HashSet<Uuid> = HashSet::with_capacity(rows.len());
        let mut last = 0_i64;
        for row in &rows {
            stored.insert(row.get(0));
            last = last.max(row.get(1));
        }
        #[cfg(feature = "test-doors")]
        self.hooks.before_commit();
        if !stored.is_empty() {
            transaction.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last.to_string()])?;
        }
        transaction.commit()?;
        self.committed.fetch_max(last, Ordering::SeqCst);
        #[cfg(feature = "test-doors")]
        if self.hooks.lose_reply() {
            return Ok(Attempt::Broken(
                "the connection broke during COMMIT (test)".into(),
            ));
        }
        // A duplicate id within the batch: the first is stored, the others are duplicates.
        Ok(Attempt::Done(
            events
                .iter()
                .map(|event| stored.remove(&event.id()))
                .collect(),
        ))
    }
}

/// Copies a large batch into the staging table (made on the connection's first), each event
/// with its place in the batch. No lock is held: a pause of this process in the middle of it
/// (the server waiting for the rest of the data, which no timeout ends) holds up nobody.
fn stage(
    transaction: &mut postgres::Transaction<'_>,
    events: &[&Event],
    #[cfg(feature = "test-doors")] hooks: &super::hooks::TestHooks,
) -> Result<(), postgres::Error> {
    let sink = transaction.copy_in(COPY_STAGED)?;
    let mut writer = BinaryCopyInWriter::new(sink, &STAGING_TYPES);
    for (n, event) in (0_i32..).zip(events) {
        let metadata = Json(event.metadata());
        writer.write(&[
            &n,
            &event.id(),
            &event.operation_id(),
            &event.user_id(),
            &event.system_id(),
            &event.acted_upon(),
            &event.category().as_str(),
            &event.action().as_str(),
            &event.severity().as_str(),
            &event.status().as_str(),
            &event.description(),
            &metadata,
            &event.created_at(),
            &event.updated_at(),
        ])?;
        #[cfg(feature = "test-doors")]
        hooks.during_copy();
    }
    writer.finish().map(|_| ())
}

/// Waits before the next attempt, doubling the wait up to a second; never past `deadline`.
fn pending_wait(backoff: &mut Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    std::thread::sleep((*backoff).min(left));
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
}

/// A batch as one array per column.
struct Columns<'a> {
    ids: Vec<Uuid>,
    operation_ids: Vec<Uuid>,
    user_ids: Vec<Option<Uuid>>,
    system_ids: Vec<Option<Uuid>>,
    acted_upon: Vec<Option<Uuid>>,
    categories: Vec<&'a str>,
    actions: Vec<&'a str>,
    severities: Vec<&'a str>,
    statuses: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    metadata: Vec<Json<&'a serde_json::Map<String, serde_json::Value>>>,
    created_at: Vec<OffsetDateTime>,
    updated_at: Vec<OffsetDateTime>,
}

impl<'a> Columns<'a> {
    fn of(events: &[&'a Event]) -> Columns<'a> {
        Columns {
            ids: events.iter().map(|e| e.id()).collect(),
            operation_ids: events.iter().map(|e| e.operation_id()).collect(),
            user_ids: events.iter().map(|e| e.user_id()).collect(),
            system_ids: events.iter().map(|e| e.system_id()).collect(),
            acted_upon: events.iter().map(|e| e.acted_upon()).collect(),
            categories: events.iter().map(|e| e.category().as_str()).collect(),
            actions: events.iter().map(|e| e.action().as_str()).collect(),
            severities: events.iter().map(|e| e.severity().as_str()).collect(),
            statuses: events.iter().map(|e| e.status().as_str()).collect(),
            descriptions: events.iter().map(|e| e.description()).collect(),
            metadata: events.iter().map(|e| Json(e.metadata())).collect(),
            created_at: events.iter().map(|e| e.created_at()).collect(),
            updated_at: events.iter().map(|e| e.updated_at()).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.ids,
            &self.operation_ids,
            &self.user_ids,
            &self.system_ids,
            &self.acted_upon,
            &self.categories,
            &self.actions,
            &self.severities,
            &self.statuses,
            &self.descriptions,
            &self.metadata,
            &self.created_at,
            &self.updated_at,
            &ORDER_LOCK,
        ]
    }
}
