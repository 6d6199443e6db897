//! The operator console: a full-screen terminal UI over the live pipeline.
//!
//! The pieces, from the outside in:
//! - `app` owns the terminal and runs the one event loop (keys, ticks, pipeline status,
//!   store answers) and the effects (queries, clipboard, export, watchlist);
//! - `state` is the reducer: `UiState::apply(Action) -> Vec<Effect>`, no I/O;
//! - `ui` renders a frame as a pure function of the state, the theme and the keymap;
//! - `action`, `keymap` and `theme` are the vocabulary and the user's files;
//! - `model` holds rows formatted once per refresh; `clipboard` copies (OSC 52 or the
//!   platform's tool); `job` is the console as a shell's job (may Ctrl-Z stop it);
//!   `fixtures` are the sample rows of tests and benchmarks.
//!
//! The `/` grammar is `crate::filter`, shared with the API's `q`.

pub mod action;
pub mod app;
pub mod clipboard;
pub mod fixtures;
pub mod job;
pub mod keymap;
pub mod model;
pub mod state;
pub mod theme;
pub mod ui;
