//! Everything that speaks Keepa: the wire model, decoding, the client and the simulator.
//!
//! The client (`client`) is the only way arbdesk reaches Keepa. It owns the token bucket
//! (`bucket`), retries what can be retried and turns everything else into a typed `Error`.
//! `decode` turns a wire product into a domain `Listing`, one product at a time so that a
//! malformed product is an error for that product only. `sim` is a Keepa-compatible HTTP
//! server used by demo mode and the tests; it is a server and so, alone in this module, it
//! is built on axum.

pub mod answer;
pub mod bucket;
pub mod client;
pub mod csv;
pub mod decode;
pub mod error;
pub mod html;
pub mod sim;
pub mod time;
pub mod transport;
pub mod wire;

pub use client::{ApiKey, ClientStatus, KeepaClient, ProductQuery, RetryPolicy};
pub use decode::{DecodeError, decode_product};
pub use error::Error;
