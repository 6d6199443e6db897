//! The WAL and shared-memory files beside the database (`<db>-wal`, `<db>-shm`), and
//! letting go of them when the database file is replaced or deleted under a running store.
//!
//! SQLite finds them by the database's path. When the file at that path is replaced (a
//! backup restored over it) or deleted while this process has it open, SQLite leaves this
//! process's two files where they are when it closes (the database "moved": it neither
//! copies the WAL back nor deletes it), and the next process to open the path takes them
//! for the new file's: it replays this store's pages into the restored backup, which then
//! holds this store's rows or is damaged, and while this process runs it also shares its
//! wal-index. So once the store finds its file gone or replaced, it removes the two files
//! at those names, if they are still its own (the device and inode seen at open); its
//! connections keep them open until they close, and it uses the path no more.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::file_id::FileId;

/// This store's WAL and shared-memory files, as found at open.
pub(super) struct Sidecars {
    files: Vec<(PathBuf, FileId)>,
    let_go: AtomicBool,
}

impl Sidecars {
    /// The sidecars of the database at `db` as they are now: call it once a connection has
    /// read the database in WAL mode, which creates both.
    pub fn of(db: &Path) -> Sidecars {
        let files = ["-wal", "-shm"]
            .into_iter()
            .filter_map(|suffix| {
                let mut name = OsString::from(db.as_os_str());
                name.push(suffix);
                let path = PathBuf::from(name);
                FileId::of(&path).ok().map(|id| (path, id))
            })
            .collect();
        Sidecars {
            files,
            let_go: AtomicBool::new(false),
        }
    }

    /// Whether the store has let go of them (then it must not use the path again).
    pub fn let_go(&self) -> bool {
        self.let_go.load(Ordering::Acquire)
    }

    /// Removes the sidecars that are still this store's, once; `why` says what happened
    /// to the database file, for the log.
    pub fn release(&self, db: &Path, why: &str) {
        if self.let_go.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut removed = Vec::new();
        for (path, id) in &self.files {
            if FileId::of(path).is_ok_and(|now| now == *id) {
                match std::fs::remove_file(path) {
                    Ok(()) => removed.push(path.display().to_string()),
                    Err(e) => tracing::error!(
                        file = %path.display(),
                        error = %e,
                        "Could not remove this process's SQLite file beside a database that \
                         was {why}: remove it before arbdesk opens {} again, or SQLite \
                         will read it as that file's",
                        db.display()
                    ),
                }
            }
        }
        if !removed.is_empty() {
            tracing::warn!(
                removed = %removed.join(", "),
                "The database file {} was {why} under this process: removed this process's \
                 WAL and shared-memory files beside it, so that the file at that path is \
                 opened as it is, without this process's pages; restart arbdesk to use it",
                db.display()
            );
        }
    }
}
