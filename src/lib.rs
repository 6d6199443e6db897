//! arbdesk: Amazon EU cross-marketplace arbitrage in one binary.
//!
//! Engine modules (`domain`, `keepa`, `queue`, `store`, `pipeline`) know nothing of the
//! console or the API (`api` depends on them, never the reverse); the binary
//! (`main.rs`) wires them to the command line. See `README.md` for the architecture.

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
