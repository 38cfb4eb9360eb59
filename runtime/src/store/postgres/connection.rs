//! The store's connections: the pool, errors as [`StoreError`]s, which errors are worth a retry,
//! the sync client kept off async executors' threads, and connection strings without their
//! password.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

use crate::store::StoreError;

/// The pool of the queries' connections.
pub(super) type Pool = r2d2::Pool<Manager>;

/// How many prepared statements a connection keeps; past it, it forgets them all and starts
/// again (the statements are a handful of shapes; a filter's values are parameters).
const STATEMENTS: usize = 64;

/// A connection given back to the pool less than this long ago is taken again without a round
/// trip to check it: it worked then.
const FRESH: Duration = Duration::from_secs(1);

/// One of the pool's connections: the client, the statements it prepared, and when it was last
/// given back.
pub(super) struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
    returned: Instant,
    /// The pool's epoch when it was last known to work.
    epoch: u64,
}

impl Connection {
    /// `sql`, prepared once on this connection: a query then takes one round trip, not two (a
    /// query given as text is prepared every time).
    pub(super) fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        if self.statements.len() >= STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// [`Client::query`] with `sql` [`prepared`](Self::prepared).
    pub(super) fn query_prepared(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.client.query(&statement, params)
    }

    /// [`Client::execute`] with `sql` [`prepared`](Self::prepared).
    pub(super) fn execute_prepared(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.client.execute(&statement, params)
    }
}

impl Deref for Connection {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens the pool's connections, and checks one on its way out only when it sat idle or the
/// pool's epoch moved (a connection was found ended: the others may be too).
pub(super) struct Manager {
    config: Config,
    epoch: Arc<AtomicU64>,
}

impl Manager {
    /// A manager for connections of `config`, and the epoch to move when one is found ended.
    pub(super) fn new(config: Config) -> (Manager, Arc<AtomicU64>) {
        let epoch = Arc::new(AtomicU64::new(0));
        let manager = Manager {
            config,
            epoch: Arc::clone(&epoch),
        };
        (manager, epoch)
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
            returned: Instant::now(),
            epoch: self.epoch.load(Ordering::Relaxed),
        })
    }

    /// A round trip (an empty query) for a connection that sat idle, or that was in the pool
    /// when another was found ended: the server may have ended it meanwhile. One given back a
    /// moment ago is used as it is.
    fn is_valid(&self, connection: &mut Connection) -> Result<(), postgres::Error> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        if connection.returned.elapsed() < FRESH
            && connection.epoch == epoch
            && !connection.client.is_closed()
        {
            return Ok(());
        }
        connection.client.simple_query("")?;
        connection.epoch = epoch;
        Ok(())
    }

    /// On its way back to the pool: broken if its connection closed (a failed query on a
    /// broken connection closes it).
    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.returned = Instant::now();
        connection.client.is_closed()
    }
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
    config.options(&format!(
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

impl<T> Context<T> for Result<T, r2d2::Error> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| backend(doing, format!("no database connection ({e})")))
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
