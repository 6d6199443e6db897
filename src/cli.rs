//! The command line: every flag and subcommand, parsed by clap.
//!
//! Kept in the library (not the binary) so tests can check that documented command lines,
//! such as those in `docker-compose.yml`, are accepted by the real parser. Flags that are
//! also settings take their environment variable here (`env = …`), which gives the layering
//! of `config`: defaults → config file → environment → flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{Asin, Market};
use crate::store::{OpportunitySort, SortOrder};

mod env;
mod parse;

use env::{env_note, non_utf8_env_note};
pub use parse::{API_ADDR_FORMS, ApiAddr, parse_api_addr};
use parse::{
    MarketParser, RoleParser, absolute_url, batch_lines, euro_cents, filter_terms, log_filter,
    on_off, parse_rate, percent, row_limit,
};

/// arbdesk: find Amazon arbitrage across UK, DE, FR, IT and ES through the Keepa API.
///
/// With no subcommand it runs the pipeline and the REST API; `--serve` runs them headless
/// with logs on stderr. Without a Keepa key the data comes from the built-in simulator and
/// is labelled DEMO everywhere.
#[derive(Debug, Parser)]
#[command(name = "arbdesk", version, about, long_about)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do; with none, run arbdesk.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses `args`, whose text `argv` is, with flags that it gives never read from their
    /// environment variables: the command line wins over the environment.
    pub fn try_parse_for(
        argv: &[String],
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<Cli, clap::Error> {
        use clap::FromArgMatches as _;
        let mut matches = env::command_for(argv).try_get_matches_from(args)?;
        Cli::from_arg_matches_mut(&mut matches)
    }

    /// The command line, or exit with clap's message (code 2). A bad value that came from
    /// an environment variable rather than the command line says which variable.
    pub fn parse_or_exit() -> Cli {
        // Lossy: an argument that is not UTF-8 (a file name, say) only has to be compared
        // with flag names here, and `std::env::args` would panic on it.
        let argv: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let e = match Cli::try_parse_for(&argv, std::env::args_os()) {
            Ok(cli) => return cli,
            Err(e) => e,
        };
        let note = env_note(&e, &argv, |v| std::env::var_os(v).is_some()).or_else(|| {
            // clap names no argument when a value is not UTF-8; from the environment, say
            // which variable it is.
            (e.kind() == clap::error::ErrorKind::InvalidUtf8).then(|| {
                non_utf8_env_note(|v| std::env::var_os(v).is_some_and(|x| x.to_str().is_none()))
            })?
        });
        let Some(note) = note else { e.exit() };
        let text = e.render().to_string();
        let text = match text.split_once("\nFor more information") {
            Some((head, tail)) => format!("{head}\n{note}\n\nFor more information{tail}"),
            None => format!("{text}{note}\n"),
        };
        // A closed stderr (`2>&1 | head -1`) loses the message, not the exit code.
        use std::io::Write as _;
        let _ = std::io::stderr().write_all(text.as_bytes());
        std::process::exit(e.exit_code());
    }
}

/// Settings shared by every command (each also readable from the config file). A
/// subcommand's help lists them under their own heading, after the subcommand's options.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Run headless: pipeline and REST API, logs on stderr.
    #[arg(long)]
    pub serve: bool,

    /// Config file (default: config.toml in the platform config dir, if present).
    #[arg(long, env = "ARBDESK_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for the SQLite store, logs and exports (default: the platform data dir).
    #[arg(long, env = "ARBDESK_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address of the REST API, or `off` (default 127.0.0.1:8000).
    #[arg(long, env = "ARBDESK_API_ADDR", global = true, value_name = "ADDR|off")]
    pub api_addr: Option<ApiAddr>,

    /// Bearer token the REST API requires (needed to bind a non-loopback address). Prefer
    /// the environment variable or the config file: other users see a command line.
    #[arg(
        long,
        env = "ARBDESK_API_TOKEN",
        hide_env_values = true,
        global = true,
        value_name = "TOKEN"
    )]
    pub api_token: Option<String>,

    /// Allow a non-loopback API address without a bearer token.
    #[arg(long, global = true)]
    pub insecure_no_auth: bool,

    /// Refuse what changes stored data from the console, the API and the CLI (the watchlist,
    /// jobs, `watch add|rm`, `import`); the pipeline keeps running.
    #[arg(
        long,
        env = "ARBDESK_READ_ONLY",
        global = true,
        value_parser = on_off
    )]
    pub read_only: bool,

    /// Keepa API key. Without one, arbdesk runs on its built-in Keepa simulator (demo data).
    /// Prefer the environment variable or the config file: other users see a command line.
    #[arg(
        long,
        env = "KEEPA_API_KEY",
        hide_env_values = true,
        global = true,
        value_name = "KEY"
    )]
    pub keepa_key: Option<String>,

    /// Keepa API base URL (a proxy, a simulator started with `arbdesk keepa-sim`, tests).
    #[arg(long, env = "ARBDESK_KEEPA_URL", global = true, value_name = "URL", value_parser = absolute_url)]
    pub keepa_url: Option<url::Url>,

    /// Demo data even when a Keepa key is configured: the built-in simulator, or, with
    /// --keepa-url, that server (e.g. `arbdesk keepa-sim`) with the key `demo`.
    #[arg(long, global = true)]
    pub demo: bool,

    /// Seed of the built-in simulator used in demo mode.
    #[arg(long, global = true, value_name = "N")]
    pub demo_seed: Option<u64>,

    /// Markets to track, comma-separated (default: UK,DE,FR,IT,ES).
    #[arg(
        long,
        env = "ARBDESK_MARKETS",
        global = true,
        value_delimiter = ',',
        value_name = "LIST",
        value_parser = MarketParser
    )]
    pub markets: Option<Vec<Market>>,

    /// Roles this process runs, comma-separated (default: all three).
    #[arg(
        long,
        env = "ARBDESK_ROLE",
        global = true,
        value_delimiter = ',',
        value_name = "ROLES",
        value_parser = RoleParser
    )]
    pub role: Option<Vec<Role>>,

    /// Queue between ingest and processing: memory (in process) or kafka.
    #[arg(
        long,
        env = "ARBDESK_QUEUE",
        global = true,
        value_name = "memory|kafka"
    )]
    pub queue: Option<QueueKind>,

    /// Kafka bootstrap servers, comma-separated (alone, they choose --queue kafka).
    #[arg(
        long,
        env = "ARBDESK_KAFKA_BROKERS",
        global = true,
        value_name = "LIST"
    )]
    pub kafka_brokers: Option<String>,

    /// Store: sqlite (a file in the data dir) or elasticsearch.
    #[arg(
        long,
        env = "ARBDESK_STORE",
        global = true,
        value_name = "sqlite|elasticsearch"
    )]
    pub store: Option<StoreKind>,

    /// Elasticsearch node URLs, comma-separated (alone, they choose --store elasticsearch).
    #[arg(long, env = "ARBDESK_ES_URL", global = true, value_name = "URL")]
    pub es_url: Option<String>,

    /// Console theme: dark, light, high-contrast, mono, ansi16, auto, or a theme file's name.
    #[arg(long, env = "ARBDESK_THEME", global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Console without colour (the mono theme).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Log filter (tracing syntax, e.g. `info` or `arbdesk=debug`).
    #[arg(long, env = "ARBDESK_LOG", global = true, value_name = "FILTER", value_parser = log_filter)]
    pub log: Option<String>,
}

/// `--queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueueKind {
    /// Bounded in-process channels.
    Memory,
    /// A Kafka cluster.
    Kafka,
}

/// `--store`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// One SQLite file in the data dir.
    Sqlite,
    /// An Elasticsearch 8 cluster.
    Elasticsearch,
}

/// A role a process plays.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    ValueEnum,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Fetch from Keepa and publish raw updates.
    Ingest,
    /// Enrich raw updates, store them and detect opportunities.
    Process,
    /// Serve the REST API.
    Api,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the watchlist.
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Import Keepa product objects from a JSON-lines file (resumable, idempotent).
    ///
    /// Exit code 0 when every line is imported (an empty input imports nothing and exits 0),
    /// 3 when bad lines were skipped (each is reported with its number; the rest is
    /// imported), 1 when every line was bad or the import failed, 2 for a bad argument.
    Import(ImportArgs),
    /// Export opportunities as CSV or JSON.
    Export(ExportArgs),
    /// Show resolved paths, the console's theme, keymap warnings and terminal capabilities.
    Info,
    /// Show, locate or create the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Run the Keepa-compatible simulator on a local port.
    KeepaSim(SimArgs),
    /// Fetch ASINs from Keepa (or the demo simulator) and print their prices per market.
    Fetch(FetchArgs),
    /// Show the Keepa token balance (costs no tokens).
    Token,
    /// List the console's key bindings and commands (`--markdown` prints them as docs/keys.md has them).
    Keys(KeysArgs),
    /// Time the console's frames at this terminal's size over generated rows (nothing is
    /// drawn on screen and no store is opened).
    BenchRender(BenchRenderArgs),
}

/// `arbdesk bench-render`.
#[derive(Debug, Args)]
pub struct BenchRenderArgs {
    /// Opportunities loaded.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rows: u32,
    /// Frames drawn, each after a key press (j).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub frames: u32,
}

/// `arbdesk keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Markdown of the shipped keymap, as in docs/keys.md, rather than the keymap in use.
    #[arg(long)]
    pub markdown: bool,
}

/// `arbdesk watch …`.
#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Add ASINs to the watchlist.
    Add {
        /// ASINs (10 letters or digits each), or Amazon product links.
        #[arg(required = true, value_parser = Asin::parse_or_link)]
        asins: Vec<Asin>,
    },
    /// Remove ASINs from the watchlist (their data stays).
    #[command(alias = "remove")]
    Rm {
        /// ASINs, or Amazon product links.
        #[arg(required = true, value_parser = Asin::parse_or_link)]
        asins: Vec<Asin>,
    },
    /// List the watchlist, oldest entry first (as `GET /watchlist`).
    #[command(alias = "list")]
    Ls {
        /// Only entries from this source: user (console, CLI, API), discovery or import.
        #[arg(long, value_enum, ignore_case = true)]
        source: Option<crate::store::WatchSource>,
        /// Only entries not fetched yet in every tracked market (`--markets`).
        #[arg(long)]
        pending: bool,
    },
}

/// `watch ls --source`: the sources by their names (which shell completions offer).
impl ValueEnum for crate::store::WatchSource {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// `arbdesk import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON-lines file: one Keepa product object (with its `domainId`) per line. `-` reads
    /// standard input (e.g. `zcat dump.jsonl.gz | arbdesk import -`); input that is not a
    /// regular file (stdin, a pipe) is imported from the start and cannot be resumed.
    pub file: PathBuf,
    /// Lines per batch (1 to 1,000,000): each batch's listings are one transaction, its
    /// opportunities another. Larger batches write faster; up to four are in memory at once.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true, value_parser = batch_lines)]
    pub batch: usize,
    /// Also add the imported ASINs to the watchlist.
    #[arg(long)]
    pub watch: bool,
    /// Start from the first line even where an earlier run of the same file got further
    /// (rewriting is harmless: every write is idempotent).
    #[arg(long)]
    pub restart: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Write every bad line's number and why to FILE, `NUMBER<TAB>REASON` a line (standard
    /// error shows the first 20); a run that resumes an interrupted one appends to it.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
}

pub use crate::commands::export::ExportFormat;

/// `ValueEnum` for a type whose `NAMES` table (name, value) is also what the API takes, so
/// the command line and the API accept the same words, listed in the same order.
macro_rules! value_enum_by_names {
    ($ty:ty) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                static ALL: LazyLock<Vec<$ty>> =
                    LazyLock::new(|| <$ty>::NAMES.iter().map(|(_, v)| *v).collect());
                &ALL
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(self.name()))
            }
        }
    };
}

// `export --order` and `export --sort`.
value_enum_by_names!(SortOrder);
value_enum_by_names!(OpportunitySort);

/// `arbdesk export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "csv")]
    pub format: ExportFormat,
    /// Write here instead of stdout (`-`: stdout).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Minimum gross margin, percent (e.g. 10, 12.5, -5).
    #[arg(long, allow_negative_numbers = true, value_parser = percent)]
    pub min_margin: Option<f64>,
    /// Minimum net margin, percent.
    #[arg(long, allow_negative_numbers = true, value_parser = percent)]
    pub min_net_margin: Option<f64>,
    /// Minimum net profit, EUR with up to 2 decimals (e.g. 3.5).
    #[arg(long, allow_negative_numbers = true, value_parser = euro_cents)]
    pub min_profit: Option<i64>,
    /// Minimum ROI, percent.
    #[arg(long, allow_negative_numbers = true, value_parser = percent)]
    pub min_roi: Option<f64>,
    /// Buy markets, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = MarketParser)]
    pub buy: Vec<Market>,
    /// Sell markets, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = MarketParser)]
    pub sell: Vec<Market>,
    /// Only rows that pass every gate.
    #[arg(long)]
    pub ranked: bool,
    /// Only rows that fail at least one gate (the `flags` column says which).
    #[arg(long, conflicts_with = "ranked")]
    pub unranked: bool,
    /// The console's `/` filter, e.g. "roi>=25 route=it>de,es>de !amz" or "sold>=50 src=uk":
    /// terms that must all hold, `!` negating one; fields asin title brand src dst route
    /// profit net margin gross roi emp price bsr sold drops30 age flags, and the word amz.
    #[arg(long, value_name = "TERMS", value_parser = filter_terms)]
    pub filter: Option<String>,
    /// The order of the rows (the API's `sort`), largest first unless `--order asc`.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "expected_monthly_profit"
    )]
    pub sort: OpportunitySort,
    /// `desc` (largest first) or `asc`, as the API's `order`.
    #[arg(long, value_enum, ignore_case = true, default_value = "desc")]
    pub order: SortOrder,
    /// Most rows to export.
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true, value_parser = row_limit)]
    pub limit: usize,
}

/// `arbdesk config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted).
    Show,
    /// Print where the config file is read from.
    Path,
    /// Write a commented config file with the defaults.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// `arbdesk completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `arbdesk keepa-sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080", value_parser = parse::listen_addr)]
    pub addr: SocketAddr,
    /// Catalogue seed: the same seed gives the same products.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tokens granted per minute (1 to 1000000); the bucket holds an hour's worth and
    /// starts full.
    #[arg(long, default_value_t = 3000, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub refill_rate: i64,
    /// Only accept this key (repeatable); by default any non-empty key is accepted.
    #[arg(long = "accept-key", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub accept_keys: Vec<String>,
    /// Share of requests answered with HTTP 500/502/503 (0.0–1.0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Extra latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of responses whose body is truncated (0.0–1.0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = parse_rate)]
    pub malformed_rate: f64,
    /// Share of products made malformed inside otherwise good responses (0.0–1.0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = parse_rate)]
    pub malformed_product_rate: f64,
}

/// `arbdesk fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// ASINs to fetch (10 letters or digits each), or Amazon product links.
    #[arg(required = true, value_parser = Asin::parse_or_link)]
    pub asins: Vec<Asin>,
    /// Ask for Buy Box data (+2 tokens per product and market) whatever `keepa.buybox`
    /// says (it is asked unless `keepa.buybox = false`).
    #[arg(long, conflicts_with = "no_buybox")]
    pub buybox: bool,
    /// Do not ask for Buy Box data, whatever `keepa.buybox` says.
    #[arg(long)]
    pub no_buybox: bool,
    /// Print the decoded listings as JSON lines instead of a table (arbdesk's own form, not
    /// Keepa's product objects, which is what `import` reads).
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests;
