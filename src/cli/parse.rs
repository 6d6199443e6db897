//! The value parsers of the command line: each takes the text as typed and says, when it
//! is wrong, what was given and what is accepted.

use std::net::SocketAddr;

/// `--api-addr`: an address or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiAddr {
    /// Serve on this address.
    On(SocketAddr),
    /// Do not serve the API.
    Off,
}

impl std::str::FromStr for ApiAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_api_addr(s) {
            Ok(Some(addr)) => Ok(ApiAddr::On(addr)),
            Ok(None) => Ok(ApiAddr::Off),
            Err(problem) => Err(format!("invalid API address '{s}': {problem}")),
        }
    }
}

/// What an API address may be, for error messages.
pub const API_ADDR_FORMS: &str =
    "expected IP:PORT such as 127.0.0.1:8000 or [::1]:8000, localhost:PORT, or off";

/// An API address: `IP:PORT`, `[IPv6]:PORT`, `localhost:PORT` (127.0.0.1), or `off`
/// (`None`). The error says what is wrong and what is accepted.
pub fn parse_api_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(Some(addr));
    }
    // An IP address alone (IPv6 with or without brackets), or a port alone: what to add.
    let bare = t.trim_start_matches('[').trim_end_matches(']');
    let problem = match t.rsplit_once(':') {
        _ if t.is_empty() => "it is empty".to_string(),
        _ if bare.parse::<std::net::Ipv6Addr>().is_ok() => {
            format!("it has no port (e.g. [{bare}]:8000)")
        }
        None if t.parse::<u16>().is_ok() => {
            format!("it has no IP address (e.g. 127.0.0.1:{t})")
        }
        None => format!("it has no port (e.g. {t}:8000)"),
        Some((host, port)) => match port.parse::<u16>() {
            Err(_) => format!("'{port}' is not a port number (0 to 65535)"),
            Ok(port) if host.eq_ignore_ascii_case("localhost") => {
                return Ok(Some(SocketAddr::from(([127, 0, 0, 1], port))));
            }
            Ok(port) if host.is_empty() => {
                format!("it has no IP address before the port (e.g. 127.0.0.1:{port})")
            }
            Ok(_) => format!(
                "'{host}' is not an IP address (host names other than localhost are not looked up)"
            ),
        },
    };
    Err(format!("{problem}; {API_ADDR_FORMS}"))
}

/// An address to listen on: as [`parse_api_addr`], without `off`.
pub(super) fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    const FORMS: &str =
        "expected IP:PORT such as 127.0.0.1:18080 or [::1]:18080, or localhost:PORT";
    match parse_api_addr(s) {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(format!("it cannot be off; {FORMS}")),
        Err(e) => Err(e.replace(API_ADDR_FORMS, FORMS)),
    }
}

/// Lines per import batch.
pub(super) fn batch_lines(v: &str) -> Result<usize, String> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{v}' is not a batch size: expected a whole number of lines from 1 to 1000000, \
             e.g. 10000"
        )),
    }
}

/// A finite number of percent, as the API's filters take it.
pub(super) fn percent(v: &str) -> Result<f64, String> {
    crate::domain::parse_percent(v).map_err(|why| format!("'{v}' {why}"))
}

/// Filter terms in the console's `/` grammar, checked here and parsed again where used.
pub(super) fn filter_terms(v: &str) -> Result<String, String> {
    crate::filter::Filter::parse(v).map(|_| v.to_string())
}

/// Euros with up to 2 decimals, as cents, as the API's `min_profit` takes them.
pub(super) fn euro_cents(v: &str) -> Result<i64, String> {
    crate::domain::parse_euro_cents(v).map_err(|why| format!("'{v}' {why}"))
}

/// An absolute http(s) URL.
pub(super) fn absolute_url(v: &str) -> Result<url::Url, String> {
    match url::Url::parse(v.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        Ok(u) => Err(format!(
            "'{v}' is a {} URL: expected http:// or https://, such as https://api.keepa.com",
            u.scheme()
        )),
        Err(e) => Err(format!(
            "'{v}' is not an absolute URL ({e}): expected one such as https://api.keepa.com \
             or http://127.0.0.1:18080"
        )),
    }
}

/// A log filter in tracing's syntax, checked here so that a bad one from `ARBDESK_LOG` is
/// named as coming from there.
pub(super) fn log_filter(v: &str) -> Result<String, String> {
    match tracing_subscriber::EnvFilter::try_new(v) {
        Ok(_) => Ok(v.to_string()),
        Err(e) => Err(format!(
            "'{}' is not a log filter ({e}): expected a level such as info, warn or debug, or \
             TARGET=LEVEL entries separated by commas (arbdesk=debug)",
            v.escape_debug()
        )),
    }
}

/// On or off, as a flag's environment variable gives it (`ARBDESK_READ_ONLY=1`).
pub(super) fn on_off(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
        _ => Err(format!(
            "'{v}' is neither on nor off: expected 1, true, yes or on (or 0, false, no, off)"
        )),
    }
}

/// A most-rows limit: a whole number ≥ 1 (0 rows is no export; the API's `limit` refuses
/// it too).
pub(super) fn row_limit(v: &str) -> Result<usize, String> {
    match v.trim().parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{v}' is not a number of rows: expected a whole number ≥ 1, e.g. 500"
        )),
    }
}

pub(super) fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is not between 0.0 and 1.0"))
    }
}

/// A role, as its `ValueEnum` reads it, with an empty item of the list (`api,,process`)
/// named as such: clap's own parser calls it a missing value.
#[derive(Clone, Copy, Debug)]
pub(super) struct RoleParser;

impl clap::builder::TypedValueParser for RoleParser {
    type Value = super::Role;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if value.is_empty() {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                "invalid role '': an empty item in the list; expected ingest, process or api, \
                 comma-separated (e.g. --role ingest,process)\n",
            )
            .with_cmd(cmd));
        }
        clap::builder::EnumValueParser::<super::Role>::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            <super::Role as clap::ValueEnum>::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value),
        ))
    }
}

/// A market code in any case (`de`, `UK`), as [`Market`]'s `FromStr` reads it; shell
/// completions and `--help` offer the five codes.
#[derive(Clone, Copy, Debug)]
pub(super) struct MarketParser;

impl clap::builder::TypedValueParser for MarketParser {
    type Value = crate::domain::Market;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        clap::builder::StringValueParser::new()
            .try_map(|s| {
                // The list is split at commas before this sees a part.
                if s.trim().is_empty() {
                    return Err("an empty market between commas (or at an end): list codes \
                                such as DE,IT"
                        .to_string());
                }
                s.parse::<crate::domain::Market>()
                    .map_err(|e| e.to_string())
            })
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            crate::domain::Market::ALL
                .into_iter()
                .map(|m| clap::builder::PossibleValue::new(m.code())),
        ))
    }
}
