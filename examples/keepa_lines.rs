//! Writes simulated Keepa `/product` objects as JSON lines, for `arbdesk import` benchmarks.
//!
//!     cargo run --release --example keepa_lines -- 100000 > products.jsonl
//!     cargo run --release --example keepa_lines -- 100000 lean > products.jsonl
//!
//! Each line is one product in one market (ASINs spread over the five markets), with the
//! 7-day history Keepa returns with `days=7` and the fields Keepa sends beside it (category
//! tree, sales ranks), and by default `stats=90`: about 4.5 KB a line, most of it `stats`.
//! `lean` leaves the stats out: about 1.6 KB a line. The lines are as Keepa would send them at
//! the start of the current hour (the same lines all that hour), so imported rows are fresh:
//! data older than 24 h fails the STALE gate.
#![allow(clippy::unwrap_used)]

use std::io::{BufWriter, Write};

use arbdesk::domain::Market;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};

const USAGE: &str = "usage: keepa_lines [LINES] [lean] > products.jsonl\n  \
    LINES  product lines to write (default 100000)\n  \
    lean   leave Keepa's stats out (about 1.6 KB a line instead of 4.5 KB)";

fn main() {
    let first = std::env::args().nth(1);
    if matches!(first.as_deref(), Some("-h" | "--help")) {
        println!("{USAGE}");
        return;
    }
    let n: u64 = match first.as_deref() {
        None => 100_000,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("LINES {a:?} is not a whole number of lines\n{USAGE}");
            std::process::exit(2);
        }),
    };
    let stats_days = match std::env::args().nth(2).as_deref() {
        None => Some(90),
        Some("lean") => None,
        Some(other) => {
            eprintln!("unknown shape {other:?}: leave it out (stats=90) or say lean (no stats)");
            std::process::exit(2);
        }
    };
    let cat = Catalog::new(42);
    let opts = Options {
        stats_days,
        ..Options::new().with_history(7)
    };
    let now = chrono::Utc::now().timestamp_millis() / 3_600_000 * 3_600_000;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        let asin = asin_from(i / 5).parse().unwrap();
        let market = Market::ALL[(i % 5) as usize];
        let p = cat.product(&asin, market, now, opts);
        if serde_json::to_writer(&mut out, &p).is_err() || out.write_all(b"\n").is_err() {
            return;
        }
    }
}
