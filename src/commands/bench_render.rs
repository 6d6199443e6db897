//! `arbdesk bench-render`: how long the console takes to draw a frame on this terminal's
//! size, with the theme and keymap in use, over generated rows — the operator's own
//! number next to the README's. Frames are drawn into memory (ratatui's `TestBackend`),
//! so the terminal's own write time is not included.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::cli::BenchRenderArgs;
use crate::config::Settings;
use crate::tui::app::{load_keymap, load_theme, saved_theme};
use crate::tui::fixtures;
use crate::tui::theme::{self, TermEnv};

/// Runs `arbdesk bench-render`.
pub fn bench_render(settings: &Settings, args: &BenchRenderArgs) -> Result<()> {
    // The terminal this runs in; output to a pipe or a file gets the README's 200×60.
    let size = std::io::stdout()
        .is_terminal()
        .then(crossterm::terminal::size)
        .and_then(Result::ok)
        .filter(|(w, h)| *w > 0 && *h > 0)
        .unwrap_or((200, 60));
    let env = TermEnv::from_env();
    let c = &settings.console;
    let saved = saved_theme(&settings.data_dir);
    let choice = theme::choose(c.theme.as_deref(), c.no_color, &env, saved.as_deref());
    let (theme, _, _) = load_theme(&choice.name, &c.config_dir, &env);
    let keymap = load_keymap(c);
    let rows = args.rows as usize;
    let built = Instant::now();
    let mut state = fixtures::loaded(rows, size);
    let load_ms = built.elapsed().as_secs_f64() * 1000.0;
    let mut term = Terminal::new(TestBackend::new(size.0, size.1)).context("test backend")?;
    let j = KeyEvent::from(KeyCode::Char('j'));
    let mut ms = Vec::with_capacity(args.frames as usize);
    for _ in 0..args.frames {
        let started = Instant::now();
        state.on_key(&j, &keymap);
        term.draw(|f| crate::tui::ui::render(f, &state, &theme, &keymap))
            .context("drawing a frame")?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    outln!(
        "{}×{}, {rows} rows, theme {}: key to frame median {:.2} ms, p99 {:.2} ms, slowest \
         {:.2} ms over {} frames (rows built and sorted in {load_ms:.0} ms)",
        size.0,
        size.1,
        theme.name,
        at(0.5),
        at(0.99),
        at(1.0),
        ms.len()
    );
    Ok(())
}
