//! Console speed: a full 200×60 frame with 10k and 100k opportunities loaded, and a key
//! press to its frame (move, re-sort of 100k rows, a typed filter), drawn into ratatui's
//! `TestBackend` (the terminal's own write time is not included).
#![allow(clippy::unwrap_used)]

use arbdesk::tui::fixtures;
use arbdesk::tui::keymap::Keymap;
use arbdesk::tui::state::UiState;
use arbdesk::tui::theme::Theme;
use arbdesk::tui::ui;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn frame(c: &mut Criterion) {
    let theme = Theme::builtin("dark");
    let keymap = Keymap::load("default", None);
    let mut g = c.benchmark_group("render_200x60");
    for n in [10_000usize, 100_000] {
        let s = fixtures::loaded(n, (200, 60));
        let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
        g.bench_function(format!("{n}_rows"), |b| {
            b.iter(|| {
                term.draw(|f| ui::render(f, &s, &theme, &keymap)).unwrap();
            })
        });
    }
    g.finish();
}

fn key_to_frame(c: &mut Criterion) {
    let theme = Theme::builtin("dark");
    let keymap = Keymap::load("default", None);
    let base = fixtures::loaded(100_000, (200, 60));
    let mut g = c.benchmark_group("key_to_frame_100k");
    g.sample_size(20);
    // `before` is typed during setup; only `typed` and the frame after it are measured.
    let mut run = |name: &str, before: &'static str, typed: &'static str| {
        let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    let mut s = clone_state(&base);
                    for c in before.chars() {
                        s.on_key(&KeyEvent::from(KeyCode::Char(c)), &keymap);
                    }
                    s
                },
                |s| {
                    for c in typed.chars() {
                        let code = if c == '\r' {
                            KeyCode::Enter
                        } else {
                            KeyCode::Char(c)
                        };
                        s.on_key(&KeyEvent::from(code), &keymap);
                    }
                    term.draw(|f| ui::render(f, s, &theme, &keymap)).unwrap();
                },
                BatchSize::LargeInput,
            )
        });
    };
    run("move_down", "", "j");
    run("sort_roi", "", "R");
    run("sort_title", ":sort title", "\r");
    run("filter_keystroke", "/src=u", "k");
    g.finish();
}

/// A fresh copy of the loaded state (the reducer mutates it).
fn clone_state(s: &UiState) -> UiState {
    let mut c = fixtures::loaded(0, s.size);
    c.on_feed((*s.feed).clone());
    c
}

criterion_group!(benches, frame, key_to_frame);
criterion_main!(benches);
