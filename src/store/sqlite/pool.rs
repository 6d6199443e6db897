//! The connections: one writer behind a mutex, and a small pool of readers.
//!
//! SQLite allows one writer at a time, so the store has exactly one writing connection and
//! every write runs on it in an `IMMEDIATE` transaction (take the write lock up front, fail
//! fast with `busy_timeout` if another process holds it). Readers have their own
//! connections; in WAL mode they read the last committed state while a write is in
//! progress, so a long import never stalls the console or the API, and a write never waits
//! for readers. Each read runs in one transaction, so a count and its page agree.
//!
//! Readers are opened on demand, without the create flag (a vanished file is an error, not
//! a new empty database), and up to `readers` idle ones are kept. A connection that hit a
//! database error is dropped rather than returned, so a transient failure does not stick.
//! After each commit the writer nudges the checkpoint thread (`checkpointer.rs`). All of
//! this is blocking; `sqlite.rs` runs it on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::SqliteOptions;
use super::checkpointer::Checkpointer;
use super::codec::{Doing, Fail, Res};
use super::schema;

/// The open database.
pub(super) struct Db {
    /// The database file.
    pub path: PathBuf,
    /// Settings.
    pub options: SqliteOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    last_write_error: Mutex<Option<String>>,
    checkpointer: Checkpointer,
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path, options: SqliteOptions) -> Res<Db> {
        let busy_ms = u64::try_from(options.busy_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut writer = Connection::open(path).doing("opening the database")?;
        schema::configure_writer(&writer, busy_ms)?;
        schema::migrate(&mut writer, schema::MIGRATIONS)?;
        let rebuilt = schema::ensure_sort_indexes(&writer)?;
        if !rebuilt.is_empty() {
            tracing::warn!(
                indexes = %rebuilt.join(", "),
                "Rebuilt sort indexes that an interrupted bulk load had dropped."
            );
        }
        let checkpoints = Connection::open_with_flags(path, existing_file())
            .doing("opening the checkpoint connection")?;
        let db = Db {
            path: path.to_path_buf(),
            options,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            last_write_error: Mutex::new(None),
            checkpointer: Checkpointer::start(checkpoints)?,
        };
        // Fail at open, not at the first query, if readers cannot work.
        let reader = db.open_reader()?;
        db.give_back(reader);
        Ok(db)
    }

    fn busy_ms(&self) -> u64 {
        u64::try_from(self.options.busy_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    fn open_reader(&self) -> Res<Connection> {
        let conn =
            Connection::open_with_flags(&self.path, existing_file()).doing("opening a reader")?;
        schema::configure_reader(&conn, self.busy_ms())?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.options.readers {
            idle.push(conn);
        }
    }

    /// Runs `f` on a reader, inside one read transaction.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = conn
            .transaction()
            .doing("starting a read")
            .and_then(|tx| f(&tx));
        if !matches!(result, Err(Fail::Db { .. })) {
            self.give_back(conn);
        }
        result
    }

    /// Runs `f` on the writer inside one `IMMEDIATE` transaction, committed if `f` succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("starting a write")
            .and_then(|tx| {
                let out = f(&tx)?;
                tx.commit().doing("committing a write")?;
                Ok(out)
            });
        drop(conn);
        if result.is_ok() {
            self.checkpointer.kick();
        }
        let mut last = self
            .last_write_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(_) => *last = None,
            Err(Fail::Db { doing, err }) => *last = Some(format!("{doing}: {err}")),
            Err(_) => {}
        }
        result
    }

    /// Probes the file through a fresh connection, so a file that vanished, was replaced or
    /// damaged is seen even while pooled connections still hold the old one open. Returns
    /// the round trip in milliseconds and the last write error, if the last write failed.
    pub fn probe(&self) -> Res<(f64, Option<String>)> {
        let started = Instant::now();
        if !self.path.is_file() {
            return Err(Fail::Unavailable(
                "the database file is gone; restore it or restart arbdesk to start a new one"
                    .into(),
            ));
        }
        let conn = self.open_reader()?;
        let one: i64 = conn
            .query_row("SELECT 1 FROM sqlite_schema LIMIT 1", [], |r| r.get(0))
            .doing("probing the database")?;
        let version = schema::version(&conn)?;
        if one != 1 || version != schema::latest_version() {
            return Err(Fail::Corrupt(format!(
                "schema version is {version}, expected {}",
                schema::latest_version()
            )));
        }
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        let last = self
            .last_write_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok((latency, last))
    }
}

/// Open flags for connections after the first: the file must exist (a vanished file is an
/// error, not a new empty database).
fn existing_file() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
}
