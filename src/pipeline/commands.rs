//! The command channel to the ingest stage, with the ledger of the refreshes sent on it.
//!
//! The ingest stage skips a product refreshed on command within [`REFRESH_AGAIN_AFTER`]
//! (Keepa would answer the same for the same tokens). Everything that asks for refreshes
//! (the console, the API) holds a clone of one [`Commands`], so a repeat is answered as
//! one, without a token estimate for a fetch that will not happen, whoever asked first.
//! (A console refresh followed by the same one over the API is a repeat.) A refresh of the
//! whole watchlist covers a product named later only once the ingest stage has read the
//! watchlist and entered its products in the ledger ([`Ledger::covered`]): a product that
//! is not watched is not in it, and is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use chrono::{DateTime, Utc};

use super::PipelineStatus;
use crate::domain::Asin;

/// A product refreshed on command is not fetched again on command until this long after
/// that refresh finished: asking twice (`r` pressed twice, a script retrying) spends the
/// Keepa tokens once.
pub const REFRESH_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Something to do now rather than on schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run best-seller discovery now.
    Discover,
    /// Refresh these ASINs in every market now; an ASIN refreshed on command within
    /// [`REFRESH_AGAIN_AFTER`] of `asked` is not fetched again.
    Refresh {
        /// The products.
        asins: Vec<Asin>,
        /// When the refresh was asked for.
        asked: tokio::time::Instant,
    },
    /// Refresh the whole watchlist in every market now (skipping, as `Refresh` does, what
    /// was refreshed on command within [`REFRESH_AGAIN_AFTER`] of `asked`).
    RefreshAll {
        /// When the refresh was asked for.
        asked: tokio::time::Instant,
    },
    /// Refresh each product once in `interval` from now on, for this run (the console's
    /// `:set refresh`): what is scheduled moves by the change.
    SetRefresh {
        /// The new refresh interval.
        interval: Duration,
    },
}

/// Sends commands to the ingest stage and remembers the refreshes it sent. Cheap to clone;
/// clones share the ledger.
#[derive(Clone, Debug)]
pub struct Commands {
    tx: mpsc::Sender<Command>,
    ledger: Ledger,
}

/// The refreshes sent, shared by every [`Commands`] clone and the ingest stage.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger(Arc<Mutex<Sent>>);

/// When refreshes were last sent (entries past the window are dropped as it is read).
#[derive(Debug, Default)]
struct Sent {
    all: Option<Instant>,
    asins: HashMap<Asin, Instant>,
    /// When a discovery run was last queued (the wall clock, as job runs are dated).
    discover: Option<DateTime<Utc>>,
    /// When the ingest stage last finished with a discovery request: ran it, or dropped it.
    discover_settled: Option<DateTime<Utc>>,
}

/// A discovery queued this long ago that has still not started is queued again: the
/// ingest stage may have dropped it (it merges repeats anyway).
const DISCOVERY_JOINS_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

impl From<mpsc::Sender<Command>> for Commands {
    fn from(tx: mpsc::Sender<Command>) -> Self {
        Commands {
            tx,
            ledger: Ledger::default(),
        }
    }
}

/// What a refresh request comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// Sent for these products; the rest were refreshed moments ago (left out).
    Queued {
        /// Sent.
        sent: Vec<Asin>,
        /// Left out as repeats.
        repeats: Vec<Asin>,
    },
    /// Every product asked for was refreshed moments ago: nothing sent.
    Repeat {
        /// The products (empty for the whole watchlist).
        repeats: Vec<Asin>,
        /// How long ago the latest of them was sent.
        ago: Duration,
    },
}

impl Refresh {
    /// How long ago a repeat was sent, as messages say it: `moments ago` under 2 s, else
    /// `12s ago`.
    pub fn ago(ago: Duration) -> String {
        if ago < Duration::from_secs(2) {
            "moments ago".to_string()
        } else {
            format!("{} ago", crate::domain::text::span(ago.as_secs() as i64))
        }
    }
}

/// Why discovery asked for by hand is not queued when no best-seller list is configured.
pub const NO_DISCOVERY: &str = "discovery has no best-seller lists to read: [discovery] \
     categories is empty (with a Keepa key it is empty until set, since discovery spends \
     tokens); name lists there, e.g. categories = [{ market = \"DE\", category = \"3167641\" }], \
     and start arbdesk again";

/// Why the ingest stage did not take a command, in words for an operator.
pub fn not_taken(e: &TrySendError<Command>) -> &'static str {
    match e {
        TrySendError::Full(_) => {
            "the ingest stage has a full queue of commands waiting; try again in a moment"
        }
        TrySendError::Closed(_) => {
            "fetching has stopped in this process (its pipeline status says why: the health \
             view, /stats); send it to the process that fetches"
        }
    }
}

impl Commands {
    /// Queues `cmd` without waiting; fails when the queue is full or the stage stopped.
    pub fn try_send(&self, cmd: Command) -> Result<(), TrySendError<Command>> {
        self.tx.try_send(cmd)
    }

    /// Commands queued and not yet taken by the ingest stage.
    pub fn pending(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues `cmd`, waiting for room; fails when the stage stopped. (Refreshes sent this
    /// way bypass the ledger: the ingest stage still skips repeats.)
    pub async fn send(&self, cmd: Command) -> Result<(), mpsc::error::SendError<Command>> {
        self.tx.send(cmd).await
    }

    /// The ledger these commands share with the ingest stage.
    pub(crate) fn ledger(&self) -> Ledger {
        self.ledger.clone()
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, Sent> {
        self.ledger.sent()
    }

    /// Refreshes `asins` (each once, in order) except those sent within
    /// [`REFRESH_AGAIN_AFTER`], by themselves or with the whole watchlist (once the ingest
    /// stage has entered the watched products; a product that is not watched is sent).
    pub fn refresh(&self, asins: Vec<Asin>) -> Result<Refresh, TrySendError<Command>> {
        let mut sent = self.sent();
        let mut seen = std::collections::HashSet::new();
        let asins: Vec<Asin> = asins.into_iter().filter(|a| seen.insert(*a)).collect();
        let since = |a: &Asin| sent.asins.get(a).copied();
        let (todo, repeats): (Vec<Asin>, Vec<Asin>) =
            asins.iter().partition(|a| since(a).is_none());
        if todo.is_empty() {
            let latest = repeats.iter().filter_map(since).max();
            return Ok(Refresh::Repeat {
                repeats,
                ago: latest.map_or(Duration::ZERO, |t| t.elapsed()),
            });
        }
        let asked = Instant::now();
        self.tx.try_send(Command::Refresh {
            asins: todo.clone(),
            asked,
        })?;
        sent.asins.extend(todo.iter().map(|a| (*a, asked)));
        Ok(Refresh::Queued {
            sent: todo,
            repeats,
        })
    }

    /// Queues a discovery run, unless one queued through these commands is not settled
    /// yet (waiting on the channel, or taken by the ingest stage and about to run or
    /// running): the request then joins that one, and `Ok(Some(when))` says when it was
    /// queued. Once the stage has run it, or dropped it (a run just finished answers for
    /// it, or no categories are configured), a request is sent again. (A run in progress
    /// or just finished is [`RunInHand`]'s to answer for, from the published status.)
    pub fn discover(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, TrySendError<Command>> {
        let mut sent = self.sent();
        if let Some(at) = sent.discover
            && now - at < DISCOVERY_JOINS_FOR
            && sent.discover_settled.is_none_or(|done| done < at)
        {
            return Ok(Some(at));
        }
        self.tx.try_send(Command::Discover)?;
        sent.discover = Some(now);
        Ok(None)
    }

    /// A discovery run asked for by hand (the API's `POST /jobs/discovery`, the console's
    /// `:discover`) at `now`, given the pipeline's `status`: refused when no best-seller
    /// list is configured (the stage would drop it unseen), answered by a run in progress
    /// or just finished ([`RunInHand`]), else [queued](Self::discover).
    pub fn ask_discovery(
        &self,
        status: &PipelineStatus,
        now: DateTime<Utc>,
    ) -> Result<DiscoveryAsked, TrySendError<Command>> {
        if status.refresh.as_ref().is_some_and(|p| !p.discovery) {
            return Ok(DiscoveryAsked::NoLists);
        }
        if let Some(run) = RunInHand::of(status, "discovery", now) {
            return Ok(DiscoveryAsked::InHand(run));
        }
        Ok(match self.discover(now)? {
            None => DiscoveryAsked::Queued,
            Some(at) => DiscoveryAsked::Joined(at),
        })
    }

    /// Refreshes the whole watchlist unless it was sent within [`REFRESH_AGAIN_AFTER`].
    pub fn refresh_all(&self) -> Result<Refresh, TrySendError<Command>> {
        let mut sent = self.sent();
        if let Some(t) = sent.all {
            return Ok(Refresh::Repeat {
                repeats: Vec::new(),
                ago: t.elapsed(),
            });
        }
        let asked = Instant::now();
        self.tx.try_send(Command::RefreshAll { asked })?;
        sent.all = Some(asked);
        // Those refreshed on command moments ago are skipped by the ingest stage: named,
        // so what the refresh costs leaves them out.
        Ok(Refresh::Queued {
            sent: Vec::new(),
            repeats: sent.asins.keys().copied().collect(),
        })
    }
}

impl Ledger {
    fn sent(&self) -> std::sync::MutexGuard<'_, Sent> {
        let mut sent = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let fresh = |t: &Instant| now.duration_since(*t) < REFRESH_AGAIN_AFTER;
        sent.asins.retain(|_, t| fresh(t));
        sent.all = sent.all.filter(fresh);
        sent
    }

    /// The ingest stage is done with the discovery requests it took: it ran one, or
    /// dropped them. A request after this is a new one.
    pub(crate) fn discovery_settled(&self) {
        self.sent().discover_settled = Some(Utc::now());
    }

    /// Forgets that `asins` were sent: their refresh failed, so a request for them is not
    /// a repeat of one that fetched them.
    pub(crate) fn forget(&self, asins: &[Asin]) {
        if asins.is_empty() {
            return;
        }
        let mut sent = self.sent();
        for a in asins {
            sent.asins.remove(a);
        }
    }

    /// Enters `asins`, the watchlist a refresh of it asked for at `asked` covers (the
    /// ingest stage calls this once it has read the watchlist).
    pub(crate) fn covered(&self, asins: &[Asin], asked: Instant) {
        if Instant::now().duration_since(asked) >= REFRESH_AGAIN_AFTER {
            return;
        }
        let mut sent = self.sent();
        for a in asins {
            let t = sent.asins.entry(*a).or_insert(asked);
            *t = (*t).max(asked);
        }
    }
}

/// What asking for a discovery run came to ([`Commands::ask_discovery`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryAsked {
    /// No best-seller list is configured: nothing runs ([`NO_DISCOVERY`] says what to set).
    NoLists,
    /// A run in progress, or one just finished, answers for the request.
    InHand(RunInHand),
    /// Queued now.
    Queued,
    /// Joined a run queued at this time that has not started yet.
    Joined(DateTime<Utc>),
}

/// A run of a job that answers for a request to run it now, rather than another run that
/// would spend the same tokens on the same lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunInHand {
    /// A run is in progress: the request joins it.
    Running,
    /// A run finished less than [`REFRESH_AGAIN_AFTER`] ago.
    Done {
        /// When it finished.
        finished_at: DateTime<Utc>,
    },
}

impl RunInHand {
    /// The run of job `name` in `status` that answers for a request made at `now`, if any
    /// (else queue one).
    pub fn of(status: &PipelineStatus, name: &str, now: DateTime<Utc>) -> Option<RunInHand> {
        let job = status.jobs.iter().find(|j| j.name == name)?;
        if job.running {
            return Some(RunInHand::Running);
        }
        let again_after = chrono::Duration::from_std(REFRESH_AGAIN_AFTER).unwrap_or_default();
        job.last_run
            .as_ref()
            .filter(|r| now - r.finished_at < again_after)
            .map(|r| RunInHand::Done {
                finished_at: r.finished_at,
            })
    }

    /// In words, as of `now`.
    pub fn detail(self, now: DateTime<Utc>) -> String {
        match self {
            RunInHand::Running => {
                "a run is in progress; this request joins it (no tokens spent)".into()
            }
            RunInHand::Done { finished_at } => format!(
                "a run finished {} ago; not run again within {} (no tokens spent)",
                crate::domain::text::span((now - finished_at).num_seconds().max(0)),
                crate::domain::text::span(REFRESH_AGAIN_AFTER.as_secs() as i64)
            ),
        }
    }
}

#[cfg(test)]
mod tests;
