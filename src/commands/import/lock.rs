//! One `import` writes into a local store at a time. Two at once both did the whole job:
//! each read the file's checkpoint before the other had moved it, so the same file imported
//! twice at once took twice as long for the same rows, and two different files competed for
//! the one writer with nothing gained.
//!
//! An import takes an exclusive lock on `<database>.import`, beside the database, with its
//! process id and file written in it, for as long as it runs (the operating system drops the
//! lock when the process ends, however it ends). Another import into the same store says
//! which one runs and waits for it: then it reads the checkpoint that one left, so the same
//! file is found imported (or resumed where the other stopped) and another file follows.
//! `--serve` and the console are not held up: they write beside an import as before,
//! except that a demo process holds the lock for the moment it marks a new store as demo
//! (see [`hold_if_free`]): an import and a demo process started together on a new store
//! then meet here, and one of them refuses, rather than both filling it.

use std::fs::{File, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::super::fetch_lock::{open_beside, write_holder};

/// The lock, held while the value lives.
#[derive(Debug)]
pub(in crate::commands) struct ImportLock {
    _file: File,
}

/// One try at the lock beside `db`, without waiting.
enum Attempt {
    /// Taken.
    Held(File),
    /// An import holds it: the file (to wait on) and the holder, in words.
    Busy(File, String),
    /// The file system cannot lock it (the lock file and why).
    NoLocks(PathBuf, std::io::Error),
}

fn attempt(db: &Path) -> Result<Attempt> {
    let (path, mut file) = open_beside(db, ".import")?;
    Ok(match file.try_lock() {
        Ok(()) => Attempt::Held(file),
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Attempt::Busy(file, describe(&holder))
        }
        Err(TryLockError::Error(e)) => Attempt::NoLocks(path, e),
    })
}

/// The import lock of the database at `db` if no import holds it (`Ok(Ok(lock))`), else
/// who does, in words (`Ok(Err(..))`). A file system without locks gives `Ok(Ok(None))`.
pub(in crate::commands) fn hold_if_free(db: &Path) -> Result<Result<Option<ImportLock>, String>> {
    Ok(match attempt(db)? {
        Attempt::Held(file) => Ok(Some(ImportLock { _file: file })),
        Attempt::Busy(_, holder) => Err(holder),
        Attempt::NoLocks(path, e) => {
            tracing::debug!(lock = %path.display(), error = %e, "Cannot lock the import lock.");
            Ok(None)
        }
    })
}

/// Takes the import lock of the database at `db` for an import of `name`, waiting (and
/// saying so, naming the holder) while another import holds it. Interrupted while it
/// waits, the process ends with the interruption's exit status. A file system without
/// locks gives no lock (a warning in the log) and no wait.
pub(super) async fn take(db: &Path, name: &str) -> Result<Option<ImportLock>> {
    let mut file = match attempt(db)? {
        Attempt::Held(file) => file,
        Attempt::Busy(file, holder) => {
            noteln!(
                "{holder} is importing into {}: waiting for it to end, then going on from what \
                 it imported (Ctrl-C stops waiting).",
                db.display()
            );
            let waiting = tokio::task::spawn_blocking(move || file.lock().map(|()| file));
            tokio::select! {
                code = super::interrupted() => {
                    noteln!("\nInterrupted while waiting: nothing was imported.");
                    std::process::exit(code);
                }
                locked = waiting => locked
                    .context("Waiting for the other import stopped")?
                    .with_context(|| format!("Could not lock {}.import", db.display()))?,
            }
        }
        Attempt::NoLocks(path, e) => {
            tracing::warn!(
                lock = %path.display(),
                error = %e,
                "Cannot lock the import lock: nothing stops a second import into this store \
                 at the same time."
            );
            return Ok(None);
        }
    };
    write_holder(&mut file, &format!("{} {name}", std::process::id()));
    Ok(Some(ImportLock { _file: file }))
}

/// The holder as written in the lock (`<pid> <file>`), in words.
fn describe(holder: &str) -> String {
    let holder = holder.trim();
    let (pid, file) = holder.split_once(' ').unwrap_or((holder, ""));
    match (pid.parse::<u32>(), file) {
        (Err(_), _) => "Another arbdesk import".to_string(),
        (Ok(pid), "") => format!("Another arbdesk import (pid {pid})"),
        (Ok(pid), file) => format!("Another arbdesk import (pid {pid}, of {file})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_named_by_pid_and_file_as_far_as_it_is_known() {
        assert_eq!(
            describe("4242 /data/keepa.jsonl\n"),
            "Another arbdesk import (pid 4242, of /data/keepa.jsonl)"
        );
        assert_eq!(describe("4242"), "Another arbdesk import (pid 4242)");
        assert_eq!(describe(""), "Another arbdesk import");
        assert_eq!(describe("garbage here"), "Another arbdesk import");
    }
}
