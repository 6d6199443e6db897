//! arbdesk's integration tests, compiled into one binary (one link, shared helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod it {
    pub mod util;

    mod boundary;
    mod budget;
    mod cli;
    mod client;
    mod decode;
    mod sim;
    mod store_sqlite;
    mod store_story;
}
