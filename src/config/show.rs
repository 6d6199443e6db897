//! `arbdesk config show`: the effective configuration, written as a config file.
//!
//! Every layer (defaults, file, environment, flags) is already merged into `Settings`; this
//! prints the result in the file's own shape, so the output can be saved and used as a
//! config file. The economics sections are printed in full — the shipped tables with the
//! file's sections over them, FX rate and table dates included — because those are the
//! numbers a seller checks. Secrets never appear: the Keepa key, the API token, passwords
//! inside URLs, Elasticsearch credentials and Kafka options that hold credentials are all
//! shown as `***`.

use std::fmt::Write as _;

use super::Settings;
use crate::economics::EconomicsConfig;
use crate::queue::QueueConfig;
use crate::store::StoreConfig;

/// What every redacted secret is shown as.
const REDACTED: &str = "***";

pub(super) fn render(s: &Settings) -> String {
    let mut o = String::new();
    let q = |v: &str| toml::Value::String(v.to_string()).to_string();
    let _ = writeln!(
        o,
        "# effective configuration (config file: {})",
        s.config_file
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string())
    );
    let _ = writeln!(o, "data_dir = {}", q(&s.data_dir.display().to_string()));
    let markets: Vec<String> = s.markets.iter().map(|m| q(m.code())).collect();
    let _ = writeln!(o, "markets = [{}]", markets.join(", "));
    let roles: Vec<String> = s
        .roles
        .iter()
        .map(|r| q(&format!("{r:?}").to_lowercase()))
        .collect();
    let _ = writeln!(o, "roles = [{}]", roles.join(", "));
    let _ = writeln!(o, "log = {}", q(&s.log));
    let _ = writeln!(o, "read_only = {}", s.read_only);
    let _ = writeln!(
        o,
        "\n[keepa]\nkey = {}",
        if s.keepa.key.is_some() {
            q(REDACTED)
        } else {
            q("")
        }
    );
    let _ = writeln!(
        o,
        "url = {}\ndemo_seed = {}",
        q(&redact_url(s.keepa.url.as_str())),
        s.keepa.demo_seed,
    );
    let _ = match s.keepa.buybox_set {
        Some(b) => writeln!(o, "buybox = {}", b.toml()),
        None => writeln!(
            o,
            "# buybox: not set, so {} (true for demo data; \"routes\" with a key: +2 tokens a \
             product and market with a profitable route; false: none, true: every product)",
            s.keepa.buybox.toml()
        ),
    };
    let _ = writeln!(
        o,
        "# source: {}",
        if s.keepa.is_demo() {
            "demo (built-in simulator)"
        } else {
            "live"
        }
    );
    let addr = s.api.addr.map_or("off".to_string(), |a| a.to_string());
    let _ = writeln!(
        o,
        "\n[api]\naddr = {}\ntoken = {}",
        q(&addr),
        if s.api.token.is_some() {
            q(REDACTED)
        } else {
            q("")
        }
    );
    let origins: Vec<String> = s.api.cors_origins.iter().map(|c| q(c)).collect();
    let hosts: Vec<String> = s.api.allowed_hosts.iter().map(|h| q(h)).collect();
    let _ = writeln!(
        o,
        "cors_origins = [{}]\nallowed_hosts = [{}]\ninsecure_no_auth = {}",
        origins.join(", "),
        hosts.join(", "),
        s.api.insecure_no_auth
    );
    let _ = writeln!(
        o,
        "request_timeout_secs = {}\nbody_limit_bytes = {}",
        s.api.request_timeout.as_secs_f64(),
        s.api.body_limit
    );
    let mut queue = s.queue.clone();
    if let QueueConfig::Kafka(k) = &mut queue {
        for (key, v) in k.options.iter_mut() {
            if secret_option(key) {
                *v = REDACTED.into();
            }
        }
    }
    let _ = write!(o, "\n{}", section("queue", &queue));
    let mut store = s.store.clone();
    if let StoreConfig::Elasticsearch(e) = &mut store {
        e.url = redact_url(&e.url);
        for secret in [&mut e.password, &mut e.api_key] {
            if secret.is_some() {
                *secret = Some(REDACTED.into());
            }
        }
    }
    let _ = write!(o, "\n{}", section("store", &store));
    // What the SQLite store's unset keys come to, as the README's table gives them.
    if let StoreConfig::Sqlite { path, history_days } = &s.store {
        if path.is_none()
            && let Some(file) = s.store.local_file(&s.data_dir)
        {
            let _ = writeln!(o, "# path: not set, so {}", q(&file.display().to_string()));
        }
        if history_days.is_none() {
            let days = crate::store::sqlite::SqliteOptions::default().history_days;
            let _ = writeln!(o, "# history_days: not set, so {days}");
        }
    }
    let p = &s.pipeline;
    let _ = writeln!(
        o,
        "\n[pipeline]\nrefresh_interval_secs = {}\ndemo_refresh_interval_secs = {}\n\
         fetch_batch = {}\nprocess_batch = {}",
        p.intervals.live.as_secs(),
        p.intervals.demo.as_secs(),
        p.fetch_batch,
        p.process_batch
    );
    let cats: Vec<String> = p
        .discovery
        .iter()
        .map(|c| {
            format!(
                "{{ market = {}, category = {} }}",
                q(c.market.code()),
                q(&c.category)
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "\n[discovery]\ninterval_hours = {}\ntake = {}\ncategories = [{}]",
        p.discovery_interval.as_secs_f64() / 3600.0,
        p.discovery_take,
        cats.join(", ")
    );
    let c = &s.console;
    let _ = writeln!(
        o,
        "\n[console]\ntheme = {}\nkeymap = {}\nclipboard = {}\nhyperlinks = {}\nalert_margin_pct = {}\nmouse = {}",
        q(c.theme.as_deref().unwrap_or("auto")),
        q(&c.keymap),
        q(&c.clipboard),
        q(&c.hyperlinks),
        c.alert_margin_pct,
        c.mouse
    );
    let _ = write!(
        o,
        "\n# economics: the shipped tables{}\n{}",
        if s.economics.is_empty() {
            ""
        } else {
            ", with this file's sections over them"
        },
        economics(&s.model.config)
    );
    if s.model.config.economics.vat_registered_in.is_none() {
        // Said beside the scheme it qualifies.
        o = o.replacen(
            "\nvat_scheme = ",
            "\n# vat_registered_in: not set, so not checked (a VAT number is assumed in every \
             market; a UK purchase's recovered input VAT is flagged VAT_REGISTRATION)\nvat_scheme = ",
            1,
        );
    }
    o
}

/// `value` as the TOML section `[name]`, nested tables as `[name.sub]`.
fn section<T: serde::Serialize>(name: &str, value: &T) -> String {
    let mut t = toml::Table::new();
    match toml::Value::try_from(value) {
        Ok(v) => {
            t.insert(name.to_string(), v);
            toml::to_string(&t).unwrap_or_default()
        }
        Err(e) => format!("# [{name}] cannot be shown: {e}\n"),
    }
}

/// The economics sections. Amounts are exact decimals, which serialize as strings; they are
/// written as TOML numbers when that reads back to exactly the same tables, else as strings
/// (which read back exactly too).
fn economics(config: &EconomicsConfig) -> String {
    let Ok(exact) = toml::Value::try_from(config) else {
        return "# the economics tables cannot be shown\n".to_string();
    };
    let mut numbers = exact.clone();
    decimals_as_numbers(&mut numbers);
    let same = numbers.clone().try_into::<EconomicsConfig>().ok().as_ref() == Some(config);
    toml::to_string(if same { &numbers } else { &exact }).unwrap_or_default()
}

/// Turns every string that is a plain decimal number (`0.20`, `-3`) into a TOML float.
fn decimals_as_numbers(v: &mut toml::Value) {
    match v {
        toml::Value::String(s) => {
            let plain = s.bytes().any(|b| b.is_ascii_digit())
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
            if let Some(f) = plain.then(|| s.parse::<f64>().ok()).flatten() {
                *v = toml::Value::Float(f);
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(decimals_as_numbers),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| decimals_as_numbers(v)),
        _ => {}
    }
}

/// Whether a Kafka (librdkafka) option holds a credential: passwords, secrets, tokens,
/// keys, and `sasl.oauthbearer.config`, whose value is a list of secrets.
pub(super) fn secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "key", "credential"]
        .iter()
        .any(|w| key.contains(w))
        || key.starts_with("sasl.oauthbearer.config")
        || key == "sasl.jaas.config"
}

/// `urls` (one URL, or several separated by commas) with every password, and any query
/// value that looks like a credential, redacted. A URL with no secret in it is shown exactly
/// as written.
pub(crate) fn redact_url(urls: &str) -> String {
    urls.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(text: &str) -> String {
    let Ok(mut u) = url::Url::parse(text.trim()) else {
        return text.to_string();
    };
    let secret_key = |k: &str| secret_option(k) || k.eq_ignore_ascii_case("auth");
    let secret_query = u.query_pairs().any(|(k, _)| secret_key(&k));
    if u.password().is_none() && !secret_query {
        return text.to_string();
    }
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if secret_query {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_key(&k) {
                    REDACTED.into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets_and_nothing_else() {
        assert_eq!(
            redact_url("https://a:pw@es1:9200,http://es2:9200"),
            "https://a:***@es1:9200/,http://es2:9200"
        );
        assert_eq!(
            redact_url("https://api.keepa.com/?region=eu&token=t0k"),
            "https://api.keepa.com/?region=eu&token=***"
        );
        assert_eq!(redact_url("https://api.keepa.com"), "https://api.keepa.com");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn kafka_credentials_are_secret_and_plain_options_are_not() {
        for key in [
            "sasl.password",
            "sasl.oauthbearer.config",
            "sasl.oauthbearer.client.secret",
            "ssl.key.password",
            "ssl.keystore.password",
        ] {
            assert!(secret_option(key), "{key}");
        }
        for key in ["client.id", "sasl.mechanism", "sasl.username", "acks"] {
            assert!(!secret_option(key), "{key}");
        }
    }
}
