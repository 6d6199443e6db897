//! Configuration: defaults in code → `config.toml` → environment → command-line flags,
//! validated once into typed `Settings`.
//!
//! `file` holds the raw shape of the config file (unknown keys are errors, so a typo is
//! caught instead of silently ignored). `load` merges the layers and checks every value once;
//! after that nothing re-validates a value. What depends on the command being run is
//! checked by that command at start-up, still before anything runs: the pipeline's two
//! markets and the roles that go together (`commands`), `--read-only` against the command,
//! and the API's bind rule and token (`commands::serve::api_settings`, as
//! `api::ApiSettings::validate`). Secrets (the Keepa key, the API token) live in
//! `Secret`, whose `Debug` and `Display` never show them; `render` prints the effective
//! configuration with secrets redacted for `arbdesk config show`.

mod buybox;
mod file;
mod locate;
mod show;
mod toml_error;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use buybox::BuyBox;
pub use file::{DiscoveryCategory, FileConfig, TEMPLATE};
pub(crate) use show::redact_url;

/// Creates `dir` and its missing parents readable by their owner only (0700 on Unix): the
/// data dir holds the store, the logs and exports, which other users of the machine have
/// no business reading. A directory that exists keeps its permissions.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

use crate::cli::{GlobalArgs, Role};
use crate::domain::Market;
use crate::economics::{Economics, EconomicsConfig, EconomicsOverlay};
use crate::queue::QueueConfig;
use crate::store::StoreConfig;
use toml_error::{cut_long_lines, key_line, mask_secrets};
pub use toml_error::{plain_words, toml_problem};

/// A secret string: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A configuration problem, naming the key, the value and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// The economics sections (`[economics]`, `[fx]`, `[[vat]]`, `[route_defaults]`, …)
    /// do not make a valid model.
    #[error("{message}{}", in_file(.path.as_deref(), *.line))]
    Economics {
        /// The config file, if one was read.
        path: Option<PathBuf>,
        /// The line of the file that sets the value, when it can be told.
        line: Option<usize>,
        /// What the economics model refused, naming the section and key.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid {key} = {value}: {expected}{}", in_file(.file.as_deref(), *.line))]
    Invalid {
        /// The setting, e.g. `api.addr`.
        key: String,
        /// The offending value.
        value: String,
        /// What would be accepted.
        expected: String,
        /// The config file the value came from (`None` when a flag, the environment or
        /// no file set it).
        file: Option<PathBuf>,
        /// The line of that file that sets it, when it can be told.
        line: Option<usize>,
    },
}

impl ConfigError {
    /// Names `file` in an `Invalid` error whose value the flags and environment did not
    /// set: then the file did (the defaults are valid).
    fn located(self, file: Option<&Path>, args: &GlobalArgs) -> Self {
        match self {
            ConfigError::Invalid {
                key,
                value,
                expected,
                file: None,
                ..
            } if !set_outside_file(&key, args) => ConfigError::Invalid {
                line: file.and_then(|f| line_in(f, &key)),
                key,
                value,
                expected,
                file: file.map(Path::to_path_buf),
            },
            e => e,
        }
    }
}

/// Whether a flag or environment variable gave the setting `key` (the keys they can set).
fn set_outside_file(key: &str, a: &GlobalArgs) -> bool {
    match key {
        "keepa.key" => a.keepa_key.is_some() || a.demo,
        "keepa.url" => a.keepa_url.is_some(),
        "api.addr" => a.api_addr.is_some(),
        "api.token" => a.api_token.is_some(),
        "queue" | "queue.brokers" => a.queue.is_some() || a.kafka_brokers.is_some(),
        "store" => a.store.is_some() || a.es_url.is_some(),
        "console.theme" => a.theme.is_some(),
        "log" => a.log.is_some(),
        "console.clipboard (from ARBDESK_CLIPBOARD)" => true,
        _ => false,
    }
}

/// A CORS origin is `*` or `scheme://host[:port]` with no path.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let bad = || {
        format!(
            "invalid CORS origin '{}' in api.cors_origins: expected scheme://host[:port] such as https://dash.example.com, or *",
            origin
                .chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        )
    };
    let url = url::Url::parse(origin).map_err(|_| bad())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && !origin.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    // Visible ASCII only, so it can be sent back in a header as it is.
    if plain && origin.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// ` (in FILE, line N)` after an error about a value, when a file was read.
fn in_file(path: Option<&Path>, line: Option<usize>) -> String {
    match (path, line) {
        (Some(p), Some(n)) => format!(" (in {}, line {n})", p.display()),
        (Some(p), None) => format!(" (in {})", p.display()),
        (None, _) => String::new(),
    }
}

/// The line of `file` that sets `key` (read again: errors are rare, files small).
fn line_in(file: &Path, key: &str) -> Option<usize> {
    locate::line_of(&std::fs::read_to_string(file).ok()?, key)
}

fn invalid(key: &str, value: impl std::fmt::Display, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        expected: expected.into(),
        file: None,
        line: None,
    }
}

/// Keepa's API, the default `keepa.url`.
pub const KEEPA_URL: &str = "https://api.keepa.com";

/// Keepa settings.
#[derive(Clone, Debug)]
pub struct KeepaSettings {
    /// The key; `None` (or `--demo`) means the built-in simulator.
    pub key: Option<Secret>,
    /// Base URL.
    pub url: url::Url,
    /// Simulator seed in demo mode.
    pub demo_seed: u64,
    /// Which products Buy Box data (+2 tokens per product and market) is asked for:
    /// `keepa.buybox`, else all of them for demo data (its tokens are free, and the
    /// model's sell price is the Buy Box) and those with a profitable route with a key.
    pub buybox: BuyBox,
    /// `keepa.buybox` as configured (`config show` writes back only what was set).
    pub buybox_set: Option<BuyBox>,
}

impl KeepaSettings {
    /// True when data comes from the simulator.
    pub fn is_demo(&self) -> bool {
        self.key.is_none()
    }

    /// Whether the URL is Keepa's own: without a key, demo data then comes from a
    /// simulator in this process; with another URL, from that server.
    pub fn is_keepas_url(&self) -> bool {
        self.url.as_str().trim_end_matches('/') == KEEPA_URL
    }
}

/// REST API settings as configured (the API runs with `api::ApiSettings`, made from these
/// at start-up).
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Where to listen; `None` = off.
    pub addr: Option<SocketAddr>,
    /// Bearer token.
    pub token: Option<Secret>,
    /// CORS allow-list.
    pub cors_origins: Vec<String>,
    /// Host names answered without a token besides IP addresses and localhost.
    pub allowed_hosts: Vec<String>,
    /// Allow non-loopback without a token.
    pub insecure_no_auth: bool,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Largest request body.
    pub body_limit: usize,
}

/// Console settings (`[console]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConsoleSettings {
    /// Theme name, `auto` or unset (then NO_COLOR and the terminal decide).
    pub theme: Option<String>,
    /// Force the colourless theme (`--no-color`).
    pub no_color: bool,
    /// Base keymap: `default` or `vim`.
    pub keymap: String,
    /// `auto`, `osc52`, `native` or `off`.
    pub clipboard: String,
    /// `auto`, `on` or `off`.
    pub hyperlinks: String,
    /// New opportunities at or above this gross margin % raise a toast.
    pub alert_margin_pct: f64,
    /// Clicks select rows and sort by headers, the wheel scrolls (off by default: capturing
    /// the mouse takes the terminal's own text selection).
    pub mouse: bool,
    /// Directory of `keymap.toml` and `themes/`.
    pub config_dir: PathBuf,
}

/// Pipeline settings.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// Refresh each product at most this often (the live or the demo interval, whichever
    /// source is in use).
    pub refresh_interval: Duration,
    /// The two configured intervals, live and demo, as `config show` writes them back.
    pub intervals: RefreshIntervals,
    /// ASINs per Keepa request (≤ 100).
    pub fetch_batch: usize,
    /// Raw updates per processing batch.
    pub process_batch: usize,
    /// Discovery: best-seller lists to follow.
    pub discovery: Vec<DiscoveryCategory>,
    /// Discovery interval.
    pub discovery_interval: Duration,
    /// ASINs taken from the top of each list.
    pub discovery_take: usize,
}

/// `pipeline.refresh_interval_secs` and `pipeline.demo_refresh_interval_secs`, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshIntervals {
    /// With a Keepa key.
    pub live: Duration,
    /// On the built-in simulator.
    pub demo: Duration,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Said before anything runs: what in the configuration reads differently than it
    /// used to (a relative `data_dir` whose old place holds the store).
    pub notes: Vec<String>,
    /// Markets tracked.
    pub markets: Vec<Market>,
    /// Roles of this process.
    pub roles: Vec<Role>,
    /// Headless.
    pub serve: bool,
    /// The console and the API refuse what changes stored data (`--read-only`).
    pub read_only: bool,
    /// Log filter.
    pub log: String,
    /// Whether the log filter was given (flag, environment or file), not defaulted.
    pub log_given: bool,
    /// Keepa.
    pub keepa: KeepaSettings,
    /// REST API.
    pub api: ApiConfig,
    /// Queue backend.
    pub queue: QueueConfig,
    /// Store backend.
    pub store: StoreConfig,
    /// Pipeline.
    pub pipeline: PipelineSettings,
    /// Console.
    pub console: ConsoleSettings,
    /// The economics sections of the config file, as written.
    pub economics: toml::Table,
    /// The economics model those sections make, built and validated once at load: every
    /// command refuses a bad section up front, as it refuses a bad key.
    pub model: Arc<Economics>,
}

impl Settings {
    /// Whether this process plays `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether this process runs a pipeline stage (ingest or processing): it then needs a
    /// queue, detects routes, and may create the store; an API-only process does neither.
    pub fn runs_pipeline(&self) -> bool {
        self.has_role(Role::Ingest) || self.has_role(Role::Process)
    }
}

/// Platform directories (`directories::ProjectDirs` for "arbdesk").
fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "arbdesk")
}

/// Where the config file is looked for when `--config` is not given.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// The directory of `keymap.toml` and `themes/`: `$ARBDESK_CONFIG_DIR`, else the config
/// file's directory, else the platform config dir.
pub fn config_dir(config_file: Option<&Path>) -> PathBuf {
    if let Some(d) = std::env::var_os("ARBDESK_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(parent) = config_file.and_then(Path::parent) {
        // `--config vim.toml`: the file is in the working directory, shown as such.
        return if parent.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
        } else {
            parent.to_path_buf()
        };
    }
    project_dirs().map_or_else(
        || PathBuf::from(".arbdesk"),
        |d| d.config_dir().to_path_buf(),
    )
}

/// A path as a config file or the environment writes it: a leading `~` is the home
/// directory (no shell expands it there); `~user` and any other path are left as they are.
pub fn home_path(p: PathBuf) -> PathBuf {
    let Ok(rest) = p.strip_prefix("~") else {
        return p;
    };
    match directories::BaseDirs::new() {
        Some(b) if rest.as_os_str().is_empty() => b.home_dir().to_path_buf(),
        Some(b) => b.home_dir().join(rest),
        None => p,
    }
}

/// The default data directory.
pub fn default_data_dir() -> PathBuf {
    project_dirs().map_or_else(|| PathBuf::from(".arbdesk"), |d| d.data_dir().to_path_buf())
}

/// The config file `load` would read, and whether it was named explicitly.
pub fn config_path(args: &GlobalArgs) -> (Option<PathBuf>, bool) {
    match &args.config {
        Some(p) => (Some(p.clone()), true),
        None => (default_config_path(), false),
    }
}

/// Reads and parses a config file.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{e}; `arbdesk config init --config {}` creates it with the defaults, or \
                 name another file (--config, ARBDESK_CONFIG)",
                path.display()
            ),
            _ => e.to_string(),
        },
    })?;
    toml::from_str(&text).map_err(|e| {
        let mut message = e.to_string();
        if let Some(line) = key_line(&text, &e) {
            message.truncate(message.trim_end().len());
            message.push_str(&line);
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            message: mask_secrets(&cut_long_lines(&plain_words(&message))),
        }
    })
}

/// Merges defaults, the config file, the environment and the flags, and validates.
pub fn load(args: &GlobalArgs) -> Result<Settings, ConfigError> {
    let (path, explicit) = config_path(args);
    let (file, used) = match &path {
        Some(p) if explicit || p.exists() => (read_file(p)?, Some(p.clone())),
        _ => (FileConfig::default(), None),
    };
    file::resolve(file, args, used.clone()).map_err(|e| e.located(used.as_deref(), args))
}

/// The economics model of a config file's economics `sections` (the shipped tables overlaid
/// with them), validated; errors name `file`.
fn economics_model(sections: &toml::Table, file: Option<&Path>) -> Result<Economics, ConfigError> {
    // Economics messages are one line: the merged sections have no line numbers of their
    // own, so the key the message names is looked up in the file.
    let fail = |message: String| {
        let message = plain_words(&message)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let line = locate::economics_key(message.trim_start_matches("invalid economics config: "))
            .and_then(|key| line_in(file?, &key));
        ConfigError::Economics {
            path: file.map(Path::to_path_buf),
            line,
            message,
        }
    };
    let overlay: EconomicsOverlay =
        toml::Value::Table(sections.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                fail(format!("invalid economics section in the config file: {e}"))
            })?;
    let config = EconomicsConfig::with_overlay(overlay).map_err(|e| fail(e.to_string()))?;
    Economics::new(config).map_err(|e| fail(e.to_string()))
}

/// The effective configuration as TOML, secrets redacted.
pub fn render(s: &Settings) -> String {
    show::render(s)
}

#[cfg(test)]
mod tests;
