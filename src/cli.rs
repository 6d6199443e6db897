//! The command line: every flag and subcommand, parsed by clap.
//!
//! Kept in the library (not the binary) so tests can check that documented command lines,
//! such as those in `docker-compose.yml`, are accepted by the real parser.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

use crate::domain::{Asin, Market};

/// arbdesk: find Amazon arbitrage across UK, DE, FR, IT and ES through the Keepa API.
#[derive(Debug, Parser)]
#[command(name = "arbdesk", version, about, long_about = None)]
pub struct Cli {
    /// Keepa connection settings.
    #[command(flatten)]
    pub keepa: KeepaArgs,

    /// Log filter for stderr (tracing syntax, e.g. `info` or `arbdesk=debug`).
    #[arg(long, env = "ARBDESK_LOG", default_value = "info", global = true)]
    pub log: String,

    /// What to do; with none, show what is ready and a live sample of prices.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where Keepa is and how to authenticate.
#[derive(Debug, Args, Clone)]
pub struct KeepaArgs {
    /// Keepa API key. Without one, arbdesk runs on its built-in Keepa simulator (demo data).
    #[arg(long, env = "KEEPA_API_KEY", hide_env_values = true, global = true)]
    pub keepa_key: Option<String>,

    /// Keepa API base URL (a proxy, a simulator started with `arbdesk keepa-sim`, tests).
    #[arg(
        long,
        env = "ARBDESK_KEEPA_URL",
        default_value = "https://api.keepa.com",
        global = true
    )]
    pub keepa_url: url::Url,

    /// Seed of the built-in simulator used in demo mode.
    #[arg(long, default_value_t = 42, global = true)]
    pub demo_seed: u64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Keepa-compatible simulator on a local port.
    KeepaSim(SimArgs),
    /// Fetch ASINs from Keepa (or the demo simulator) and print their prices per market.
    Fetch(FetchArgs),
    /// Show the Keepa token balance (costs no tokens).
    Token,
}

/// `arbdesk keepa-sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub addr: SocketAddr,
    /// Catalogue seed: the same seed gives the same products.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tokens granted per minute; the bucket holds an hour's worth and starts full.
    #[arg(long, default_value_t = 3000)]
    pub refill_rate: i64,
    /// Only accept this key (repeatable); by default any non-empty key is accepted.
    #[arg(long = "accept-key")]
    pub accept_keys: Vec<String>,
    /// Share of requests answered with HTTP 500/502/503 (0.0–1.0).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Extra latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of responses whose body is truncated (0.0–1.0).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub malformed_rate: f64,
    /// Share of products made malformed inside otherwise good responses (0.0–1.0).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub malformed_product_rate: f64,
}

/// `arbdesk fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// ASINs to fetch (10 letters or digits each).
    #[arg(required = true)]
    pub asins: Vec<Asin>,
    /// Markets to query, comma-separated (default: all five).
    #[arg(long, value_delimiter = ',', default_value = "UK,DE,FR,IT,ES")]
    pub markets: Vec<Market>,
    /// Ask for Buy Box data (+2 tokens per product and market).
    #[arg(long)]
    pub buybox: bool,
    /// Print the decoded listings as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is not between 0.0 and 1.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_market_and_asin_are_named() {
        let e = Cli::try_parse_from(["arbdesk", "fetch", "--markets", "de,nl", "B0DEMO1234"])
            .unwrap_err();
        assert!(e.to_string().contains("invalid market 'nl'"), "{e}");
        let e = Cli::try_parse_from(["arbdesk", "fetch", "B0-BAD"]).unwrap_err();
        assert!(e.to_string().contains("invalid ASIN 'B0-BAD'"), "{e}");
    }
}
