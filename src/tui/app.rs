//! The console's event loop and its effects: the only part of the console that does I/O.
//!
//! One `select!` over terminal events, the pipeline's status and generation channels,
//! answers of background queries, a 1 Hz tick and a 30 fps frame cap (frames are drawn only
//! when something changed). Store queries run on spawned tasks, one at a time per kind, and
//! come back as messages; the newest wish wins.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use super::action::Format;
use super::clipboard::{self, Mode, Mux, Outcome};
use super::keymap::Keymap;
use super::model::{Detail, Feed, Query, Row};
use super::state::{Effect, Session, UiState};
use super::theme::{self, TermEnv, Theme};
use crate::component::ComponentHealth;
use crate::domain::{Asin, OpportunityKey};
use crate::pipeline::{Command, Detect, PipelineStatus};
use crate::store::{OpportunityFilter, Store, WatchSource};

/// Everything the console needs from the running arbdesk.
pub struct ConsoleDeps {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Rebuilds the breakdown lines of the row in the detail pane.
    pub explainer: Option<Arc<dyn Detect>>,
    /// Pipeline status.
    pub status: watch::Receiver<PipelineStatus>,
    /// Bumped after every store write.
    pub generation: watch::Receiver<u64>,
    /// Refresh requests to the pipeline (none for `--role api`).
    pub commands: Option<mpsc::Sender<Command>>,
    /// Requests the API has answered.
    pub api_requests: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
    /// Session facts.
    pub session: Session,
    /// Console settings.
    pub settings: crate::config::ConsoleSettings,
    /// Data dir (logs, exports, history).
    pub data_dir: PathBuf,
}

/// The keymap: shipped preset plus `<config>/keymap.toml` when present.
pub fn load_keymap(settings: &crate::config::ConsoleSettings) -> Keymap {
    let path = settings.config_dir.join("keymap.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => Keymap::load(&settings.keymap, Some((&text, &path.display().to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Keymap::load(&settings.keymap, None),
        Err(e) => {
            let mut k = Keymap::load(&settings.keymap, None);
            k.warnings.push(format!(
                "{}: could not be read ({e}); using the defaults",
                path.display()
            ));
            k
        }
    }
}

/// A theme by name: shipped, or `<config>/themes/NAME.toml`. Warnings come back.
pub fn load_theme(name: &str, config_dir: &Path, env: &TermEnv) -> (Theme, Vec<String>) {
    let (theme, warnings) = if theme::BUILTIN.iter().any(|(n, _)| *n == name) {
        (Theme::builtin(name), Vec::new())
    } else {
        let path = config_dir.join("themes").join(format!("{name}.toml"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (t, w) = Theme::parse(&text, Some(&Theme::builtin("dark")));
                let w = w
                    .into_iter()
                    .map(|w| format!("{}: {w}", path.display()))
                    .collect();
                (t, w)
            }
            Err(e) => (
                Theme::builtin("dark"),
                vec![format!(
                    "theme '{name}': {} could not be read ({e}); using dark. Shipped themes: dark, light, mono, ansi16",
                    path.display()
                )],
            ),
        }
    };
    (theme.for_depth(env.depth()), warnings)
}

/// Theme names `theme next` cycles through: the shipped ones, then the user's.
fn theme_names(config_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = Theme::builtin_names().map(String::from).collect();
    if let Ok(entries) = std::fs::read_dir(config_dir.join("themes")) {
        let mut user: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(String::from))?
            })
            .filter(|n| !names.contains(n))
            .collect();
        user.sort();
        names.extend(user);
    }
    names
}

/// Whether OSC 8 links are written: `on`, `off`, or `auto` (off for dumb terminals, GNU
/// screen and tmux, which drop or mangle them unless configured).
pub fn hyperlinks_enabled(setting: &str, env: &TermEnv) -> bool {
    match setting {
        "on" => true,
        "off" => false,
        _ => {
            let term = env.term.as_deref().unwrap_or("");
            !(term == "dumb" || term.starts_with("screen") || env.tmux.is_some())
        }
    }
}

enum Msg {
    Feed(Box<Feed>),
    Detail(Box<Detail>),
    StoreHealth(ComponentHealth),
    Logs(Vec<String>),
    Toast(String, bool),
}

/// Restores the terminal on every exit path, panics included (the panic hook of
/// `ratatui::init` covers panics; this covers errors and normal returns).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
        ratatui::restore();
    }
}

/// Runs the console until the operator quits or a signal arrives.
pub async fn run(deps: ConsoleDeps) -> Result<()> {
    let env = TermEnv::from_env();
    let choice = theme::choose(deps.settings.theme.as_deref(), deps.settings.no_color, &env);
    let (mut theme, theme_warnings) = load_theme(&choice.name, &deps.settings.config_dir, &env);
    let keymap = load_keymap(&deps.settings);
    let clipboard_mode: Mode = deps.settings.clipboard.parse().unwrap_or_default();
    let mux = Mux::detect(env.tmux.as_deref(), env.term.as_deref());
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stdout()) && env.term.as_deref() != Some("dumb");

    let mut session = deps.session.clone();
    session.hyperlinks = hyperlinks_enabled(&deps.settings.hyperlinks, &env);
    let mut state = UiState::new(session, Utc::now());
    state.theme = theme.name.clone();
    state.history = load_history(&deps.data_dir);
    for w in keymap.warnings.iter().chain(theme_warnings.iter()) {
        tracing::warn!("{w}");
    }
    let problems = keymap.warnings.len() + theme_warnings.len();
    if problems > 0 {
        state.toast(
            format!("{problems} keymap/theme warning(s): see `arbdesk info` or the log (g l)"),
            true,
        );
    }

    let mut terminal = ratatui::try_init().context("Could not set up the terminal")?;
    let _guard = TerminalGuard;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let size = terminal.size().unwrap_or_default();
    state.on_resize(size.width, size.height);

    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    let mut status = deps.status.clone();
    let mut generation = deps.generation.clone();
    state.on_status(status.borrow_and_update().clone());
    generation.borrow_and_update();

    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut frame = tokio::time::interval(Duration::from_millis(33));
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut signals = Signals::new();

    let mut query_in_flight = false;
    let mut data_changed = false;
    let mut last_query = Instant::now() - Duration::from_secs(10);
    let mut detail_in_flight: Option<OpportunityKey> = None;
    let mut ticks: u64 = 0;
    let mut effects: Vec<Effect> = vec![Effect::Query(state.query())];

    loop {
        for effect in effects.drain(..) {
            match effect {
                Effect::Query(_) => data_changed = true,
                other => run_effect(
                    other,
                    &mut state,
                    &deps,
                    &tx,
                    &mut theme,
                    &env,
                    ClipboardCtx {
                        mode: clipboard_mode,
                        mux,
                        interactive,
                        ssh: env.ssh.is_some(),
                    },
                ),
            }
        }
        if data_changed && !query_in_flight && last_query.elapsed() >= Duration::from_millis(400) {
            data_changed = false;
            query_in_flight = true;
            last_query = Instant::now();
            spawn_query(deps.store.clone(), state.query(), tx.clone());
        }
        if detail_in_flight.is_none()
            && let Some(key) = state.wanted_detail()
        {
            detail_in_flight = Some(key);
            spawn_detail(deps.store.clone(), deps.explainer.clone(), key, tx.clone());
        }
        if state.quit {
            break;
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => {
                    effects = state.on_key(&k, &keymap);
                }
                Some(Ok(Event::Resize(w, h))) => state.on_resize(w, h),
                Some(Ok(Event::Paste(text))) => effects = state.on_paste(&text),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::error!(error = %e, "Reading the terminal failed; leaving the console.");
                    break;
                }
                None => break,
            },
            Ok(()) = status.changed() => state.on_status(status.borrow_and_update().clone()),
            Ok(()) = generation.changed() => {
                generation.borrow_and_update();
                data_changed = true;
            }
            Some(msg) = rx.recv() => match msg {
                Msg::Feed(feed) => {
                    query_in_flight = false;
                    state.on_feed(*feed);
                }
                Msg::Detail(d) => {
                    detail_in_flight = None;
                    state.on_detail(*d);
                }
                Msg::StoreHealth(h) => {
                    state.store_health = Some(h);
                    state.dirty = true;
                }
                Msg::Logs(lines) => {
                    state.logs = lines;
                    state.dirty = true;
                }
                Msg::Toast(text, error) => state.toast(text, error),
            },
            _ = tick.tick() => {
                ticks += 1;
                state.on_tick(Utc::now());
                if let Some(f) = &deps.api_requests {
                    state.api_requests = f();
                }
                if ticks % 5 == 1 {
                    spawn_store_health(deps.store.clone(), tx.clone());
                }
                if state.view_kind == super::action::View::Logs && ticks.is_multiple_of(2) {
                    spawn_logs(deps.data_dir.clone(), tx.clone());
                }
            }
            _ = frame.tick(), if state.dirty => {
                terminal
                    .draw(|f| super::ui::render(f, &state, &theme, &keymap))
                    .context("Drawing the console failed")?;
                state.dirty = false;
            }
            _ = signals.recv() => {
                tracing::info!("Signal received; leaving the console.");
                break;
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct ClipboardCtx {
    mode: Mode,
    mux: Mux,
    interactive: bool,
    ssh: bool,
}

fn run_effect(
    effect: Effect,
    state: &mut UiState,
    deps: &ConsoleDeps,
    tx: &mpsc::Sender<Msg>,
    theme: &mut Theme,
    env: &TermEnv,
    clip: ClipboardCtx,
) {
    match effect {
        Effect::Query(_) => {}
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
                Outcome::SentOsc52 => state.toast(format!("{what} sent via OSC 52: {text}"), false),
                Outcome::Native(tool) => {
                    state.toast(format!("{what} copied ({tool}): {text}"), false)
                }
                Outcome::Failed(why) => {
                    state.toast(format!("Could not copy the {what}: {why}"), true)
                }
            }
        }
        Effect::Export(format) => {
            let keys: Vec<OpportunityKey> = state
                .view
                .iter()
                .filter_map(|&i| state.feed.rows.get(i as usize).map(|r| r.key))
                .collect();
            let query = state.query();
            let meta = serde_json::json!({
                "min_margin": state.min_margin,
                "basis": format!("{:?}", state.basis).to_lowercase(),
                "buy": state.buy, "sell": state.sell,
                "text_filter": state.filter_text,
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
                    Ok((path, n)) => {
                        Msg::Toast(format!("Exported {n} rows to {}", path.display()), false)
                    }
                    Err(e) => Msg::Toast(format!("Export failed: {e:#}"), true),
                };
                let _ = tx.send(msg).await;
            });
        }
        Effect::Refresh(asins) => match &deps.commands {
            Some(c) => {
                let n = asins.len();
                let markets = state.session.markets.len();
                match c.try_send(Command::Refresh(asins)) {
                    Ok(()) => state.toast(
                        format!(
                            "Refresh queued for {n} ASIN(s): about {} Keepa tokens",
                            n * markets
                        ),
                        false,
                    ),
                    Err(e) => state.toast(format!("Could not queue the refresh: {e}"), true),
                }
            }
            None => state.toast(
                "This process does not ingest (--role); nothing to refresh",
                true,
            ),
        },
        Effect::WatchAdd(asins) => {
            let store = deps.store.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let names = join(&asins);
                let msg = match store.watch_add(asins, WatchSource::User).await {
                    Ok(n) => Msg::Toast(format!("Watching {names} ({n} new)"), false),
                    Err(e) => Msg::Toast(format!("Could not add {names}: {e}"), true),
                };
                let _ = tx.send(msg).await;
            });
        }
        Effect::WatchRemove(asins) => {
            let store = deps.store.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let names = join(&asins);
                let msg = match store.watch_remove(asins).await {
                    Ok(n) => Msg::Toast(format!("Removed {n} from the watchlist: {names}"), false),
                    Err(e) => Msg::Toast(format!("Could not remove {names}: {e}"), true),
                };
                let _ = tx.send(msg).await;
            });
        }
        Effect::Theme(name) => {
            let names = theme_names(&deps.settings.config_dir);
            let name = name.unwrap_or_else(|| {
                let i = names
                    .iter()
                    .position(|n| *n == state.theme)
                    .map_or(0, |i| i + 1);
                names[i % names.len()].clone()
            });
            let (t, warnings) = load_theme(&name, &deps.settings.config_dir, env);
            match warnings.first() {
                Some(w) if t.name != name => state.toast(w.clone(), true),
                Some(w) => {
                    state.toast(format!("Theme {name}: {w}"), true);
                    *theme = t;
                    state.theme = name;
                }
                None => {
                    *theme = t;
                    state.toast(format!("Theme {name}"), false);
                    state.theme = name;
                }
            }
        }
        Effect::LoadLogs => spawn_logs(deps.data_dir.clone(), tx.clone()),
        Effect::SaveHistory(line) => {
            let path = deps.data_dir.join("history");
            let result = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = result {
                tracing::warn!(path = %path.display(), error = %e, "Could not save the command history.");
            }
        }
    }
}

fn join(asins: &[Asin]) -> String {
    asins
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn load_history(data_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(data_dir.join("history")).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let skip = lines.len().saturating_sub(500);
    lines.into_iter().skip(skip).collect()
}

fn spawn_query(store: Arc<dyn Store>, q: Query, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let feed = load_feed(store.as_ref(), q).await;
        let _ = tx.send(Msg::Feed(Box::new(feed))).await;
    });
}

/// Opportunities read per store query: the full records (with their breakdowns) of one
/// chunk are turned into compact rows before the next is read, which bounds memory.
const CHUNK: usize = 2_000;

/// Runs a query and builds the rows.
pub async fn load_feed(store: &dyn Store, q: Query) -> Feed {
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
    let mut feed = Feed {
        rows,
        total,
        stats,
        query: Some(q),
        error: None,
        at: Some(Utc::now()),
        title_rank: Vec::new(),
    };
    feed.rank_titles();
    feed
}

fn spawn_detail(
    store: Arc<dyn Store>,
    explainer: Option<Arc<dyn Detect>>,
    key: OpportunityKey,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let d = load_detail(store.as_ref(), explainer.as_deref(), key).await;
        let _ = tx.send(Msg::Detail(Box::new(d))).await;
    });
}

/// Loads the product, history and opportunity behind a row, the opportunity explained
/// (with its breakdown lines) from that product.
pub async fn load_detail(
    store: &dyn Store,
    explainer: Option<&dyn Detect>,
    key: OpportunityKey,
) -> Detail {
    let filter = OpportunityFilter {
        text: Some(key.asin.to_string()),
        buy: vec![key.buy],
        sell: vec![key.sell],
        limit: 5,
        ..OpportunityFilter::default()
    };
    let (product, history, opps) = tokio::join!(
        store.product(key.asin),
        store.history(key.asin),
        store.opportunities(filter)
    );
    let mut error = None;
    let mut note = |e: &dyn std::fmt::Display| {
        error.get_or_insert_with(|| e.to_string());
    };
    let product = product.unwrap_or_else(|e| {
        note(&e);
        None
    });
    let history = history.unwrap_or_else(|e| {
        note(&e);
        Vec::new()
    });
    let opportunity = match opps {
        Ok(p) => p.items.into_iter().find(|o| o.key() == key),
        Err(e) => {
            note(&e);
            None
        }
    };
    let opportunity = match (opportunity, &product, explainer) {
        (Some(o), Some(p), Some(x)) => Some(x.explain(p, &o).unwrap_or(o)),
        (o, _, _) => o,
    };
    Detail {
        key,
        product,
        history,
        opportunity,
        error,
    }
}

fn spawn_store_health(store: Arc<dyn Store>, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut h = match tokio::time::timeout(Duration::from_secs(2), store.health()).await {
            Ok(h) => h,
            Err(_) => ComponentHealth::down("store", "no answer to its health probe within 2 s"),
        };
        if h.latency_ms.is_none() {
            h.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = tx.send(Msg::StoreHealth(h)).await;
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

fn spawn_logs(data_dir: PathBuf, tx: mpsc::Sender<Msg>) {
    tokio::task::spawn_blocking(move || {
        let lines = read_log_tail(&data_dir.join("logs"));
        let _ = tx.blocking_send(Msg::Logs(lines));
    });
}

/// The rows an export writes: those of `keys`, in that order, read with `query`.
struct Rows {
    store: Arc<dyn Store>,
    explainer: Option<Arc<dyn Detect>>,
    query: Query,
    keys: Vec<OpportunityKey>,
}

async fn export(
    Rows {
        store,
        explainer,
        query,
        keys,
    }: Rows,
    format: Format,
    filter_meta: serde_json::Value,
    sort: &str,
    dir: &Path,
) -> Result<(PathBuf, usize)> {
    let mut filter = query.filter();
    filter.limit = filter.limit.max(keys.len());
    let page = store
        .opportunities(filter)
        .await
        .context("reading the opportunities failed")?;
    let mut by_key: std::collections::HashMap<OpportunityKey, crate::domain::Opportunity> =
        page.items.into_iter().map(|o| (o.key(), o)).collect();
    let mut items: Vec<crate::domain::Opportunity> =
        keys.iter().filter_map(|k| by_key.remove(k)).collect();
    if let (Format::Json, Some(x)) = (format, &explainer) {
        items = crate::pipeline::explain_all(store.as_ref(), x.as_ref(), items)
            .await
            .context("reading the products to explain the rows failed")?;
    }
    let (ext, text) = match format {
        Format::Csv => ("csv", crate::commands::export::render_csv(&items)),
        Format::Json => (
            "json",
            crate::commands::export::render_json(&items, filter_meta, sort, items.len() as u64)?,
        ),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "arbdesk-opportunities-{}.{ext}",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok((path, items.len()))
}

/// SIGTERM and SIGHUP (the SSH session went away) end the console like `q`.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let hup = async {
                match &mut self.hup {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {}
                _ = hup => {}
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
