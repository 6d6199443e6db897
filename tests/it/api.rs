//! The REST API, told as stories against the real SQLite store in a temp dir: what a script
//! gets back from each endpoint (exact JSON shapes), what it gets when it asks wrongly
//! (problem+json naming the parameter), and how the layers around the handlers behave
//! (auth, CORS, gzip, the response cache, timeouts, a real socket).

pub(super) mod fixture;

mod actions;
mod cache;
mod docs;
mod endpoints;
mod errors;
mod layers;
mod socket;
