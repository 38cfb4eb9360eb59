//! The schema: the tables, the columns in the order every statement uses, the advisory lock
//! keys, and creating or checking the schema when a store connects.

use postgres::Client;
use postgres::types::Type;

/// The schema this release writes, kept in the table `tidings_schema`; version 1 (without
/// `count`, the index of kinds and `tidings_folds`) is migrated when a store connects.
pub(super) const SCHEMA_VERSION: i32 = 2;

/// The channel every instance's writer notifies and every listener listens on.
pub(super) const CHANNEL: &str = "tidings_events";

/// The channel on which a change of a user's counts without a new event (events marked or
/// deleted) is told to every listener, the user's id as payload (`*`: users not known).
pub(super) const COUNTS_CHANNEL: &str = "tidings_counts";

/// Advisory lock keys ("tidings" and a number). The ordering lock serializes the writers'
/// batch transactions, so that `seq` is committed in increasing order.
pub(super) const ORDER_LOCK: i64 = 0x7469_6469_6e67_7301;
pub(super) const SCHEMA_LOCK: i64 = 0x7469_6469_6e67_7302;
pub(super) const RETENTION_LOCK: i64 = 0x7469_6469_6e67_7303;

/// The tables and the index, as the first release wrote them; [`MIGRATE_FROM_1`] follows.
const SCHEMA: &str = "
CREATE TABLE tidings_schema (version integer NOT NULL);
INSERT INTO tidings_schema (version) VALUES (1);
CREATE TABLE tidings_events (
    seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    operation_id uuid        NOT NULL,
    user_id      uuid,
    system_id    uuid,
    acted_upon   uuid,
    category     text        NOT NULL,
    action       text        NOT NULL,
    severity     text        NOT NULL,
    status       text        NOT NULL,
    description  text        NOT NULL,
    metadata     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- A user's newest-first page, filters and unread counts go through the user's rows. \"After
-- position P\" (the listeners' catch-up and a stream's resume) is a range of the primary key.
CREATE INDEX tidings_events_by_user_time ON tidings_events (user_id, created_at, seq);
";

/// Version 1 to 2: each event's `count` (1 for those stored before); the index of kinds, where
/// a repeat's rule finds the newest event of its kind in one look-up; and `tidings_folds`, the
/// ids of events folded into another lately, so that a writer whose commit's answer was lost
/// knows its fold was made (rows older than an hour are pruned).
const MIGRATE_FROM_1: &str = "
ALTER TABLE tidings_events ADD COLUMN count integer NOT NULL DEFAULT 1;
CREATE INDEX tidings_events_by_kind ON tidings_events (user_id, category, action, seq);
CREATE TABLE tidings_folds (
    event_id uuid        PRIMARY KEY,
    into_id  uuid        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
UPDATE tidings_schema SET version = 2;
";

/// The columns an event is read and written with, in this order: spelled once, here, as a
/// literal that `concat!` takes, for every statement below.
macro_rules! columns {
    () => {
        "id, operation_id, user_id, system_id, acted_upon, category, action, severity, status, \
         description, metadata, created_at, updated_at"
    };
}

/// The columns an event is read with: those it is written with (`columns!`) and its `count`.
pub(super) const READ_COLUMNS: &str = concat!(columns!(), ", count");

/// The newest event of a kind, for a repeat's rule (`$5`: its severity, or `NULL` for any),
/// locked until the writer's transaction ends: a mark meanwhile waits for the fold.
pub(super) const NEWEST_OF_KIND: &str = concat!(
    "SELECT ",
    columns!(),
    ", count FROM tidings_events WHERE user_id IS NOT DISTINCT FROM $1 AND category = $2 \
     AND action = $3 AND acted_upon IS NOT DISTINCT FROM $4 \
     AND ($5::text IS NULL OR severity = $5) ORDER BY seq DESC LIMIT 1 FOR UPDATE"
);

/// A fold: the stored event `$5` takes the newest place (a new `seq`, which the listeners
/// read), its new count, description, metadata and `updated_at`; and the ids of the events
/// folded into it (`$6`, one or more of a batch) are recorded.
pub(super) const FOLD: &str = "WITH folded AS (UPDATE tidings_events SET seq = DEFAULT, \
    count = $1, description = $2, metadata = $3, updated_at = $4 WHERE id = $5 RETURNING seq), \
    noted AS (INSERT INTO tidings_folds (event_id, into_id) SELECT unnest($6::uuid[]), $5 \
    ON CONFLICT (event_id) DO NOTHING) SELECT seq FROM folded";

/// One statement for a whole batch: the columns as arrays, unnested in the batch's order, and
/// the order lock (`$14`) taken by the statement itself, so only once the server has received
/// the whole batch: a writer paused while sending it (a VM pause, SIGSTOP, a partition) holds no
/// lock meanwhile. The lock comes before any `seq` is drawn: the rows are sorted first, and `seq`
/// is drawn for each sorted row. A duplicate id is skipped (and reported as such), not a
/// failure of the batch.
pub(super) const INSERT: &str = concat!(
    "WITH ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock($14)) \
     INSERT INTO tidings_events (",
    columns!(),
    ") SELECT ",
    columns!(),
    " FROM ordered, unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], \
     $12::timestamptz[], $13::timestamptz[]) WITH ORDINALITY AS batch(",
    columns!(),
    ", n) ORDER BY n ON CONFLICT (id) DO NOTHING RETURNING id, seq"
);

/// From this many events, a batch is copied into the writer connection's staging table (binary
/// `COPY`, no lock held) and moved by [`INSERT_STAGED`]; a smaller one goes whole in
/// [`INSERT`]. Measured (BENCHMARKS.md, "PostgreSQL: the background writer"): `COPY` and the move
/// take two more round trips than the one statement, and less time per row.
pub(super) const STAGE_FROM: usize = 64;

/// The writer connection's staging table, made on its first large batch: `tidings_events`'s
/// columns (their types, no constraint) after `n`. Rows go at the commit.
pub(super) const STAGING: &str = concat!(
    "CREATE TEMPORARY TABLE tidings_staging ON COMMIT DELETE ROWS AS SELECT 0 AS n, ",
    columns!(),
    " FROM tidings_events WITH NO DATA"
);

/// `COPY` of a batch into the staging table, `n` its place in the batch.
pub(super) const COPY_STAGED: &str = concat!(
    "COPY tidings_staging (n, ",
    columns!(),
    ") FROM STDIN BINARY"
);

/// The staged batch into `tidings_events`, in its order, the order lock (`$1`) taken by this
/// statement as in [`INSERT`].
pub(super) const INSERT_STAGED: &str = concat!(
    "WITH ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock($1)) INSERT INTO tidings_events (",
    columns!(),
    ") SELECT ",
    columns!(),
    " FROM ordered, tidings_staging ORDER BY n ON CONFLICT (id) DO NOTHING RETURNING id, seq"
);

/// The types of the staging table's columns, for `COPY`.
pub(super) const STAGING_TYPES: [Type; 14] = [
    Type::INT4,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
];

/// Why the schema could not be created or checked.
pub(super) enum SetupError {
    /// The database failed.
    Sql(postgres::Error),
    /// The database holds something this release must not touch.
    Refused(String),
}

impl From<postgres::Error> for SetupError {
    fn from(error: postgres::Error) -> Self {
        SetupError::Sql(error)
    }
}

/// Creates the schema, or checks the existing one; one instance at a time.
pub(super) fn create_or_check(client: &mut Client) -> Result<(), SetupError> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    let tables: Vec<String> = transaction
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() \
             AND table_name IN ('tidings_schema', 'tidings_events')",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if tables.iter().any(|t| t == "tidings_schema") {
        let version: Option<i32> = transaction
            .query_opt("SELECT max(version) FROM tidings_schema", &[])?
            .and_then(|row| row.get(0));
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(SetupError::Refused(format!(
                "its schema version is {version}, newer than the {SCHEMA_VERSION} this release \
                 of tidings knows; upgrade tidings to read it"
            )));
        }
        if version < 1 {
            return Err(SetupError::Refused(
                "the table tidings_schema holds no schema version; it is left untouched".into(),
            ));
        }
        if version == 1 {
            transaction.batch_execute(MIGRATE_FROM_1)?;
        }
    } else if tables.iter().any(|t| t == "tidings_events") {
        return Err(SetupError::Refused(
            "a table tidings_events exists without tidings' schema version; it belongs to \
             something else and is left untouched"
                .into(),
        ));
    } else {
        transaction.batch_execute(SCHEMA)?;
        transaction.batch_execute(MIGRATE_FROM_1)?;
    }
    transaction.commit()?;
    Ok(())
}
