//! Effects, run outside the reducer: store queries, health and log tails on their own
//! tasks, clipboard and exports; each reports back as a message. The detail panes' reads
//! (`detail.rs`), refreshes (`refresh.rs`) and watchlist changes (`watched.rs`) have
//! modules of their own.

use std::io::Write as _;

use crate::store::{MAX_FILTER_KEYS, OpportunitySort};

use super::{
    Arc, ComponentHealth, ConsoleDeps, Duration, Effect, Feed, Instant, Mode, Msg, Mux,
    OpportunityFilter, OpportunityKey, Outcome, Path, PathBuf, Query, Row, Rows, Store, TermEnv,
    Theme, UiState, Utc, clipboard, export, load_theme, mpsc, theme_names,
};

#[derive(Clone, Copy)]
pub(super) struct ClipboardCtx {
    pub(super) mode: Mode,
    pub(super) mux: Mux,
    pub(super) interactive: bool,
    pub(super) ssh: bool,
}

pub(super) fn run_effect(
    effect: Effect,
    state: &mut UiState,
    deps: &ConsoleDeps,
    tx: &mpsc::Sender<Msg>,
    theme: &mut Theme,
    env: &TermEnv,
    clip: ClipboardCtx,
) {
    match effect {
        // The loop runs these: a query when one is due, a suspend or redraw with the
        // terminal.
        Effect::Query(_) | Effect::Suspend | Effect::Redraw => {}
        Effect::Copy { text, what } => {
            let mut out = std::io::stdout();
            let outcome = clipboard::copy(
                &text,
                clip.mode,
                clip.ssh,
                clip.mux,
                clip.interactive,
                &mut out,
            );
            match outcome {
                // The toast (and so the log) shows what was copied, not all of it: a P&L or
                // marked rows run to many lines.
                // Sent, not "copied": a terminal never says whether it took it.
                Outcome::SentOsc52 => state.toast_info(format!(
                    "Sent the {what} via OSC 52 (terminals do not confirm): {}",
                    preview(&text)
                )),
                Outcome::Native(tool) => {
                    state.toast_info(format!("Copied the {what} ({tool}): {}", preview(&text)))
                }
                Outcome::Failed(why) => {
                    state.toast_error(format!("Could not copy the {what}: {why}"))
                }
            }
        }
        Effect::Export(format) => {
            // Every row that passes the filters, not just the screenful. The store's order
            // is the console's unless a `/` filter or an in-memory sort (or the age
            // column's own direction) decides which rows match or how they go; then the
            // matching loaded rows are written, in order.
            // With rows marked (Space), only those, in the table's order.
            let marked = !state.marked.is_empty();
            let hidden = state.marked.len() - state.marked_shown();
            if marked && hidden == state.marked.len() {
                state.toast_marks_hidden("exported");
                return;
            }
            let in_memory = marked
                || !state.filter_text.is_empty()
                || !matches!(crate::tui::model::store_sort(state.sort), Some((_, None)));
            let keys: Option<Vec<OpportunityKey>> = in_memory.then(|| {
                if marked {
                    state.marked_rows().map(|r| r.key).collect()
                } else {
                    state
                        .matching
                        .iter()
                        .filter_map(|&i| state.feed.rows.get(i as usize).map(|r| r.key))
                        .collect()
                }
            });
            // No file for nothing: an empty sheet in the exports folder says less than this.
            let nothing = match &keys {
                Some(k) => k.is_empty(),
                None => state.feed.total == 0 && !state.loading,
            };
            if nothing {
                state.toast_info(
                    "Nothing to export: no row passes the margin and filters (no file written)",
                );
                return;
            }
            let what = if marked { "marked row" } else { "row" };
            let query = state.query();
            let meta = serde_json::json!({
                "min_margin": state.min_margin,
                "basis": format!("{:?}", state.basis).to_lowercase(),
                "buy": state.buy, "sell": state.sell,
                "text_filter": state.filter_text,
                "marked_only": marked,
            });
            let sort = format!(
                "{} {}",
                state.sort.id(),
                if state.descending { "desc" } else { "asc" }
            );
            let store = deps.store.clone();
            let explainer = deps.explainer.clone();
            let dir = deps.data_dir.join("exports");
            let tx = tx.clone();
            tokio::spawn(async move {
                let rows = Rows {
                    store,
                    explainer,
                    query,
                    keys,
                };
                let msg = match export(rows, format, meta, &sort, &dir).await {
                    Ok((path, 0)) => Msg::Toast(
                        format!(
                            "Exported 0 rows to {}: nothing passes the margin and filters",
                            path.display()
                        ),
                        true,
                    ),
                    Ok((path, n)) if hidden > 0 => Msg::Exported(
                        format!(
                            "Exported {} to {} ({hidden} hidden by the filters left out)",
                            crate::domain::text::count(n as u64, what),
                            path.display()
                        ),
                        path.display().to_string(),
                    ),
                    Ok((path, n)) => Msg::Exported(
                        format!(
                            "Exported {} to {}",
                            crate::domain::text::count(n as u64, what),
                            path.display()
                        ),
                        path.display().to_string(),
                    ),
                    Err(e) => Msg::Toast(format!("Export failed: {e:#}"), true),
                };
                let _ = tx.send(msg).await;
            });
        }
        Effect::Refresh(asins) => super::refresh::refresh(state, deps, asins),
        Effect::RefreshAll => super::refresh::refresh_all(state, deps),
        Effect::Discover => super::refresh::discover(state, deps),
        Effect::SetRefresh(secs) => super::refresh::set_interval(state, deps, secs),
        Effect::WatchAdd(asins) => {
            let (store, tx) = (deps.store.clone(), tx.clone());
            tokio::spawn(super::watched::add(
                store,
                asins,
                state.session.markets.clone(),
                tx,
            ));
        }
        Effect::WatchRemove(asins) => {
            tokio::spawn(super::watched::remove(
                deps.store.clone(),
                asins,
                tx.clone(),
            ));
        }
        Effect::Theme(name) => {
            let names = theme_names(&deps.settings.config_dir);
            let typed = name.is_some();
            let name = name.unwrap_or_else(|| {
                let i = names
                    .iter()
                    .position(|n| *n == state.theme)
                    .map_or(0, |i| i + 1);
                names[i % names.len()].clone()
            });
            // `auto` is what `--theme auto` picks for this terminal: `NO_COLOR`, its depth;
            // the next start picks again rather than keep this one.
            let chosen = (name != "auto").then(|| name.clone());
            let name = if name == "auto" {
                super::theme::choose(None, false, env, None).name
            } else {
                name
            };
            let (t, warnings, loaded) = load_theme(&name, &deps.settings.config_dir, env);
            let first = warnings.first().cloned();
            match (loaded, first) {
                // A name typed at `:` that does not load: the prompt stays open with the
                // reason, as for any other bad command.
                (false, w) if typed => state.command_failed(
                    format!("theme {name}"),
                    w.unwrap_or_else(|| format!("theme '{name}' could not be loaded")),
                ),
                (false, w) => state
                    .toast_error(w.unwrap_or_else(|| format!("Theme {name} could not be loaded"))),
                (true, w) => {
                    match w {
                        Some(w) => state.toast_error(format!("Theme {name}: {w}")),
                        None => state.toast_info(format!("Theme {name}")),
                    }
                    *theme = t;
                    state.theme = name;
                    state.chosen_theme = chosen;
                }
            }
        }
        Effect::LoadLogs => spawn_logs(deps.data_dir.clone(), tx.clone()),
        Effect::LoadWatchlist => {
            super::products::spawn_watchlist(deps.store.clone(), tx.clone());
        }
        Effect::SaveHistory(line) => {
            let path = deps.data_dir.join("history");
            let result = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = result {
                state.toast_error(format!(
                    "Could not save the command history to {}: {e}",
                    path.display()
                ));
            }
        }
    }
}

/// `ui-state.toml`: the sort and filters as command lines, and the theme chosen in the
/// console, restored at the next start.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SavedUi {
    commands: Vec<String>,
    /// Chosen with `T` or `:theme` (none: the settings and the terminal choose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) theme: Option<String>,
}

const UI_STATE: &str = "ui-state.toml";

/// What the last run saved (nothing if there is no file), and warnings about the file.
pub(crate) fn read_ui_state(data_dir: &Path) -> (SavedUi, Vec<String>) {
    let path = data_dir.join(UI_STATE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Default::default(),
        Err(e) => {
            return (
                SavedUi::default(),
                vec![format!("could not read {}: {e}", path.display())],
            );
        }
    };
    match toml::from_str::<SavedUi>(&text) {
        Ok(saved) => (saved, Vec::new()),
        Err(e) => (
            SavedUi::default(),
            vec![format!(
                "{} is not a saved console state ({e}); delete it to start afresh",
                path.display()
            )],
        ),
    }
}

/// Restores the sort and filters of `saved`; returns what was refused, as warnings.
pub(super) fn restore_ui_state(
    data_dir: &Path,
    saved: &SavedUi,
    state: &mut UiState,
) -> Vec<String> {
    let path = data_dir.join(UI_STATE);
    state
        .restore(&saved.commands)
        .into_iter()
        .map(|e| format!("{}: {e}; skipped", path.display()))
        .collect()
}

/// Saves the sort and filters for the next start; on failure, what to tell the operator
/// once the terminal is theirs again.
pub(super) fn save_ui_state(data_dir: &Path, state: &UiState) -> Option<String> {
    let path = data_dir.join(UI_STATE);
    let saved = SavedUi {
        commands: state.saved_commands(),
        theme: state.chosen_theme.clone(),
    };
    let text = toml::to_string(&saved).map(|t| {
        format!("# The console's sort, filters and theme, restored at start; delete to reset.\n{t}")
    });
    let result = text
        .map_err(std::io::Error::other)
        .and_then(|t| std::fs::write(&path, t));
    result.err().map(|e| {
        tracing::warn!(path = %path.display(), error = %e, "Could not save the console state.");
        format!(
            "arbdesk: could not save the console's sort and filters to {}: {e}; the next \
             start begins without them",
            path.display()
        )
    })
}

pub(super) fn load_history(data_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(data_dir.join("history")).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let skip = lines.len().saturating_sub(500);
    lines.into_iter().skip(skip).collect()
}

/// Loads `q` in the background; `previous` are the rows of the answer on screen when it
/// was asked the same query (empty otherwise) and when that answer came, to count the rows
/// that left it.
pub(super) fn spawn_query(
    store: Arc<dyn Store>,
    q: Query,
    previous: (Vec<OpportunityKey>, Option<chrono::DateTime<Utc>>),
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let feed = load_feed(store.as_ref(), q, &previous.0, previous.1).await;
        let _ = tx.send(Msg::Feed(Box::new(feed))).await;
    });
}

/// Opportunities read per store query: the full records (with their breakdowns) of one
/// chunk are turned into compact rows before the next is read, which bounds memory.
const CHUNK: usize = 2_000;

/// Runs a query and builds the rows. Rows of `previous` (the last answer to the same
/// query) missing from the new rows are looked up by key: those that still match only
/// moved out of the loaded page; the rest left (`Feed::left`, measured against the answer
/// that came at `previous_at`).
pub async fn load_feed(
    store: &dyn Store,
    q: Query,
    previous: &[OpportunityKey],
    previous_at: Option<chrono::DateTime<Utc>>,
) -> Feed {
    let failed = |q: Query, e: crate::store::StoreError| Feed {
        query: Some(q),
        error: Some(e.to_string()),
        at: Some(Utc::now()),
        ..Feed::default()
    };
    let stats = match store.stats().await {
        Ok(s) => s,
        Err(e) => return failed(q, e),
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut filter = q.filter();
    while rows.len() < q.limit {
        filter.limit = CHUNK.min(q.limit - rows.len());
        let page = match store.opportunities(filter.clone()).await {
            Ok(p) => p,
            Err(e) => return failed(q, e),
        };
        total = page.total;
        let n = page.items.len();
        // Rows may shift between chunks while the pipeline writes: keep each key once.
        rows.extend(
            page.items
                .iter()
                .filter(|o| seen.insert(o.key()))
                .map(Row::from_opportunity),
        );
        if n < filter.limit {
            break;
        }
        filter.offset += n;
    }
    // The best gross margin of every row the query matches, for its tile: the loaded rows
    // when they are all of them, else the store's first in gross margin order (the
    // store-wide best ignores the table's markets and minimum).
    let best_gross = if total <= rows.len() as u64 {
        rows.iter().map(|r| r.fig.gross_pct).reduce(f64::max)
    } else {
        let top = OpportunityFilter {
            sort: OpportunitySort::GrossMarginPct,
            descending: true,
            limit: 1,
            offset: 0,
            ..q.filter()
        };
        match store.opportunities(top).await {
            Ok(p) => p.items.first().map(|o| o.gross_margin_pct),
            Err(e) => return failed(q, e),
        }
    };
    // How many of them pass every gate: the rows that compete on expected monthly profit.
    let ranked = if total <= rows.len() as u64 {
        rows.iter().filter(|r| r.ranked).count() as u64
    } else {
        let count = OpportunityFilter {
            ranked: Some(true),
            offset: 0,
            limit: 0,
            ..q.filter()
        };
        match store.opportunities(count).await {
            Ok(p) => p.total,
            Err(e) => return failed(q, e),
        }
    };
    let missing: Vec<OpportunityKey> = previous
        .iter()
        .filter(|k| !seen.contains(*k))
        .copied()
        .collect();
    let mut still = 0;
    for keys in missing.chunks(MAX_FILTER_KEYS) {
        let f = OpportunityFilter {
            keys: keys.to_vec(),
            offset: 0,
            limit: 0,
            ..q.filter()
        };
        match store.opportunities(f).await {
            Ok(p) => still += usize::try_from(p.total).unwrap_or(usize::MAX),
            Err(e) => return failed(q, e),
        }
    }
    let mut feed = Feed {
        rows,
        total,
        stats,
        query: Some(q),
        error: None,
        at: Some(Utc::now()),
        left: (!previous.is_empty()).then(|| missing.len().saturating_sub(still)),
        left_of: previous_at,
        title_rank: Vec::new(),
        best_gross,
        ranked: Some(ranked),
    };
    feed.rank_titles();
    feed
}

/// Probes the store, then reads how current each market's data is (a failed read keeps
/// the last answer: the probe reports the store's trouble).
pub(super) fn spawn_store_health(
    store: Arc<dyn Store>,
    stale_before: chrono::DateTime<chrono::Utc>,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut h = match tokio::time::timeout(Duration::from_secs(2), store.health()).await {
            Ok(h) => h,
            Err(_) => ComponentHealth::down("store", crate::tui::state::STORE_PROBE_TIMEOUT),
        };
        if h.latency_ms.is_none() {
            h.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = tx.send(Msg::StoreHealth(h)).await;
        let read = tokio::time::timeout(Duration::from_secs(2), store.freshness(stale_before));
        if let Ok(Ok(f)) = read.await {
            let _ = tx.send(Msg::Freshness(f)).await;
        }
    });
}

/// The newest log file's last lines (at most 5,000).
pub fn read_log_tail(dir: &Path) -> Vec<String> {
    const TAIL_BYTES: u64 = 512 * 1024;
    let newest = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("arbdesk.log"))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
    });
    let Some(entry) = newest else {
        return Vec::new();
    };
    let Ok(mut file) = std::fs::File::open(entry.path()) else {
        return Vec::new();
    };
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text.lines().map(crate::domain::text::sanitize).collect();
    if len > TAIL_BYTES && !lines.is_empty() {
        lines.remove(0); // probably cut in the middle
    }
    let skip = lines.len().saturating_sub(5000);
    lines.drain(..skip);
    lines
}

pub(super) fn spawn_logs(data_dir: PathBuf, tx: mpsc::Sender<Msg>) {
    tokio::task::spawn_blocking(move || {
        let lines = read_log_tail(&data_dir.join("logs"));
        let _ = tx.blocking_send(Msg::Logs(lines));
    });
}

/// A copied text as a toast shows it: one short line whole; else its first line, cut,
/// and how many lines there are.
fn preview(text: &str) -> String {
    const SHOWN: usize = 60;
    let lines = text.lines().count();
    let first = text.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(SHOWN).collect();
    let cut = if cut.len() < first.len() {
        format!("{cut}…")
    } else {
        cut
    };
    if lines > 1 {
        format!("{cut} ({lines} lines)")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests;
