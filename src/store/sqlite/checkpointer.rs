//! WAL checkpoints on their own thread, so the writer only appends.
//!
//! In WAL mode every committed page is written twice: appended to the WAL at commit, then
//! copied into the database file by a checkpoint. Left to SQLite, the committing writer runs
//! that copy itself every 1,000 pages, which was a fifth of the time of a large import. Here
//! the writer only nudges (`kick`, which never blocks) after each commit, saying how many
//! rows it changed, and a thread with its own connection runs a `PASSIVE` checkpoint (it
//! never waits for readers or the writer) once the waiting commits changed
//! `COPY_AFTER_ROWS` rows, or `COPY_AFTER` (a minute) after the first of them ([`due`]). A page that
//! several commits changed is then copied once: a live refresh rewrites most pages of the
//! opportunities' sort indexes in every commit, so copying each commit's pages (as a 100 ms
//! gathering did) wrote those pages again and again. A bulk write (`import`) changes that
//! many rows in every batch, so its pages are still copied batch by batch, on the other core.
//! If the thread ever falls behind, the writer's own `wal_autocheckpoint` still bounds the
//! WAL. Dropping the `Checkpointer` stops the thread and waits for it; the last connection
//! to close copies what is left (while another process has the file open, the WAL waits
//! for the next checkpoint of any process: nothing in it is lost).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::codec::{Fail, Res};

/// Rows changed by the commits waiting to be copied that make a copy due. A live refresh
/// changes ~4,000 a minute (a burst of 300 products, ~7 routes each, row and document);
/// an `import` batch of 10,000 lines ~40,000.
const COPY_AFTER_ROWS: u64 = 20_000;

/// The longest a commit waits to be copied. Meanwhile the WAL holds it, and with
/// `synchronous = NORMAL` a power cut (not a crash of the process) may lose it: a minute
/// bounds that, and keeps a live refresh's WAL (~1,000 pages a commit of opportunities,
/// about two a minute) well inside the writer's own bound of 8,192 pages, so the copy runs
/// here and not on the writer.
const COPY_AFTER: Duration = Duration::from_secs(60);

/// Whether the commits waiting since `first` with `rows` changed rows are to be copied.
fn due(rows: u64, first: Instant, now: Instant) -> bool {
    rows >= COPY_AFTER_ROWS || now.saturating_duration_since(first) >= COPY_AFTER
}

/// Runs checkpoints for one database file.
pub(super) struct Checkpointer {
    kick: Option<SyncSender<()>>,
    /// Rows changed by the commits not yet copied.
    rows: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection to the database.
    pub fn start(conn: Connection) -> Res<Checkpointer> {
        let (kick, rx) = mpsc::sync_channel(1);
        let rows = Arc::new(AtomicU64::new(0));
        let counted = rows.clone();
        let thread = std::thread::Builder::new()
            .name("arbdesk-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &rx, &counted))
            .map_err(|e| {
                Fail::Unavailable(format!(
                    "cannot start the checkpoint thread: {e}; the system is out of threads"
                ))
            })?;
        Ok(Checkpointer {
            kick: Some(kick),
            rows,
            thread: Some(thread),
        })
    }

    /// Tells the thread that a commit that changed `rows` rows added pages to the WAL.
    pub fn kick(&self, rows: u64) {
        if let Some(k) = &self.kick {
            self.rows.fetch_add(rows, Ordering::Relaxed);
            // Full means a nudge is already pending; disconnected means shutting down.
            match k.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.kick = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, rx: &Receiver<()>, rows: &AtomicU64) {
    while rx.recv().is_ok() {
        // Gather commits until a copy is due, but stop at once on shutdown (closing the
        // last connection copies what is left).
        let first = Instant::now();
        while !due(rows.load(Ordering::Relaxed), first, Instant::now()) {
            match rx.recv_timeout((first + COPY_AFTER).saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        checkpoint(conn, rows);
    }
}

/// Copies the WAL into the database file as far as readers allow (`PASSIVE`).
fn checkpoint(conn: &Connection, rows: &AtomicU64) {
    rows.swap(0, Ordering::Relaxed);
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match done {
        Ok((log, copied)) => {
            tracing::trace!(log, copied, "Checkpointed the WAL.");
        }
        Err(err) => {
            tracing::warn!(%err, "A WAL checkpoint failed; the writer's own checkpoints take over.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_waits_for_many_changed_rows_or_a_long_time() {
        let t = Instant::now();
        assert!(!due(0, t, t));
        assert!(!due(COPY_AFTER_ROWS - 1, t, t + COPY_AFTER / 2));
        assert!(
            due(COPY_AFTER_ROWS, t, t),
            "an import batch is copied at once"
        );
        assert!(
            due(1, t, t + COPY_AFTER),
            "a single small commit waits at most COPY_AFTER"
        );
    }
}
