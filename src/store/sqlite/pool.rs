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
//!
//! The store keeps to the file it opened. Before each write (and each read, and the health
//! probe) it checks that the path still names that file: deleted, or replaced by another
//! (a second process creating a new store at the path), it is refused as unavailable,
//! since writes to a deleted file vanish with it and a replaced one is another store. Once
//! SQLite reports the file damaged, or its header is found overwritten, the store is down
//! until it is restored and arbdesk restarted: writes are refused as unavailable (the
//! pipeline holds them rather than dead-letter them), and health says so.
//!
//! A bulk load (`import`) drops the sort indexes and builds them at its end. While it runs
//! it holds an exclusive lock on a marker file beside the database (`<db>.bulk-load`), so
//! a store opened meanwhile by another process (a console, `export`) leaves the indexes
//! alone; a store opened after a bulk load was killed finds the marker unlocked (the OS
//! drops the lock with the process) and builds what is missing.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::SqliteOptions;
use super::checkpointer::Checkpointer;
use super::codec::{Doing, Fail, Res};
use super::schema;
use super::sidecars::Sidecars;
use crate::store::file_id::FileId;
use crate::store::write_error::LastWriteError;

/// The open database.
pub(super) struct Db {
    /// The database file.
    pub path: PathBuf,
    /// Settings.
    pub options: SqliteOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    last_write_error: LastWriteError,
    /// Which file the path named at open (device and inode), to notice it deleted or
    /// replaced.
    file: FileId,
    /// Why the file is known to be damaged, once it is.
    damaged: Mutex<Option<String>>,
    /// The WAL and shared-memory files of the file opened, let go of once it is gone or
    /// replaced.
    sidecars: Sidecars,
    /// A write was refused for a full disk, and the WAL has not been cut since.
    disk_was_full: AtomicBool,
    checkpointer: Checkpointer,
    /// The locked bulk-load marker while this store runs a bulk load.
    bulk_marker: Mutex<Option<File>>,
    /// The database file, open for as long as the store is, to read its header from.
    /// Never opened and closed per check: closing any descriptor of a file drops every
    /// POSIX lock the process holds on it, SQLite's included, and another process's
    /// SQLite would then take this one for gone, checkpoint, and delete the WAL it still
    /// writes to (sqlite.org/howtocorrupt.html §2.2). Last, so it closes after the
    /// connections.
    header: File,
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path, options: SqliteOptions) -> Res<Db> {
        let busy_ms = u64::try_from(options.busy_timeout.as_millis()).unwrap_or(u64::MAX);
        if path.is_dir() {
            return Err(Fail::Invalid(format!(
                "the store's database file {} is a directory: move it aside, or give [store] \
                 path a file name (e.g. \"arbdesk.sqlite\", inside the data dir) or a path to \
                 a file",
                path.display()
            )));
        }
        refuse_unwritable(path)?;
        let mut writer = Connection::open(path).doing("opening the database")?;
        schema::configure_writer(&writer, busy_ms)?;
        schema::migrate(&mut writer, schema::MIGRATIONS)?;
        restore_sort_indexes(&mut writer, path)?;
        let checkpoints = Connection::open_with_flags(path, existing_file())
            .doing("opening the checkpoint connection")?;
        let file = FileId::of(path).map_err(unreadable)?;
        let header = File::open(path).map_err(unreadable)?;
        let db = Db {
            path: path.to_path_buf(),
            options,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            last_write_error: LastWriteError::default(),
            file,
            damaged: Mutex::new(None),
            sidecars: Sidecars::of(path),
            disk_was_full: AtomicBool::new(false),
            checkpointer: Checkpointer::start(checkpoints)?,
            bulk_marker: Mutex::new(None),
            header,
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

    /// Whether the store may use its file: the path still names the file it opened, no
    /// damage is known, and the header still says SQLite.
    fn check_usable(&self) -> Res<()> {
        self.check_file()?;
        self.check_damage()?;
        self.check_header()
    }

    /// Whether the path still names the file this store opened. Once it does not, the
    /// store lets go of its WAL and shared-memory files (see `sidecars.rs`) and is
    /// refused from then on, even if the file comes back.
    fn check_file(&self) -> Res<()> {
        let (why, lost) = match FileId::of(&self.path) {
            Ok(id) if id == self.file && !self.sidecars.let_go() => return Ok(()),
            Ok(id) if id == self.file => (
                "moved away",
                "the database file was moved away under arbdesk and back; restart arbdesk \
                 to use it",
            ),
            Ok(_) => (
                "replaced",
                "the database file was replaced by another file since arbdesk opened it; \
                 restart arbdesk to use the file now there (what this process wrote since \
                 went to the file it replaced)",
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                "deleted",
                "the database file is gone; restore it and restart arbdesk, or restart \
                 arbdesk to start a new one",
            ),
            Err(e) => return Err(unreadable(e)),
        };
        self.sidecars.release(&self.path, why);
        Err(Fail::Unavailable(lost.into()))
    }

    /// The damage found so far, as an error.
    fn check_damage(&self) -> Res<()> {
        match &*self.damaged.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(why) => Err(Fail::Unavailable(format!(
                "the database is damaged ({why}); restore a backup or move the file aside, \
                 then restart arbdesk"
            ))),
            None => Ok(()),
        }
    }

    /// Records the first damage found, for every later write and the health probe.
    fn mark_damaged(&self, why: impl FnOnce() -> String) {
        self.damaged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(why);
    }

    /// Records damage that SQLite reported.
    fn note_damage<T>(&self, result: &Res<T>) {
        if let Err(Fail::Db { doing, err }) = result
            && matches!(
                err.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            )
        {
            self.mark_damaged(|| format!("{doing}: {err}"));
        }
    }

    /// The file's header still says SQLite: a file overwritten in place keeps its inode.
    fn check_header(&self) -> Res<()> {
        let mut head = [0u8; 16];
        match read_at_start(&self.header, &mut head) {
            Ok(()) if &head == b"SQLite format 3\0" => Ok(()),
            Ok(()) => {
                self.mark_damaged(|| "its header is no longer SQLite's".into());
                self.check_damage()
            }
            Err(e) => Err(unreadable(e)),
        }
    }

    /// Runs `f` on a reader, inside one read transaction.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
        self.check_file()?;
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
        self.note_damage(&result);
        if !matches!(result, Err(Fail::Db { .. })) {
            self.give_back(conn);
        }
        result
    }

    /// Runs `f` on the writer inside one `IMMEDIATE` transaction, committed if `f` succeeds.
    ///
    /// Refused as unavailable, without touching the file, while the path no longer names
    /// the file opened or the file is known to be damaged; a write that finds it damaged is
    /// refused the same way.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let changes_before = conn.total_changes();
        let result = self
            .check_usable()
            .and_then(|()| {
                self.cut_wal_after_full_disk(&conn);
                conn.transaction_with_behavior(TransactionBehavior::Immediate)
                    .doing("starting a write")
            })
            .and_then(|tx| {
                let out = f(&tx)?;
                tx.commit().doing("committing a write")?;
                Ok(out)
            });
        let changed = conn.total_changes().saturating_sub(changes_before);
        if let Err(Fail::Db { err, .. }) = &result
            && err.sqlite_error_code() == Some(ErrorCode::DiskFull)
        {
            self.disk_was_full.store(true, Ordering::Relaxed);
        }
        drop(conn);
        self.note_damage(&result);
        // Damage is a store that is down, not a write to give up on.
        let result = match result {
            Err(e @ Fail::Db { .. }) => Err(self.check_damage().err().unwrap_or(e)),
            other => other,
        };
        if result.is_ok() {
            self.checkpointer.kick(changed);
        }
        match &result {
            Ok(_) => self.last_write_error.succeeded(),
            Err(Fail::Db { doing, err }) => self.last_write_error.failed(format!("{doing}: {err}")),
            Err(_) => {}
        }
        result
    }

    /// After a write refused for a full disk, copies the WAL into the database and cuts it
    /// to nothing before the next write: what it holds is committed, and it gives its space
    /// back. Otherwise SQLite keeps the WAL at its size and the write retried on a disk
    /// freed by a little appends to it, filling the disk again. Done once it completes (a
    /// checkpoint that needs space the disk does not have yet fails, and is tried again at
    /// the next write).
    fn cut_wal_after_full_disk(&self, conn: &Connection) {
        if !self.disk_was_full.load(Ordering::Relaxed) {
            return;
        }
        let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
        if done.is_ok_and(|busy| busy == 0) {
            self.disk_was_full.store(false, Ordering::Relaxed);
        }
    }

    /// Starts a bulk load: locks the marker, then drops the sort indexes. When another
    /// process's bulk load holds the marker, this one goes on without it (both end by
    /// building whatever indexes are missing).
    pub fn begin_bulk_load(&self) -> Res<()> {
        let mut held = self
            .bulk_marker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held.is_none() {
            *held = lock_marker(&self.path)?;
        }
        drop(held);
        self.write(schema::drop_sort_indexes)
    }

    /// Ends a bulk load: builds the sort indexes, then lets go of the marker.
    pub fn end_bulk_load(&self) -> Res<()> {
        self.write(|c| schema::ensure_sort_indexes(c).map(drop))?;
        self.bulk_marker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Ok(())
    }

    /// Probes the file through a fresh connection, so a file that vanished, was replaced or
    /// damaged is seen even while pooled connections still hold the old one open. Returns
    /// the round trip in milliseconds and the last write error, while it is held (see
    /// [`LastWriteError`]).
    pub fn probe(&self) -> Res<(f64, Option<String>)> {
        let started = Instant::now();
        self.check_usable()?;
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
        Ok((latency, self.last_write_error.describe()))
    }
}

/// Builds the sort indexes a killed bulk load left missing, unless a bulk load is running
/// now (its marker is locked): that one builds them at its end. Checked and built inside
/// one write transaction, so a bulk load cannot start in between.
fn restore_sort_indexes(writer: &mut Connection, path: &Path) -> Res<()> {
    // The usual case reads only: an open must not wait for another process's write.
    if schema::missing_sort_indexes(writer)?.is_empty() {
        return Ok(());
    }
    let tx = writer
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .doing("starting the sort index check")?;
    if schema::missing_sort_indexes(&tx)?.is_empty() {
        return Ok(());
    }
    if bulk_load_running(path) {
        tracing::info!(
            "A bulk load is running in another process; sorted pages are slower until it \
             ends and builds the sort indexes."
        );
        return Ok(());
    }
    let rebuilt = schema::ensure_sort_indexes(&tx)?;
    tx.commit().doing("committing the rebuilt sort indexes")?;
    tracing::warn!(
        indexes = %rebuilt.join(", "),
        "Rebuilt sort indexes that an interrupted bulk load had dropped."
    );
    Ok(())
}

/// Locks the bulk-load marker for a bulk load; `None` when another bulk load holds it, or
/// when the file system has no locks (then stores opened meanwhile may build the indexes
/// early: slower, never wrong). A store being opened holds it shared for a moment while it
/// checks, so a busy marker is tried again for up to half a second.
fn lock_marker(path: &Path) -> Res<Option<File>> {
    let marker = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(marker_path(path))
        .map_err(|e| {
            Fail::Unavailable(format!(
                "cannot create the bulk-load marker {}: {e}; check that the data directory \
                 is writable",
                marker_path(path).display()
            ))
        })?;
    for _ in 0..50 {
        match marker.try_lock() {
            Ok(()) => return Ok(Some(marker)),
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(10)),
            Err(TryLockError::Error(e)) => {
                tracing::warn!(
                    marker = %marker_path(path).display(),
                    error = %e,
                    "Cannot lock the bulk-load marker; a console or export opened during \
                     this import may rebuild the sort indexes early."
                );
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// Whether another process holds the bulk-load marker of the database at `path`. A marker
/// that cannot be read counts as not held: the indexes are then built, which is always
/// correct, only slow for a bulk load that is in fact running.
fn bulk_load_running(path: &Path) -> bool {
    let Ok(marker) = File::open(marker_path(path)) else {
        return false;
    };
    matches!(marker.try_lock_shared(), Err(TryLockError::WouldBlock))
}

/// `<db>.bulk-load`, beside the database.
fn marker_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bulk-load");
    PathBuf::from(name)
}

impl Drop for Db {
    /// A store whose file went away while it ran lets go of its WAL and shared-memory
    /// files before its connections close (SQLite leaves them for the next process).
    fn drop(&mut self) {
        let _ = self.check_file();
    }
}

/// A database file this user cannot write is refused at open: SQLite would open it read-only
/// without a word, and every write (and, in WAL mode, many reads) would then fail for as
/// long as the process runs.
fn refuse_unwritable(path: &Path) -> Res<()> {
    let Some(why) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .err()
        .and_then(|e| crate::store::file_id::write_refused(&e))
    else {
        return Ok(());
    };
    Err(Fail::Unavailable(format!(
        "the database file {why}, and SQLite writes to it even to read it (its WAL): fix its \
         owner or permissions (it must be writable by the user arbdesk runs as), or copy the \
         data dir to a writable place and pass that with --data-dir"
    )))
}

/// The database file could not be stat'ed or read.
fn unreadable(e: std::io::Error) -> Fail {
    Fail::Unavailable(format!(
        "the database file cannot be read: {e}; check its permissions and the disk"
    ))
}

/// Fills `buf` from the start of `file` without moving a shared position (and without
/// opening the file again).
fn read_at_start(file: &File, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, 0)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match file.seek_read(&mut buf[done..], done as u64)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => done += n,
            }
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        // No positional read here: the header goes unchecked.
        let _ = file;
        buf.copy_from_slice(&b"SQLite format 3\0"[..buf.len()]);
        Ok(())
    }
}

/// Open flags for connections after the first: the file must exist (a vanished file is an
/// error, not a new empty database).
fn existing_file() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
}
