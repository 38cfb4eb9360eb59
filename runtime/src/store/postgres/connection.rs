//! The store's connections: the queries' pool, errors as [`StoreError`]s, which errors are worth
//! a retry, the sync client kept off async executors' threads, and connection strings without
//! their password.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, ManagerConfig, Object, RecyclingMethod};
use postgres::types::ToSql;
use postgres::{Row, Statement};
use tokio_postgres::{Config, NoTls};

use crate::store::StoreError;

/// How many prepared statements a connection keeps; past it, it forgets them all and starts
/// again (the statements are a handful of shapes; a filter's values are parameters).
const STATEMENTS: usize = 64;

/// The queries' connections: a pool of async clients, which the events API awaits without
/// holding a thread, and a runtime of the store's own on which the sync calls run their queries
/// (and drive the connections they open). A connection opened by an async caller is driven by
/// the caller's runtime; one whose runtime ended is closed, and the pool opens another.
pub(super) struct Queries {
    pool: deadpool_postgres::Pool,
    runtime: tokio::runtime::Runtime,
}

impl Queries {
    /// A pool of at most `size` connections of `config` (opened as they are needed), and the
    /// thread that runs the sync calls' connections.
    pub(super) fn new(config: Config, size: usize) -> Result<Queries, String> {
        let manager = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose server ended it is closed (its driver saw the socket end);
                // one that ends between the check and the query is retried ([`Queries::run`]).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // No timer of the pool's own on each checkout: opening a connection is bounded by the
        // configuration's connect timeout, and a connection is held no longer than its
        // statements' timeout.
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(size.max(1))
            .build()
            .map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tidings-pg")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the store's thread ({e})"))?;
        Ok(Queries { pool, runtime })
    }

    /// Runs `f` to its end for a sync caller, on the store's runtime: on the calling thread, or
    /// on a thread of its own when the caller is on an async executor's thread (where blocking
    /// on a runtime panics).
    pub(super) fn block_on<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        off_runtime(|| self.runtime.block_on(f))
    }

    /// A connection of the pool, for work that needs one for several statements (a
    /// transaction).
    pub(super) async fn connection(&self, doing: &str) -> Result<Object, StoreError> {
        self.pool.get().await.context(doing)
    }

    /// The pool, for a task of the store's own.
    pub(super) fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// Runs `task` on the store's runtime, in the background.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(task));
    }

    /// Takes a connection that was found ended out of the pool: the pool opens another.
    pub(super) fn discard(connection: Object) {
        drop(Object::take(connection));
    }
}

/// Runs `$work` (a future that uses `$client`, a connection of `$queries`' pool) and, if that
/// connection was ended (by the server, a moment before, or with the runtime that drove it),
/// once more on another; its error, if any, says what was being done (`$doing`). Everything run
/// so can be run twice: reads, status changes and deletes. (A delete whose connection broke
/// after it committed, a rare case, deletes nothing the second time and says so.) A macro, not
/// a function taking an async closure: the compiler cannot yet prove such a future `Send`.
macro_rules! on_pool {
    ($queries:expr, $doing:expr, |$client:ident| $work:expr) => {{
        use $crate::store::postgres::connection::{Context as _, Queries, ended};
        let queries: &Queries = $queries;
        let doing: &str = $doing;
        let first = queries.connection(doing).await?;
        let result: Result<_, ::postgres::Error> = {
            let $client: &::deadpool_postgres::ClientWrapper = &first;
            $work.await
        };
        match result {
            Err(e) if first.is_closed() || ended(&e) => {
                Queries::discard(first);
                let second = queries.connection(doing).await?;
                let $client: &::deadpool_postgres::ClientWrapper = &second;
                let again: Result<_, ::postgres::Error> = $work.await;
                again.context(doing)
            }
            result => result.context(doing),
        }
    }};
}
pub(super) use on_pool;

/// `sql`, prepared once on this connection: a query then takes one round trip, not two (a query
/// given as text is prepared every time).
async fn prepared(client: &ClientWrapper, sql: &str) -> Result<Statement, postgres::Error> {
    if client.statement_cache.size() >= STATEMENTS {
        client.statement_cache.clear();
    }
    client.prepare_cached(sql).await
}

/// A query with `sql` [`prepared`].
pub(super) async fn select(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, postgres::Error> {
    let statement = prepared(client, sql).await?;
    client.query(&statement, params).await
}

/// A statement without rows (an `UPDATE` or a `DELETE`) with `sql` [`prepared`]; the rows it
/// changed.
pub(super) async fn change(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, postgres::Error> {
    let statement = prepared(client, sql).await?;
    client.execute(&statement, params).await
}

/// The application name of the store's connections when the connection string sets none; the
/// listener's is this with `-listener` appended.
pub(super) const APPLICATION_NAME: &str = "tidings";

/// How long a connection may take to open.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn backend(context: impl fmt::Display, error: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {error}").into())
}

/// PostgreSQL's message with its detail, or the client's.
pub(super) fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({}; {detail})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => error.to_string(),
    }
}

/// Whether trying again later may succeed: the connection broke; the server is shutting down
/// (`admin_shutdown`, class 57), starting, or out of resources; the transaction lost a race or
/// waited too long for a lock (`lock_not_available`, a statement timeout); or the server is read
/// only (class 25: a primary demoted in a failover, or a standby), which a new connection may
/// not be. Otherwise the server refused what was sent.
pub(super) fn transient(error: &postgres::Error) -> bool {
    match error.code() {
        None => true,
        Some(code) => {
            let class = &code.code()[..2];
            matches!(class, "08" | "25" | "40" | "53" | "57" | "58")
                || code == &postgres::error::SqlState::LOCK_NOT_AVAILABLE
        }
    }
}

/// Whether `error` says that the connection is gone (closed, broken, or ended by the server:
/// `admin_shutdown`, a terminated backend), not that the statement failed.
pub(super) fn ended(error: &postgres::Error) -> bool {
    match error.code() {
        None => true,
        Some(code) => matches!(&code.code()[..2], "08" | "57"),
    }
}

/// The session settings of every connection the store opens, so that no stuck peer (a paused
/// VM, a partition, a stopped process) holds a lock or a transaction for long: the server ends
/// a session idle in a transaction, a statement that runs too long and a lock wait that lasts
/// too long, and both sides probe an idle connection with TCP keepalives. `bound` is how long
/// each may last.
pub(super) fn bounded(config: &mut Config, bound: Duration) {
    let ms = bound.as_millis().max(1);
    // The application's own options come last: where both set one, theirs win.
    let own = config.get_options().map(str::to_owned).unwrap_or_default();
    config.options(format!(
        "-c lock_timeout={ms} -c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms} \
         -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 {own}"
    ));
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(5));
    config.keepalives_interval(Duration::from_secs(2));
    config.keepalives_retries(3);
    config.tcp_user_timeout(bound);
}

/// Turns a client's or the pool's error into a [`StoreError`] that says what was being done.
pub(super) trait Context<T> {
    /// The error, after `doing: `.
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| backend(doing, describe(&e)))
    }
}

impl<T> Context<T> for Result<T, deadpool_postgres::PoolError> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => {
                backend(doing, format!("no database connection ({})", describe(&e)))
            }
            e => backend(doing, format!("no database connection ({e})")),
        })
    }
}

/// Runs `f` where the sync client can run: the `postgres` crate drives its connection with a
/// runtime of its own, which panics on a thread of an async executor, so such a call moves to a
/// thread of its own for its duration.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The connection string with any password replaced.
pub(super) fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|part| {
                if part.starts_with("password=") {
                    "password=***"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::hide_password;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            hide_password("postgres://app:secret@db:5432/events?sslmode=disable"),
            "postgres://app:***@db:5432/events?sslmode=disable"
        );
        assert_eq!(
            hide_password("postgres://app@db/events"),
            "postgres://app@db/events"
        );
        assert_eq!(
            hide_password("host=db user=app password=secret dbname=events"),
            "host=db user=app password=*** dbname=events"
        );
    }
}
