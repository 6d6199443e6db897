//! The config file's shape, and how it merges with flags into `Settings`.
//!
//! Every section rejects unknown keys. Sections the economics model owns (`economics`,
//! `fx`, `vat`, `referral`, `route`, …) are kept as written and validated by that model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    ApiConfig, BuyBox, ConfigError, ConsoleSettings, KeepaSettings, PipelineSettings,
    RefreshIntervals, Secret, Settings, default_data_dir, home_path, invalid,
};
use crate::cli::{ApiAddr, GlobalArgs, Role};
use crate::domain::Market;

mod backends;
mod sections;

use backends::{queue_config, store_config};
use sections::{ApiSection, ConsoleSection, DiscoverySection, KeepaSection, PipelineSection};
pub use sections::{DiscoveryCategory, FileConfig};

/// A commented config file with the defaults, written by `arbdesk config init`.
pub const TEMPLATE: &str = include_str!("template.toml");

const DEFAULT_API: &str = "127.0.0.1:8000";

/// How often demo data refreshes a product by default: the discovered watchlist (four
/// lists of 100) in five markets with the Buy Box costs 6,000 tokens a round, which the
/// simulator's 3,000 a minute refill pays for every two minutes. Every 150 s leaves a fifth
/// of the refill spare (discovery, products found later), so the demo keeps its pace
/// however long it runs instead of slowing to the refill once the first hour's tokens are
/// spent.
pub(super) const DEMO_REFRESH_SECS: u64 = 150;

/// The simulator's root categories, followed by discovery in demo mode.
fn demo_categories() -> Vec<DiscoveryCategory> {
    crate::keepa::sim::ROOTS
        .iter()
        .take(4)
        .map(|(id, _)| DiscoveryCategory {
            market: Market::DE,
            category: id.to_string(),
        })
        .collect()
}

pub(super) fn resolve(
    f: FileConfig,
    a: &GlobalArgs,
    used: Option<PathBuf>,
) -> Result<Settings, ConfigError> {
    let keepa = keepa_settings(f.keepa, a)?;
    let api = api_settings(f.api, a)?;
    let pipeline = pipeline_settings(f.pipeline, f.discovery, keepa.is_demo())?;
    let roles = roles(f.roles, a)?;
    let markets = markets(f.markets, a)?;
    let mut economics = toml::Table::new();
    for (k, v) in [
        ("economics", f.economics),
        ("fx", f.fx),
        ("vat", f.vat),
        ("referral", f.referral),
        ("route", f.route),
        ("route_defaults", f.route_defaults),
        ("fba", f.fba),
        ("storage", f.storage),
        ("product_groups", f.product_groups),
    ] {
        if let Some(v) = v {
            economics.insert(k.to_string(), v);
        }
    }

    if f.data_dir
        .as_ref()
        .is_some_and(|d| d.as_os_str().to_string_lossy().trim().is_empty())
    {
        return Err(invalid(
            "data_dir",
            "''",
            &format!(
                "a directory path; remove the line for the default ({})",
                default_data_dir().display()
            ),
        ));
    }
    let mut notes = Vec::new();
    let data_dir = match (&a.data_dir, f.data_dir) {
        (Some(d), _) => home_path(d.clone()),
        // A relative path in the file is read from the file's directory, not from wherever
        // arbdesk is started.
        (None, Some(d)) => {
            let d = home_path(d);
            match used.as_deref().and_then(Path::parent) {
                Some(dir) if d.is_relative() && !dir.as_os_str().is_empty() => {
                    let from_file = dir.join(&d);
                    // Read from the working directory before: a store left there is named.
                    let db = |p: &Path| p.join("arbdesk.sqlite").is_file();
                    if db(&d) && !db(&from_file) {
                        notes.push(format!(
                            "data_dir = {:?} in {} is read from the file's directory: {} \
                             (a relative data_dir was read from the working directory \
                             before, and {} holds a store). Give data_dir as an absolute \
                             path, or move that store there.",
                            d.display().to_string(),
                            used.as_deref()
                                .map_or(String::new(), |u| u.display().to_string()),
                            from_file.display(),
                            d.display()
                        ));
                    }
                    from_file
                }
                _ => d,
            }
        }
        (None, None) => default_data_dir(),
    };
    let model = std::sync::Arc::new(super::economics_model(&economics, used.as_deref())?);
    let console = console_settings(f.console, a, used.as_deref())?;
    Ok(Settings {
        console,
        config_file: used,
        data_dir,
        notes,
        markets,
        roles,
        serve: a.serve,
        read_only: a.read_only || f.read_only.unwrap_or(false),
        log_given: a.log.is_some() || f.log.is_some(),
        log: log_filter(a.log.clone().or(f.log))?,
        keepa,
        api,
        queue: queue_config(f.queue, a)?,
        store: store_config(f.store, a)?,
        pipeline,
        economics,
        model,
    })
}

/// `[keepa]` and its flags: no key (or `--demo`) means the simulator.
fn keepa_settings(f: KeepaSection, a: &GlobalArgs) -> Result<KeepaSettings, ConfigError> {
    let key = match (a.demo, a.keepa_key.clone().or(f.key)) {
        (true, _) => None,
        (false, Some(k)) if k.trim().is_empty() => None,
        (false, Some(k)) => {
            if k.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    "keepa.key",
                    "***",
                    "a Keepa key has no spaces or control characters",
                ));
            }
            Some(Secret::new(k))
        }
        (false, None) => None,
    };
    let url = match a.keepa_url.clone().or(f.url) {
        Some(u) if !matches!(u.scheme(), "http" | "https") => {
            return Err(invalid("keepa.url", u, "an http:// or https:// URL"));
        }
        Some(u) => u,
        None => url::Url::parse(super::KEEPA_URL).map_err(|e| invalid("keepa.url", e, "a URL"))?,
    };
    let on_simulator = key.is_none();
    Ok(KeepaSettings {
        key,
        url,
        demo_seed: a.demo_seed.or(f.demo_seed).unwrap_or(42),
        buybox: f.buybox.unwrap_or(if on_simulator {
            BuyBox::All
        } else {
            BuyBox::Routes
        }),
        buybox_set: f.buybox,
    })
}

/// `[api]` and its flags.
fn api_settings(f: ApiSection, a: &GlobalArgs) -> Result<ApiConfig, ConfigError> {
    let addr = match a.api_addr {
        Some(ApiAddr::Off) => None,
        Some(ApiAddr::On(addr)) => Some(addr),
        None => {
            let raw = f.addr.unwrap_or_else(|| DEFAULT_API.to_string());
            crate::cli::parse_api_addr(&raw)
                .map_err(|problem| invalid("api.addr", format!("'{raw}'"), &problem))?
        }
    };
    let timeout = within(
        "api.request_timeout_secs",
        f.request_timeout_secs.unwrap_or(10.0),
        0.1..=600.0,
        "between 0.1 and 600 seconds",
    )?;
    Ok(ApiConfig {
        addr,
        token: a
            .api_token
            .clone()
            .or(f.token)
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        cors_origins: cors_origins(f.cors_origins.unwrap_or_default())?,
        allowed_hosts: allowed_hosts(f.allowed_hosts.unwrap_or_default())?,
        insecure_no_auth: a.insecure_no_auth || f.insecure_no_auth.unwrap_or(false),
        request_timeout: Duration::from_secs_f64(timeout),
        body_limit: match f.body_limit_bytes.unwrap_or(64 * 1024) {
            n @ 1_024..=MAX_BODY_LIMIT => n,
            n => {
                return Err(invalid(
                    "api.body_limit_bytes",
                    n,
                    "1024 to 67108864 bytes (64 MiB); the default is 65536",
                ));
            }
        },
    })
}

/// `[pipeline]` and `[discovery]`; `demo` picks the refresh interval and the default
/// discovery categories.
fn pipeline_settings(
    f: PipelineSection,
    d: DiscoverySection,
    demo: bool,
) -> Result<PipelineSettings, ConfigError> {
    // Both intervals are checked whichever is in use, so a bad one is found before it is.
    for (key, secs) in [
        ("pipeline.refresh_interval_secs", f.refresh_interval_secs),
        (
            "pipeline.demo_refresh_interval_secs",
            f.demo_refresh_interval_secs,
        ),
    ] {
        if let Some(s) = secs.filter(|s| !(1..=YEAR_SECS).contains(s)) {
            return Err(invalid(key, s, "1 to 31536000 seconds (a year)"));
        }
    }
    let intervals = RefreshIntervals {
        live: Duration::from_secs(f.refresh_interval_secs.unwrap_or(30 * 60)),
        demo: Duration::from_secs(f.demo_refresh_interval_secs.unwrap_or(DEMO_REFRESH_SECS)),
    };
    let refresh = if demo { intervals.demo } else { intervals.live };
    let fetch_batch = within(
        "pipeline.fetch_batch",
        f.fetch_batch.unwrap_or(100),
        1..=100,
        "1 to 100 (Keepa's limit per request)",
    )?;
    let process_batch = within(
        "pipeline.process_batch",
        f.process_batch.unwrap_or(500),
        1..=100_000,
        "1 to 100000",
    )?;
    let hours = d.interval_hours.unwrap_or(2.0);
    if !(hours.is_finite() && hours > 0.0 && hours <= 8760.0) {
        return Err(invalid(
            "discovery.interval_hours",
            hours,
            "a positive number of hours up to 8760 (a year)",
        ));
    }
    let take = within(
        "discovery.take",
        d.take.unwrap_or(100),
        1..=10_000,
        "1 to 10000 ASINs from the top of each list",
    )?;
    if let Some(c) = d
        .categories
        .iter()
        .flatten()
        .find(|c| c.category.trim().is_empty())
    {
        return Err(invalid(
            "discovery.categories",
            format!(
                "{{ market = \"{}\", category = \"{}\" }}",
                c.market, c.category
            ),
            "a category: a Keepa category node id (e.g. \"3167641\") or a product group",
        ));
    }
    let discovery = match d.categories {
        Some(c) => c,
        None if demo => demo_categories(),
        None => Vec::new(),
    };
    Ok(PipelineSettings {
        refresh_interval: refresh,
        intervals,
        fetch_batch,
        process_batch,
        discovery,
        discovery_interval: Duration::from_secs_f64(hours * 3600.0),
        discovery_take: take,
    })
}

/// The roles this process runs (`--role`, `roles`): all three by default.
fn roles(file: Option<Vec<Role>>, a: &GlobalArgs) -> Result<Vec<Role>, ConfigError> {
    let mut roles = a
        .role
        .clone()
        .or(file)
        .unwrap_or_else(|| vec![Role::Ingest, Role::Process, Role::Api]);
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(invalid(
            "roles",
            "[]",
            "one or more of ingest, process, api",
        ));
    }
    // An address given on the command line to a process that serves no API is a mistake
    // to say, not a flag to drop.
    if let (Some(ApiAddr::On(addr)), false) = (&a.api_addr, roles.contains(&Role::Api)) {
        let roles: Vec<String> = roles
            .iter()
            .map(|r| format!("{r:?}").to_lowercase())
            .collect();
        return Err(invalid(
            "api.addr",
            format!("'{addr}' with --role {}", roles.join(",")),
            "this process serves no API: add api to --role, or leave out --api-addr",
        ));
    }
    Ok(roles)
}

/// The log filter (`--log`, `ARBDESK_LOG`, `log`): `info` unless given, checked here so
/// that a bad one is named with where it came from, like any other value.
fn log_filter(given: Option<String>) -> Result<String, ConfigError> {
    let log = given.unwrap_or_else(|| "info".to_string());
    match tracing_subscriber::EnvFilter::try_new(&log) {
        Ok(_) => Ok(log),
        Err(e) => Err(invalid(
            "log",
            format!("'{}' ({e})", log.escape_debug()),
            "a log filter such as info, warn or arbdesk=debug: a level, or TARGET=LEVEL \
             entries separated by commas",
        )),
    }
}

/// The markets to watch (`--markets`, `markets`): all five by default, each once.
fn markets(file: Option<Vec<Market>>, a: &GlobalArgs) -> Result<Vec<Market>, ConfigError> {
    let mut markets = a
        .markets
        .clone()
        .or(file)
        .unwrap_or_else(|| Market::ALL.to_vec());
    // `de,DE` is one market.
    let mut seen = Vec::with_capacity(markets.len());
    markets.retain(|m| {
        let new = !seen.contains(m);
        seen.push(*m);
        new
    });
    if markets.is_empty() {
        return Err(invalid(
            "markets",
            "[]",
            "one or more of UK, DE, FR, IT, ES",
        ));
    }
    Ok(markets)
}

/// `api.cors_origins`, each `*` or a bare `scheme://host[:port]`.
fn cors_origins(origins: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for o in &origins {
        super::check_origin(o).map_err(|_| {
            invalid(
                "api.cors_origins",
                format!("\"{}\"", o.escape_debug()),
                "origins such as \"https://dash.example.com\" or \"http://localhost:3000\" \
                 (scheme, host, optional port, no path), or \"*\"",
            )
        })?;
    }
    // As a browser sends them: scheme and host in lower case, no default port.
    Ok(origins
        .into_iter()
        .map(|o| {
            let o = o.to_ascii_lowercase();
            let default_port = if o.starts_with("https://") {
                ":443"
            } else {
                ":80"
            };
            match o.strip_suffix(default_port) {
                Some(bare) if o.starts_with("http") => bare.to_string(),
                _ => o,
            }
        })
        .collect())
}

/// `api.allowed_hosts`: host names as a `Host` header carries them, without a port
/// (`arbdesk.lan`), or `*` for any.
fn allowed_hosts(hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for h in &hosts {
        let name_like = !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if h != "*" && !name_like {
            return Err(invalid(
                "api.allowed_hosts",
                format!("\"{}\"", h.escape_debug()),
                "host names without scheme or port, such as \"arbdesk.lan\", or \"*\"",
            ));
        }
    }
    Ok(hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect())
}

/// The longest interval the pipeline takes: a year, in seconds.
const YEAR_SECS: u64 = 365 * 24 * 3600;

/// `value` of `key` if it is in `range`, else the error saying what `expected` is.
fn within<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(key, value, expected))
    }
}

/// The largest request body the API can be set to take: 64 MiB.
const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

fn console_settings(
    c: ConsoleSection,
    a: &GlobalArgs,
    config_file: Option<&std::path::Path>,
) -> Result<ConsoleSettings, ConfigError> {
    let one_of = |key: &str, v: Option<String>, default: &str, allowed: &[&str]| {
        let v = v
            .unwrap_or_else(|| default.to_string())
            .trim()
            .to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(invalid(key, format!("'{v}'"), &allowed.join(", ")))
        }
    };
    let keymap = one_of("console.keymap", c.keymap, "default", &["default", "vim"])?;
    let from_env = std::env::var("ARBDESK_CLIPBOARD").ok();
    let clipboard = one_of(
        // Named where it came from: the variable wins over the file.
        if from_env.is_some() {
            "console.clipboard (from ARBDESK_CLIPBOARD)"
        } else {
            "console.clipboard"
        },
        from_env.or(c.clipboard),
        "auto",
        &["auto", "osc52", "native", "off"],
    )?;
    let hyperlinks = one_of(
        "console.hyperlinks",
        c.hyperlinks,
        "auto",
        &["auto", "on", "off"],
    )?;
    let alert = within(
        "console.alert_margin_pct",
        c.alert_margin_pct.unwrap_or(30.0),
        0.0..=10_000.0,
        "a percentage between 0 and 10000",
    )?;
    let theme = a.theme.clone().or(c.theme).filter(|t| !t.trim().is_empty());
    if let Some(t) = &theme
        && !t
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(invalid(
            "console.theme",
            format!("'{t}'"),
            "a theme name (letters, digits, - and _): dark, light, mono, ansi16, auto or a file in <config>/themes",
        ));
    }
    let config_dir = super::config_dir(config_file);
    Ok(ConsoleSettings {
        theme,
        no_color: a.no_color,
        keymap,
        clipboard,
        hyperlinks,
        alert_margin_pct: alert,
        mouse: c.mouse.unwrap_or(false),
        config_dir,
    })
}
