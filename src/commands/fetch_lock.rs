//! One process fetches into a store. A second would ask Keepa again for the same products,
//! spending the key's tokens twice (and, on the simulator, double the demo's refreshes);
//! nothing else about it is wrong, so nothing else would show it.
//!
//! For the SQLite store the process that runs ingest holds an exclusive lock on
//! `<database>.ingest` beside the database, with its process id written in it, for as long
//! as it runs (the operating system drops the lock when the process ends, however it ends).
//! Another process that would fetch into the same file is refused at start-up, naming that
//! process.
//!
//! An Elasticsearch store is shared across machines, where a file lock proves nothing: the
//! process that fetches keeps a lease in the store instead (a named position, as an import's
//! progress is kept: when it ends and which process holds it), renewed every 20 s for a
//! minute. A process that finds another's lease alive is refused as above; two that started
//! at the same moment find each other at the next renewal and say so in their logs. A clean
//! stop gives the lease back, so a restart need not wait for it to lapse.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::store::{Checkpoint, Store};

/// The lock, held while the value lives.
#[derive(Debug)]
pub struct FetchLock {
    _file: File,
}

/// `<database><suffix>` beside the database, opened to be locked (created if needed).
pub(super) fn open_beside(db: &Path, suffix: &str) -> Result<(PathBuf, File)> {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
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
    Ok((path, file))
}

/// Writes `holder` (this process's id, and what it does) into a lock file it holds, for
/// the message another process gives.
pub(super) fn write_holder(file: &mut File, holder: &str) {
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(holder.as_bytes()));
    if let Err(e) = written {
        tracing::debug!(error = %e, "Could not write the process id into a lock file.");
    }
}

/// Takes the fetch lock of the database at `db` (`<database>.ingest`), or says which
/// process holds it. A file system without locks gives no lock and no refusal (a warning
/// in the log).
pub fn take(db: &Path) -> Result<Option<FetchLock>> {
    let (path, mut file) = open_beside(db, ".ingest")?;
    match file.try_lock() {
        Ok(()) => {
            write_holder(&mut file, &std::process::id().to_string());
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

/// The store's key for the lease.
const LEASE_KEY: &str = "arbdesk:ingest-lease";
/// How long a lease lasts unless renewed, and how often it is renewed.
const LEASE_SECS: u64 = 60;
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// A lease on fetching into a shared store, renewed until [`release`](Self::release).
pub struct FetchLease {
    claim: LeaseClaim,
    renewal: CancellationToken,
    /// The store could not be read when the lease was asked for: not taken yet.
    pending: bool,
    /// Why this process lost the lease to another (both took it at the same moment).
    lost: Option<tokio::sync::oneshot::Receiver<anyhow::Error>>,
}

/// What taking the lease needs: the store, this process's holder id, the store's name,
/// and the lease of a killed process being waited out, if any.
#[derive(Clone)]
pub struct LeaseClaim {
    store: Arc<dyn Store>,
    holder: u32,
    place: String,
    lapsing: Arc<std::sync::Mutex<Option<u64>>>,
    /// Taken once: renewed from then on (not before, when it may still be another's).
    taken: Arc<std::sync::atomic::AtomicBool>,
}

/// A lease as the store keeps it: when it lapses (Unix seconds) and its holder (24 bits).
fn lease_value(lapses: u64, holder: u32) -> u64 {
    (lapses << 24) | u64::from(holder & 0xFF_FFFF)
}

fn lease_parts(value: u64) -> (u64, u32) {
    (value >> 24, (value & 0xFF_FFFF) as u32)
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Another holder's lease that has not lapsed: how many seconds ago it was renewed.
fn live_other(value: Option<u64>, holder: u32, now: u64) -> Option<u64> {
    let (lapses, by) = lease_parts(value?);
    (lapses > now && by != holder).then(|| LEASE_SECS.saturating_sub(lapses - now))
}

async fn write_lease(store: &dyn Store, holder: u32) -> crate::store::StoreResult<()> {
    store
        .set_checkpoint(Checkpoint {
            key: LEASE_KEY.to_string(),
            offset: lease_value(unix_now() + LEASE_SECS, holder),
        })
        .await
}

/// Takes the lease on fetching into `store` (named `place` in messages), or says that
/// another process holds it. A store that cannot be read now gives a lease that is not
/// taken yet ([`FetchLease::pending`]): fetching waits until [`FetchLease::take`] has it.
pub async fn lease(store: Arc<dyn Store>, place: &str) -> Result<FetchLease> {
    // Which process this is, among those that share the store (24 bits: the lease keeps
    // the time beside it).
    let holder = (std::process::id() ^ chrono::Utc::now().timestamp_subsec_nanos()) & 0xFF_FFFF;
    let claim = LeaseClaim {
        store,
        holder,
        place: place.to_string(),
        lapsing: Arc::default(),
        taken: Arc::default(),
    };
    let pending = claim.take().await? != Take::Taken;
    let renewal = CancellationToken::new();
    let (lost_tx, lost) = tokio::sync::oneshot::channel();
    tokio::spawn(renew(claim.clone(), renewal.clone(), lost_tx));
    Ok(FetchLease {
        claim,
        renewal,
        pending,
        lost: Some(lost),
    })
}

/// How asking for the lease went, when no other live process holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// This process holds it.
    Taken,
    /// The store cannot be read or written now (why): ask again when it answers.
    StoreUnavailable(String),
    /// A process killed on this host left it: it lapses in this many seconds.
    Lapsing(u64),
}

impl LeaseClaim {
    /// Whether the lease is a killed process's, being waited out (as the last try found).
    pub fn lapsing(&self) -> bool {
        self.lapsing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Takes the lease: [`Take::Taken`] once taken, another [`Take`] while it cannot be yet
    /// (ask again later), an error
    /// (exit 2) when another process holds it. A lease left by a process killed on this
    /// host is waited out (a minute at most), not refused: there is nothing to stop; the
    /// process starts meanwhile, its API too, and fetches once it is taken. Renewed
    /// meanwhile, its holder runs after all (another PID namespace under the same host
    /// name), and it is refused.
    pub async fn take(&self) -> Result<Take> {
        let place = &self.place;
        let value = match self.store.checkpoint(LEASE_KEY.to_string()).await {
            Ok(value) => value,
            Err(crate::store::StoreError::Unavailable(why)) => {
                return Ok(Take::StoreUnavailable(why));
            }
            Err(e) => return Err(e).context("Reading the store's lease on fetching failed"),
        };
        if let Some(ago) = live_other(value, self.holder, unix_now()) {
            let ids = fetching_processes(self.store.as_ref()).await;
            let left = LEASE_SECS.saturating_sub(ago);
            let dead_here = !ids.is_empty() && ids.iter().all(|id| gone_from_this_host(id));
            let mut lapsing = self.lapsing.lock().unwrap_or_else(|e| e.into_inner());
            match *lapsing {
                // The same lease as before, not renewed: still lapsing.
                Some(seen) if Some(seen) == value => return Ok(Take::Lapsing(left)),
                // Killed on this host (a crash, `kill -9`): nothing to stop, only the
                // lease to wait out.
                None if dead_here => {
                    *lapsing = value;
                    tracing::warn!(
                        "The arbdesk process that fetched into {place} ({}) is no longer \
                             running, but its lease on fetching (renewed {ago} s ago) was not \
                             given back, as after a kill or a crash: this one fetches once it \
                             lapses, in {left} s; the rest runs meanwhile.",
                        ids.join(", ")
                    );
                    return Ok(Take::Lapsing(left));
                }
                _ => {}
            }
            let who = if ids.is_empty() {
                String::new()
            } else {
                format!(" ({})", ids.join(", "))
            };
            return Err(super::BadValue(format!(
                "Another arbdesk process{who} is fetching into {place} (it renewed its \
                     lease on fetching {ago} s ago): a second one would ask Keepa again for \
                     the same products and spend the tokens twice. Stop it first (a lease \
                     it cannot give back lapses {LEASE_SECS} s after its last renewal, in \
                     {left} s if it is gone), or run this one with --role process or api"
            ))
            .into());
        }
        match write_lease(self.store.as_ref(), self.holder).await {
            Ok(()) => {
                self.taken.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Take::Taken)
            }
            Err(crate::store::StoreError::Unavailable(why)) => Ok(Take::StoreUnavailable(why)),
            Err(e) => Err(e).context("Taking the lease on fetching into the store failed"),
        }
    }
}

/// The processes (`host:pid`) that reported fetching into `store` while the lease ran (see
/// `pipeline::peers`; a killed one's last report is up to a lease old), for a refusal to
/// name; none when none did (or they cannot be read).
pub(super) async fn fetching_processes(store: &dyn Store) -> Vec<String> {
    use crate::pipeline::peers;
    let lease = chrono::Duration::seconds(i64::try_from(LEASE_SECS).unwrap_or(60));
    let since = chrono::Utc::now() - lease - peers::FRESH_FOR;
    let Ok(reports) = store.process_reports(since).await else {
        return Vec::new();
    };
    let (reporting, _) = peers::read(reports, &peers::process_id());
    reporting
        .into_iter()
        .filter(|(_, status)| status.keepa_client)
        .map(|(peer, _)| peer.id)
        .collect()
}

/// Whether the process `host:pid` ran on this host and runs no more (where `/proc` can
/// tell; elsewhere, and for other hosts, it cannot be known, and this says no).
pub(super) fn gone_from_this_host(id: &str) -> bool {
    let own = crate::pipeline::peers::process_id();
    let (Some((host, pid)), Some((own_host, _))) = (id.rsplit_once(':'), own.rsplit_once(':'))
    else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    if host != own_host || pid.parse::<u32>().is_err() || !proc.join("self").exists() {
        return false;
    }
    // Gone, or a zombie its parent has not reaped yet (state `Z` after the command).
    match std::fs::read_to_string(proc.join(pid).join("stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Renews the lease every 20 s until cancelled. Finding another process's live lease
/// means both took it at the same moment (or this one waited out a store outage while the
/// other took it): the lease stays the other's, renewing stops, and the reason goes on
/// `lost` (`--serve` then stops with it, exit 2, as it would have at start-up).
async fn renew(
    claim: LeaseClaim,
    stop: CancellationToken,
    lost: tokio::sync::oneshot::Sender<anyhow::Error>,
) {
    let LeaseClaim {
        store,
        holder,
        place,
        taken,
        ..
    } = claim;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RENEW_EVERY) => {}
        }
        if !taken.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if let Ok(value) = store.checkpoint(LEASE_KEY.to_string()).await
            && let Some(ago) = live_other(value, holder, unix_now())
        {
            let why = format!(
                "Another arbdesk process holds the lease on fetching into {place} (renewed \
                 {ago} s ago) and this one fetched too: each asks Keepa for the same products \
                 and spends the tokens twice. This one stops fetching; run it with --role \
                 process or api beside the other"
            );
            tracing::error!("{why}");
            let _ = lost.send(super::BadValue(why).into());
            return;
        }
        if let Err(e) = write_lease(store.as_ref(), holder).await {
            tracing::debug!(error = %e, "Could not renew the lease on fetching.");
        }
    }
}

impl FetchLease {
    /// What takes the lease when the store answers, if it could not be read at start-up
    /// (fetching waits for it).
    pub fn pending(&self) -> Option<LeaseClaim> {
        self.pending.then(|| self.claim.clone())
    }

    /// Why this process lost the lease to another, once it has (taken once).
    pub fn lost(&mut self) -> Option<tokio::sync::oneshot::Receiver<anyhow::Error>> {
        self.lost.take()
    }

    /// Stops renewing and gives the lease back (if it is still this process's), so the
    /// next process need not wait for it to lapse.
    pub async fn release(self) {
        self.renewal.cancel();
        let LeaseClaim { store, holder, .. } = &self.claim;
        if let Ok(Some(value)) = store.checkpoint(LEASE_KEY.to_string()).await
            && lease_parts(value).1 == *holder
        {
            let gone = Checkpoint {
                key: LEASE_KEY.to_string(),
                offset: 0,
            };
            if let Err(e) = store.set_checkpoint(gone).await {
                tracing::warn!(error = %e, "Could not give back the lease on fetching; it lapses in a minute.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A holder killed on this host is told apart from one that runs, or runs elsewhere.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_gone_from_this_host_is_known_as_such() {
        let own = crate::pipeline::peers::process_id();
        let host = own.rsplit_once(':').unwrap().0;
        assert!(!gone_from_this_host(&own), "this process runs");
        assert!(gone_from_this_host(&format!("{host}:999999999")));
        assert!(!gone_from_this_host("another-host.example:999999999"));
        assert!(!gone_from_this_host("no pid here"));
    }

    #[test]
    fn a_lease_is_another_holders_until_it_lapses() {
        let now = 1_800_000_000;
        let theirs = Some(lease_value(now + 45, 7));
        assert_eq!(live_other(theirs, 8, now), Some(15));
        assert_eq!(live_other(theirs, 7, now), None, "one's own");
        assert_eq!(live_other(theirs, 8, now + 45), None, "lapsed");
        assert_eq!(live_other(Some(0), 8, now), None, "given back");
        assert_eq!(live_other(None, 8, now), None);
        assert_eq!(lease_parts(lease_value(now, 0x12_3456)), (now, 0x12_3456));
    }
}
