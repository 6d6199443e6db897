//! WAL checkpoints on their own thread, so the writer only appends.
//!
//! In WAL mode every committed page is written twice: appended to the WAL at commit, then
//! copied into the database file by a checkpoint. Left to SQLite, the committing writer runs
//! that copy itself every 1,000 pages, which was a fifth of the time of a large import. Here
//! the writer only nudges (`kick`, which never blocks) after each commit, and a thread with
//! its own connection runs a `PASSIVE` checkpoint (it never waits for readers or the writer)
//! at most every `COALESCE`, so several commits' pages are copied at once and on the other
//! core. If the thread ever falls behind, the writer's own `wal_autocheckpoint` still bounds
//! the WAL. Dropping the `Checkpointer` stops the thread and waits for it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::codec::{Fail, Res};

/// How long the thread gathers commits before copying them.
const COALESCE: Duration = Duration::from_millis(100);

/// Runs checkpoints for one database file.
pub(super) struct Checkpointer {
    kick: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection to the database.
    pub fn start(conn: Connection) -> Res<Checkpointer> {
        let (kick, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("arbdesk-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &rx))
            .map_err(|e| {
                Fail::Unavailable(format!(
                    "cannot start the checkpoint thread: {e}; the system is out of threads"
                ))
            })?;
        Ok(Checkpointer {
            kick: Some(kick),
            thread: Some(thread),
        })
    }

    /// Tells the thread that a commit added pages to the WAL.
    pub fn kick(&self) {
        if let Some(k) = &self.kick {
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

fn run(conn: &Connection, rx: &Receiver<()>) {
    while rx.recv().is_ok() {
        // Gather the commits of the next COALESCE, but stop at once on shutdown.
        let deadline = Instant::now() + COALESCE;
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
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
}
