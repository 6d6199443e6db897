//! The watchlist's entries as the stores give them, and how a change to it is said.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Asin, Market};

/// The `asked` ASINs a watchlist change left as they were (not among `changed`).
pub fn unchanged(changed: &[Asin], asked: &[Asin]) -> Vec<Asin> {
    asked
        .iter()
        .filter(|a| !changed.contains(a))
        .copied()
        .collect()
}

/// A change asked of the watchlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEdit {
    /// Watch the products.
    Add,
    /// Stop watching them.
    Remove,
}

impl WatchEdit {
    /// The word of the `watch` command: `add` or `remove`.
    pub fn verb(self) -> &'static str {
        match self {
            WatchEdit::Add => "add",
            WatchEdit::Remove => "remove",
        }
    }
}

/// What a watchlist change did, as the API and the CLI say it: `2 added to the watchlist`,
/// `1 of 2 removed from the watchlist (B0… was not on it)`, or for one ASIN that did not
/// change, `B0… was on the watchlist already: the watchlist is unchanged`. Of the `asked`
/// ASINs (distinct), `changed` were added or removed, as `edit` says; the others are
/// named, the first few of them when there are many.
pub fn watch_change(edit: WatchEdit, changed: &[Asin], asked: &[Asin]) -> String {
    let (verb, others) = match edit {
        WatchEdit::Add => ("added to", "on it already"),
        WatchEdit::Remove => ("removed from", "not on it"),
    };
    let unchanged = unchanged(changed, asked);
    let (n, of) = (
        crate::domain::text::thousands(changed.len() as u64),
        asked.len(),
    );
    match unchanged.as_slice() {
        [] => format!("{n} {verb} the watchlist"),
        [one] if of == 1 => format!(
            "{one} was {}: the watchlist is unchanged",
            others.replacen("it", "the watchlist", 1)
        ),
        _ => format!(
            "{n} of {} {verb} the watchlist ({} {others})",
            crate::domain::text::thousands(of as u64),
            crate::domain::text::subject(&unchanged, 5, "was", "were")
        ),
    }
}

/// Where a watchlist entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchSource {
    /// Added by a person (console, CLI, API).
    User,
    /// Found by best-seller discovery.
    Discovery,
    /// Brought in by `arbdesk import`.
    Import,
}

impl WatchSource {
    /// Every source, in the order names are listed.
    pub const ALL: [WatchSource; 3] = [
        WatchSource::User,
        WatchSource::Discovery,
        WatchSource::Import,
    ];

    /// Its name, as stored, serialized, printed and taken by `--source` and `?source=`.
    pub fn name(self) -> &'static str {
        match self {
            WatchSource::User => "user",
            WatchSource::Discovery => "discovery",
            WatchSource::Import => "import",
        }
    }

    /// The source named `name` (exactly, as [`name`](Self::name) gives it).
    pub fn from_name(name: &str) -> Option<WatchSource> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One watched ASIN.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WatchEntry {
    /// The ASIN.
    pub asin: Asin,
    /// Where it came from.
    pub source: WatchSource,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// Oldest fetch across its markets (`None` = never fetched anywhere).
    pub oldest_fetch: Option<DateTime<Utc>>,
    /// The markets it was fetched in (listed there or not), in display order: one tracked
    /// but missing here is not fetched there yet.
    pub fetched: Vec<Market>,
}

impl WatchEntry {
    /// The markets of `tracked` it was not fetched in yet, in their order.
    pub fn not_fetched(&self, tracked: &[Market]) -> Vec<Market> {
        tracked
            .iter()
            .copied()
            .filter(|m| !self.fetched.contains(m))
            .collect()
    }

    /// Whether some market of `tracked` still waits for its first fetch.
    pub fn pending(&self, tracked: &[Market]) -> bool {
        tracked.iter().any(|m| !self.fetched.contains(m))
    }
}
