//! Writing: the background writer's batches, each one transaction: one statement that takes
//! the ordering lock and inserts the batch (its columns as arrays; a large batch is copied into
//! a staging table first, with no lock held, and moved), one `NOTIFY` to every listener, the
//! commit. A batch is retried while the database is unreachable, for at most the
//! write timeout; after a connection that broke during `COMMIT`, the events already stored are
//! looked up before any is retried or reported.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
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
use super::read::read_event;
use super::schema::{
    CHANNEL, COPY_STAGED, FOLD, INSERT, INSERT_STAGED, NEWEST_OF_KIND, ORDER_LOCK, READ_COLUMNS,
    STAGE_FROM, STAGING, STAGING_TYPES,
};
use crate::event::{Event, Repeat, RepeatOutcome};
use crate::store::{Inserted, StoreError};

/// The writer's own connection.
pub(super) struct WriterConnection {
    client: Client,
    /// Whether its staging table exists (made on its first large batch).
    staging: bool,
}

/// The outcome of one attempt at a batch.
enum Attempt {
    /// Committed: for each event, what became of it (`None`: skipped as a duplicate id).
    Done(Vec<Option<Inserted>>),
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
    results: Vec<Option<Result<Inserted, StoreError>>>,
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

    /// After a broken attempt: the pending events that are stored after all, or folded into
    /// another (`tidings_folds`), are done.
    fn settle_stored(&mut self, client: &mut Client) -> Result<(), postgres::Error> {
        let ids: Vec<Uuid> = self.pending_events().iter().map(|e| e.id()).collect();
        let rows = client.query("SELECT id FROM tidings_events WHERE id = ANY($1)", &[&ids])?;
        let stored: HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let folds = client.query(
            &format!(
                "SELECT {}, f.event_id FROM tidings_folds f LEFT JOIN tidings_events e \
                 ON e.id = f.into_id WHERE f.event_id = ANY($1)",
                prefixed("e.")
            ),
            &[&ids],
        )?;
        let mut folded: std::collections::HashMap<Uuid, Inserted> = folds
            .iter()
            .map(|row| {
                // The event it went into, unless deleted since.
                let into = read_event(row).map_or(Inserted::Unchanged, Inserted::Folded);
                (row.get(14), into)
            })
            .collect();
        let (events, results) = (self.events, &mut self.results);
        self.pending.retain(|&i| {
            let id = events[i].id();
            let done = if stored.contains(&id) {
                Some(Inserted::New)
            } else {
                folded.remove(&id)
            };
            let settled = done.is_some();
            if let Some(done) = done {
                results[i] = Some(Ok(done));
            }
            !settled
        });
        self.maybe_stored = false;
        Ok(())
    }

    /// A committed attempt: what became of each pending event, or a duplicate id.
    fn record_done(&mut self, stored: Vec<Option<Inserted>>) {
        for (i, stored) in std::mem::take(&mut self.pending).into_iter().zip(stored) {
            self.results[i] = Some(match stored {
                Some(inserted) => Ok(inserted),
                None => Err(StoreError::DuplicateId(self.events[i].id())),
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
    fn finish(self, timeout: Duration) -> Vec<Result<Inserted, StoreError>> {
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
    pub(super) fn write(&self, events: &[Arc<Event>]) -> Vec<Result<Inserted, StoreError>> {
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
        if events.iter().any(|event| event.repeat() != Repeat::Keep) {
            return self.ruled_transaction(connection, events);
        }
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
                .map(|event| stored.remove(&event.id()).then_some(Inserted::New))
                .collect(),
        ))
    }

    /// A batch with events under a repeat rule: the order lock first, then each event in the
    /// batch's order, in the same transaction (a repeat may fold into an event of this batch):
    /// an event without a rule inserted, one with a rule compared with the newest stored event
    /// of its kind (locked) by the rule every store shares, then inserted, folded or skipped.
    /// The lock is held while the statements are sent: a pause of this process meanwhile ends
    /// at its session's idle-transaction bound, as for any transaction.
    fn ruled_transaction(
        &self,
        connection: &mut WriterConnection,
        events: &[&Event],
    ) -> Result<Attempt, postgres::Error> {
        let mut transaction = connection.client.transaction()?;
        #[cfg(feature = "test-doors")]
        self.hooks.before_send();
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK])?;
        let mut results: Vec<Option<Inserted>> = vec![None; events.len()];
        // The newest event of each kind looked up so far, as the batch leaves it: a kind is read
        // from the table once a batch, and its later repeats are decided here.
        let mut newest: HashMap<KindKey<'_>, Option<Event>> = HashMap::new();
        // What the batch writes, in its order; sent once every event is decided.
        let mut writes: Vec<Write> = Vec::new();
        // Where in `writes` each event folded into has its pending fold.
        let mut pending_folds: HashMap<Uuid, usize> = HashMap::new();
        for (position, &event) in events.iter().enumerate() {
            let outcome = match event.repeat() {
                Repeat::Keep => RepeatOutcome::Store,
                repeat => {
                    let key = kind_key(event, matches!(repeat, Repeat::Coalesce(_)));
                    if let Entry::Vacant(slot) = newest.entry(key) {
                        let (user, category, action, acted_upon, severity) = key;
                        let stored = transaction
                            .query_opt(
                                NEWEST_OF_KIND,
                                &[&user, &category, &action, &acted_upon, &severity],
                            )?
                            .and_then(|row| read_event(&row).ok());
                        slot.insert(stored);
                    }
                    event.repeat_outcome(newest[&key].as_ref())
                }
            };
            let written = match outcome {
                RepeatOutcome::Skip => {
                    results[position] = Some(Inserted::Unchanged);
                    continue;
                }
                RepeatOutcome::FoldInto => {
                    let key = kind_key(event, true);
                    let Some(stored) = newest[&key].as_ref() else {
                        unreachable!("a fold has an event to fold into")
                    };
                    let folded = event.folded_into(stored);
                    results[position] = Some(Inserted::Folded(folded.clone()));
                    // Folded again in this batch: one update, at the place of the last fold.
                    let mut fold = Box::new(Fold {
                        into: folded.clone(),
                        ids: Vec::new(),
                        positions: Vec::new(),
                    });
                    if let Some(earlier) = pending_folds.insert(folded.id(), writes.len())
                        && let Write::Fold(pending) =
                            std::mem::replace(&mut writes[earlier], Write::Moved)
                    {
                        fold.ids = pending.ids;
                        fold.positions = pending.positions;
                    }
                    fold.ids.push(event.id());
                    fold.positions.push(position);
                    writes.push(Write::Fold(fold));
                    folded
                }
                RepeatOutcome::Store => {
                    writes.push(Write::Insert(position));
                    event.clone()
                }
            };
            // The newest of its kind, whatever the severity, and of its severity (a fold's is
            // the event's: `coalesce` folds into an event of the same severity).
            newest.insert(kind_key(event, false), Some(written.clone()));
            newest.insert(kind_key(event, true), Some(written));
        }
        let mut last = 0_i64;
        let mut folds = 0_u64;
        let mut next = 0;
        while next < writes.len() {
            match &writes[next] {
                Write::Moved => next += 1,
                Write::Fold(fold) => {
                    next += 1;
                    let count = i32::try_from(fold.into.count()).unwrap_or(i32::MAX);
                    let row = transaction.query_opt(
                        FOLD,
                        &[
                            &count,
                            &fold.into.description(),
                            &Json(fold.into.metadata()),
                            &fold.into.updated_at(),
                            &fold.into.id(),
                            &fold.ids,
                        ],
                    )?;
                    match row {
                        Some(row) => {
                            last = last.max(row.get(0));
                            folds += fold.ids.len() as u64;
                        }
                        // Locked since it was read: not there only if it never was.
                        None => fold.positions.iter().for_each(|&p| results[p] = None),
                    }
                }
                Write::Insert(_) => {
                    // A run of new events: one statement, in the batch's order.
                    let mut run = Vec::new();
                    while let Some(Write::Insert(position)) = writes.get(next) {
                        run.push(*position);
                        next += 1;
                    }
                    let batch: Vec<&Event> = run.iter().map(|&p| events[p]).collect();
                    let rows = transaction.query(INSERT, &Columns::of(&batch).params())?;
                    let stored: HashSet<Uuid> = rows
                        .iter()
                        .map(|row| {
                            last = last.max(row.get(1));
                            row.get(0)
                        })
                        .collect();
                    for position in run {
                        if stored.contains(&events[position].id()) {
                            results[position] = Some(Inserted::New);
                        }
                    }
                }
            }
        }
        #[cfg(feature = "test-doors")]
        self.hooks.before_commit();
        if last > 0 {
            transaction.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last.to_string()])?;
        }
        // The ids of folded events are needed for the writer's retry only: an hour is plenty.
        if folds > 0 && self.folds.fetch_add(folds, Ordering::Relaxed) % 1024 + folds >= 1024 {
            transaction.execute(
                "DELETE FROM tidings_folds WHERE at < now() - interval '1 hour'",
                &[],
            )?;
        }
        transaction.commit()?;
        self.committed.fetch_max(last, Ordering::SeqCst);
        #[cfg(feature = "test-doors")]
        if self.hooks.lose_reply() {
            return Ok(Attempt::Broken(
                "the connection broke during COMMIT (test)".into(),
            ));
        }
        Ok(Attempt::Done(results))
    }
}

/// A kind of event as a repeat's rule looks one up: user, category, action, `acted_upon`, and
/// the severity for `coalesce` (`None`: any severity, for `emit_on = "change"`).
type KindKey<'a> = (
    Option<Uuid>,
    &'a str,
    &'a str,
    Option<Uuid>,
    Option<&'static str>,
);

fn kind_key(event: &Event, by_severity: bool) -> KindKey<'_> {
    (
        event.user_id(),
        event.category().as_str(),
        event.action().as_str(),
        event.acted_upon(),
        by_severity.then(|| event.severity().as_str()),
    )
}

/// A write of a ruled batch.
enum Write {
    /// The event at this place of the batch, stored as new.
    Insert(usize),
    /// A stored event, as the repeats folded into it leave it.
    Fold(Box<Fold>),
    /// A fold taken to a later place by another fold into the same event.
    Moved,
}

/// The repeats of a batch folded into one stored event.
struct Fold {
    /// The stored event, folded.
    into: Event,
    /// The ids of the events folded into it, and their places in the batch.
    ids: Vec<Uuid>,
    positions: Vec<usize>,
}

/// [`READ_COLUMNS`] with each column prefixed (`e.id, e.operation_id, ...`).
fn prefixed(prefix: &str) -> String {
    READ_COLUMNS
        .split(", ")
        .map(|column| format!("{prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
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
