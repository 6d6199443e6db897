//! A database file this user cannot write is refused at open, naming what to do (SQLite
//! would open it read-only without a word, and every write would fail while it runs).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use arbdesk::store::StoreError;
use arbdesk::store::sqlite::SqliteStore;

/// Makes `file` unwritable for this process: read-only for a user, immutable for root
/// (whom permissions do not stop); `false` where neither can be done.
fn make_unwritable(file: &Path) -> bool {
    if !rustix::process::geteuid().is_root() {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o444)).unwrap();
        return true;
    }
    Command::new("chattr")
        .arg("+i")
        .arg(file)
        .status()
        .is_ok_and(|s| s.success())
}

fn make_writable(file: &Path) {
    if rustix::process::geteuid().is_root() {
        let _ = Command::new("chattr").arg("-i").arg(file).status();
    }
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[tokio::test]
async fn a_store_file_this_user_cannot_write_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    if !make_unwritable(&path) {
        eprintln!("skipped: neither chmod nor chattr can make a file unwritable here");
        return;
    }
    let opened = SqliteStore::open(&path);
    make_writable(&path);
    match opened {
        Err(StoreError::Unavailable(m)) => assert!(
            m.contains("arbdesk.sqlite")
                && m.contains("not writable by this user")
                && m.contains("owner or permissions"),
            "{m}"
        ),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("an unwritable store file was opened"),
    }
    // Writable again, it opens.
    drop(SqliteStore::open(&path).unwrap());
}
