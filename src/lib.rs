//! arbdesk: Amazon EU cross-marketplace arbitrage in one binary.
//!
//! Engine modules (`domain`, `config`, `economics`, `keepa`, `queue`, `store`, `pipeline`)
//! know nothing of the console or the API (`api` and `tui` depend on them, never the
//! reverse; `tests/it/boundary.rs` checks it). `main.rs` parses the command line and loads
//! the settings (`cli`, `config`); `commands::run` runs a subcommand, and without one
//! `commands::serve::start` wires the store, the queue, the pipeline (`Pipeline::start`) and
//! the API, for `--serve` or under the console (`tui`). `component` is the health type
//! every part reports; `filter` the console's `/` filter language, which the API's `q`
//! takes too. See `README.md` for the architecture.

pub mod api;
pub mod cli;
pub mod commands;
pub mod component;
pub mod config;
pub mod domain;
pub mod economics;
pub mod filter;
pub mod keepa;
pub mod pipeline;
pub mod queue;
pub mod store;
pub mod tui;
