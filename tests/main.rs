//! arbdesk's integration tests, compiled into one binary (one link, shared helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod it {
    pub mod util;

    mod api;
    mod assets;
    mod boundary;
    mod budget;
    mod cli;
    mod client;
    mod compose;
    mod console;
    mod decode;
    mod economics;
    mod es_outage;
    mod fetch_lease;
    mod import;
    mod pipeline;
    #[cfg(any(feature = "kafka", feature = "elasticsearch"))]
    mod procs;
    mod queue_story;
    mod roles;
    mod serve;
    mod sim;
    pub mod store_es;
    mod store_sqlite;
    mod store_story;
}
