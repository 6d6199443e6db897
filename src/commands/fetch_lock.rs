//! One process fetches into a store. A second would ask Keepa again for the same products,
//! spending the key's tokens twice (and, on the simulator, double the demo's refreshes);
//! nothing else about it is wrong, so nothing else would show it.
//!
//! For the SQLite store the process that runs ingest holds an exclusive lock on
//! `<database>.ingest` beside the database, with its process id written in it, for as long
//! as it runs (the operating system drops the lock when the process ends, however it ends).
//! Another process that would fetch into the same file is refused at start-up, naming that
//! process. An Elasticsearch store is shared across machines, where a file lock proves
//! nothing; its operators run one `--role ingest`, as the README says.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The lock, held while the value lives.
#[derive(Debug)]
pub struct FetchLock {
    _file: File,
}

/// `<database>.ingest`, beside the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".ingest");
    PathBuf::from(name)
}

/// Takes the fetch lock of the database at `db`, or says which process holds it. A file
/// system without locks gives no lock and no refusal (a warning in the log).
pub fn take(db: &Path) -> Result<Option<FetchLock>> {
    let path = lock_path(db);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| {
            format!(
                "Could not create {}; check that the data directory is writable",
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the message another process gives.
            let pid = std::process::id().to_string();
            let written = file
                .set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(pid.as_bytes()));
            if let Err(e) = written {
                tracing::debug!(error = %e, "Could not write the process id into the fetch lock.");
            }
            Ok(Some(FetchLock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("Another arbdesk process (pid {pid})"),
                Err(_) => "Another arbdesk process".to_string(),
            };
            Err(super::BadValue(format!(
                "{holder} is fetching into {}: a second one would ask Keepa again for the same \
                 products and spend the tokens twice. Stop it first, or run this one with \
                 --role api, which reads what the other stores: the console with --api-addr \
                 off, or --serve with an API address other than the other's",
                db.display()
            ))
            .into())
        }
        Err(TryLockError::Error(e)) => {
            tracing::warn!(
                lock = %path.display(),
                error = %e,
                "Cannot lock the fetch lock: nothing stops a second process fetching into \
                 this store."
            );
            Ok(None)
        }
    }
}
