//! The console's event loop and its effects: the only part of the console that does I/O.
//!
//! One `select!` over terminal events, the pipeline's status and generation channels,
//! answers of background queries, a 1 Hz tick and a 30 fps frame cap (frames are drawn only
//! when something changed). Store queries run on spawned tasks, one at a time per kind, and
//! come back as messages; the newest wish wins.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

mod detail;
mod effects;
mod export;
mod links;
mod products;
mod refresh;
pub mod watched;

use super::clipboard::{self, Mode, Mux, Outcome};
use super::keymap::Keymap;
use super::model::{Detail, Feed, Query, Row};
use super::state::{Effect, Session, UiState};
use super::theme::{self, TermEnv, Theme};
use crate::component::ComponentHealth;
use crate::domain::OpportunityKey;
use crate::pipeline::{Detect, PipelineStatus};
use crate::store::{OpportunityFilter, Store};
use detail::{spawn_detail, spawn_product_detail};
use effects::{
    ClipboardCtx, load_history, read_ui_state, restore_ui_state, run_effect, save_ui_state,
    spawn_logs, spawn_query, spawn_store_health,
};
pub use effects::{load_feed, read_log_tail};
use export::{Rows, export};
pub use links::{hyperlinks_enabled, tmux_passes_links, tmux_passes_links_by};
pub use products::load_products;

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
    pub commands: Option<crate::pipeline::Commands>,
    /// Requests the API has answered.
    pub api_activity: Option<Arc<dyn Fn() -> crate::api::ApiActivity + Send + Sync>>,
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

/// Whether `name` names a theme: `auto`, a shipped one, or a file in `<config>/themes`;
/// otherwise what exists, for an error that names the setting.
pub fn check_theme(name: &str, config_dir: &Path) -> Result<(), String> {
    let file = config_dir.join("themes").join(format!("{name}.toml"));
    if name == "auto" || theme::BUILTIN.iter().any(|(n, _)| *n == name) || file.is_file() {
        return Ok(());
    }
    Err(format!(
        "invalid console.theme = '{name}': expected auto, a shipped theme ({}) or a theme file \
         (there is no {})",
        Theme::builtin_names().collect::<Vec<_>>().join(", "),
        file.display()
    ))
}

/// A theme by name: shipped, or `<config>/themes/NAME.toml`, with warnings and whether it
/// loaded (a file that is missing or not TOML gives `dark` and `false`; a file with bad
/// entries loads, with a warning for each).
pub fn load_theme(name: &str, config_dir: &Path, env: &TermEnv) -> (Theme, Vec<String>, bool) {
    let (theme, warnings, loaded) = if theme::BUILTIN.iter().any(|(n, _)| *n == name) {
        (Theme::builtin(name), Vec::new(), true)
    } else {
        let path = config_dir.join("themes").join(format!("{name}.toml"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let loaded = toml::from_str::<toml::Table>(&text).is_ok();
                let (mut t, w) = Theme::parse(&text, Some(&Theme::builtin("dark")));
                if loaded {
                    // Known by the name it was asked for, whatever `name` the file says.
                    t.name = name.to_string();
                }
                let w = w
                    .into_iter()
                    .map(|w| format!("{}: {w}", path.display()))
                    .collect();
                (t, w, loaded)
            }
            Err(e) => (
                Theme::builtin("dark"),
                vec![format!(
                    "theme '{name}': {} could not be read ({e}). Shipped themes: {}",
                    path.display(),
                    Theme::builtin_names().collect::<Vec<_>>().join(", ")
                )],
                false,
            ),
        }
    };
    (theme.for_depth(env.depth()), warnings, loaded)
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

enum Msg {
    Feed(Box<Feed>),
    Detail(Box<Detail>),
    StoreHealth(ComponentHealth),
    Freshness(Vec<crate::store::MarketFreshness>),
    Logs(Vec<String>),
    Products(Box<crate::tui::state::ProductsPage>),
    ProductDetail(Box<crate::tui::model::ProductDetail>),
    /// The watchlist, and when its read started.
    Watchlist(Vec<crate::store::WatchEntry>, chrono::DateTime<Utc>),
    /// This console changed the watchlist.
    WatchChanged,
    Toast(String, bool),
    /// An export's toast and its path, which `y` then copies.
    Exported(String, String),
}

/// Restores the terminal on every exit path, panics included (the panic hook of
/// `ratatui::init` covers panics; this covers errors and normal returns).
struct TerminalGuard {
    mouse: bool,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        input_modes(false, self.mouse);
        ratatui::restore();
    }
}

/// Turns on (or off again) what the console asks of the terminal beyond raw mode:
/// bracketed paste, and the mouse when `mouse = true`.
fn input_modes(on: bool, mouse: bool) {
    use crossterm::event::{
        DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    };
    let mut out = std::io::stdout();
    let _ = match (on, mouse) {
        (true, true) => crossterm::execute!(out, EnableBracketedPaste, EnableMouseCapture),
        (true, false) => crossterm::execute!(out, EnableBracketedPaste),
        (false, true) => crossterm::execute!(out, DisableBracketedPaste, DisableMouseCapture),
        (false, false) => crossterm::execute!(out, DisableBracketedPaste),
    };
}

/// Gives the terminal back to the shell and stops the process group, as Ctrl-Z does to any
/// program (in raw mode the key arrives here, not as a signal): the whole group, so a
/// script that started the console stops with it and its shell sees the job stopped. Once
/// the shell's `fg` continues it, the console takes the terminal again (to be repainted).
fn suspend(terminal: &mut ratatui::DefaultTerminal, mouse: bool) -> Result<()> {
    let _ = terminal.show_cursor();
    input_modes(false, mouse);
    ratatui::restore();
    #[cfg(unix)]
    if let Err(e) = rustix::process::kill_current_process_group(rustix::process::Signal::TSTP) {
        tracing::warn!(error = %e, "Could not suspend.");
    }
    retake(mouse)
}

/// Takes the terminal again after the process was stopped and continued, by its own Ctrl-Z
/// or by something else (`kill -STOP`, a debugger): the shell may have set its own modes
/// and drawn its prompt meanwhile.
fn retake(mouse: bool) -> Result<()> {
    // Raw mode as set now, not as remembered: the shell's own modes (line editing, echo)
    // may be back, and enabling alone does nothing once enabled.
    let _ = crossterm::terminal::disable_raw_mode();
    crossterm::terminal::enable_raw_mode().context("Could not take the terminal back")?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)
        .context("Could not take the terminal back")?;
    input_modes(true, mouse);
    Ok(())
}

/// Paints the whole screen afresh on the next frame: cleared, and nothing taken as already
/// on it. The size is read again, as a resize while stopped sends no event.
fn repaint(terminal: &mut ratatui::DefaultTerminal, state: &mut UiState) -> Result<()> {
    let size = terminal
        .size()
        .context("Reading the terminal's size failed")?;
    state.on_resize(size.width, size.height);
    // `resize` clears the screen and forgets the last frame, without `Terminal::clear`'s
    // question for the cursor position, which a terminal that does not answer within 2 s
    // (a slow link) would make an error.
    terminal
        .resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
        .context("Clearing the screen failed")?;
    state.dirty = true;
    Ok(())
}

/// The theme last chosen in the console (`T`, `:theme`) with `data_dir`, if one was saved.
pub fn saved_theme(data_dir: &Path) -> Option<String> {
    read_ui_state(data_dir).0.theme
}

/// Runs the console until the operator quits or a signal arrives; returns what to tell the
/// operator once the terminal is restored (a state that could not be saved).
pub async fn run(deps: ConsoleDeps) -> Result<Vec<String>> {
    let mut env = TermEnv::from_env();
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stdout()) && env.term.as_deref() != Some("dumb");
    if interactive
        && theme::asks_background(deps.settings.theme.as_deref(), deps.settings.no_color, &env)
    {
        env.background = theme::background::ask();
    }
    let (saved, mut ui_warnings) = read_ui_state(&deps.data_dir);
    let choice = theme::choose(
        deps.settings.theme.as_deref(),
        deps.settings.no_color,
        &env,
        saved.theme.as_deref(),
    );
    let (mut theme, mut theme_warnings, loaded) =
        load_theme(&choice.name, &deps.settings.config_dir, &env);
    if !loaded {
        theme_warnings.push(format!("using the {} theme instead", theme.name));
    }
    let keymap = load_keymap(&deps.settings);
    let clipboard_mode: Mode = deps.settings.clipboard.parse().unwrap_or_default();
    let mux = Mux::detect(env.tmux.as_deref(), env.term.as_deref()).probe();
    if let Some(why) = mux.blocked_reason() {
        tracing::warn!("Clipboard: {why}.");
    }

    let mut session = deps.session.clone();
    session.hyperlinks = hyperlinks_enabled(&deps.settings.hyperlinks, &env, tmux_passes_links);
    let mut state = UiState::new(session, Utc::now());
    state.log_recorded = recorded_level(tracing::level_filters::LevelFilter::current());
    state.theme = theme.name.clone();
    // Kept while the settings choose another (the file says what the console chose last),
    // dropped when it no longer loads.
    state.chosen_theme = saved.theme.clone().filter(|t| loaded || *t != choice.name);
    state.history = load_history(&deps.data_dir);
    ui_warnings.extend(restore_ui_state(&deps.data_dir, &saved, &mut state));
    for w in keymap
        .warnings
        .iter()
        .chain(theme_warnings.iter())
        .chain(ui_warnings.iter())
    {
        tracing::warn!("{w}");
    }
    // Said once at start, over what it garbles: the cure is outside the console.
    if let Some(w) = env.locale_warning() {
        tracing::warn!("{w}");
        state.toast_error(format!("The {}.", w.trim_start_matches("the ")));
    }
    // The first warning said whole (one is the usual case), with where the rest are.
    let mut warnings = keymap
        .warnings
        .iter()
        .chain(theme_warnings.iter())
        .chain(ui_warnings.iter());
    if let Some(first) = warnings.next() {
        let more = warnings.count();
        state.toast_error(if more == 0 {
            format!("{first} (`arbdesk info` lists the keymap's and theme's warnings)")
        } else {
            format!("{first}; and {more} more warning(s): see `arbdesk info` or the log (g l)")
        });
    }

    let mut terminal = ratatui::try_init().context("Could not set up the terminal")?;
    let mouse = deps.settings.mouse;
    let _guard = TerminalGuard { mouse };
    input_modes(true, mouse);
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
    let mut products_in_flight = false;
    let mut product_detail_in_flight = false;
    let mut products_data_changed = false;
    let mut ticks: u64 = 0;
    let mut effects: Vec<Effect> = vec![Effect::Query(state.query())];

    loop {
        for effect in effects.drain(..) {
            match effect {
                Effect::Query(_) => data_changed = true,
                Effect::Suspend if !super::job::stops_on_suspend() => {
                    state.toast_info(
                        "Not suspended: no job-control shell started this console (as when \
                         `tmux new-session arbdesk` or a container runs it), so nothing could \
                         resume it; q quits",
                    );
                }
                Effect::Suspend => {
                    suspend(&mut terminal, mouse)?;
                    repaint(&mut terminal, &mut state)?;
                }
                Effect::Redraw => repaint(&mut terminal, &mut state)?,
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
            let q = state.query();
            let previous = state.answer_to(&q);
            spawn_query(deps.store.clone(), q, previous, tx.clone());
        }
        if detail_in_flight.is_none()
            && let Some(key) = state.wanted_detail()
        {
            detail_in_flight = Some(key);
            spawn_detail(deps.store.clone(), deps.explainer.clone(), key, tx.clone());
        }
        if !products_in_flight && let Some(q) = state.wanted_products() {
            products_in_flight = true;
            products::spawn_products(deps.store.clone(), q, tx.clone());
        }
        if !product_detail_in_flight && let Some(wanted) = state.wanted_product_detail() {
            product_detail_in_flight = true;
            spawn_product_detail(deps.store.clone(), wanted, tx.clone());
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
                Some(Ok(Event::Mouse(m))) if mouse => effects = state.on_mouse(&m),
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
                products_data_changed = true;
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
                Msg::StoreHealth(h) => state.on_store_health(h),
                Msg::Freshness(f) => {
                    state.freshness = f;
                    state.dirty = true;
                }
                Msg::Logs(lines) => state.on_logs(lines),
                Msg::Products(page) => {
                    products_in_flight = false;
                    state.on_products(*page);
                }
                Msg::ProductDetail(d) => {
                    product_detail_in_flight = false;
                    state.on_product_detail(*d);
                }
                Msg::Watchlist(entries, at) => state.on_watchlist(&entries, at),
                // Read again in every view: `d` on a row of a product just removed says
                // so instead of asking. The store's totals count the watchlist too (the
                // health view's refresh cost): read with the rows.
                Msg::WatchChanged => {
                    products::spawn_watchlist(deps.store.clone(), tx.clone());
                    data_changed = true;
                }
                Msg::Toast(text, error) => state.toast(text, error),
                Msg::Exported(text, path) => state.toast_exported(text, path),
            },
            _ = tick.tick() => {
                ticks += 1;
                state.on_tick(Utc::now());
                if let Some(f) = &deps.api_activity {
                    state.api.observe(f(), Utc::now());
                }
                if ticks % 5 == 1 {
                    let stale_before = Utc::now()
                        - chrono::Duration::hours(state.session.stale_after_hours);
                    spawn_store_health(deps.store.clone(), stale_before, tx.clone());
                }
                if state.view_kind == super::action::View::Logs && ticks.is_multiple_of(2) {
                    spawn_logs(deps.data_dir.clone(), tx.clone());
                }
                products::on_tick(&mut state, &deps, &tx, ticks, &mut products_data_changed);
            }
            _ = frame.tick(), if state.dirty => {
                let started = Instant::now();
                terminal
                    .draw(|f| super::ui::render(f, &state, &theme, &keymap))
                    .context("Drawing the console failed")?;
                // Shown from the next frame on; recording it is no reason to draw again.
                state.frames.record(started.elapsed());
                state.dirty = false;
            }
            signalled = signals.recv() => match signalled {
                Signalled::Leave => {
                    tracing::info!("Signal received; leaving the console.");
                    break;
                }
                Signalled::Continued => {
                    retake(mouse)?;
                    repaint(&mut terminal, &mut state)?;
                }
            },
        }
    }
    Ok(save_ui_state(&deps.data_dir, &state).into_iter().collect())
}

/// SIGTERM and SIGHUP (the SSH session went away) end the console like `q`; SIGCONT (the
/// process continued after a stop) has it take the terminal again and repaint.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    cont: Option<tokio::signal::unix::Signal>,
}

/// What a signal asks of the console.
enum Signalled {
    Leave,
    Continued,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
                cont: signal(SignalKind::from_raw(rustix::process::Signal::CONT.as_raw())).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn recv(&mut self) -> Signalled {
        #[cfg(unix)]
        {
            /// The next of `signal`, or never when it could not be listened for.
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.term) => Signalled::Leave,
                _ = next(&mut self.hup) => Signalled::Leave,
                _ = next(&mut self.cont) => Signalled::Continued,
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<Signalled>().await
    }
}

/// The index into `LOG_LEVELS` of the most detailed level `max` lets through (`OFF`
/// records nothing, shown as error).
fn recorded_level(max: tracing::level_filters::LevelFilter) -> usize {
    max.into_level().map_or(0, |l| match l {
        tracing::Level::ERROR => 0,
        tracing::Level::WARN => 1,
        tracing::Level::INFO => 2,
        tracing::Level::DEBUG => 3,
        tracing::Level::TRACE => 4,
    })
}
