//! `[store] type = "elasticsearch"`: where the cluster is and how to talk to it. Parsed
//! and checked in every build, so a binary built without the `elasticsearch` feature can
//! still say what is wrong with a config file that asks for it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

/// `[store] type = "elasticsearch"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsSettings {
    /// Node URLs, comma-separated (`http://es1:9200,http://es2:9200`).
    pub url: String,
    /// Prefix of every index name (lower case), so several installations share a cluster.
    #[serde(default = "default_prefix")]
    pub index_prefix: String,
    /// Basic authentication user (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic authentication password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An API key as Elasticsearch prints it (base64 of `id:key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// A PEM file with the CA that signed the cluster's certificate (self-signed clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Verify the cluster's certificate (default true; false is for diagnosis only).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Days of price history kept per series (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_days: Option<u32>,
    /// When writes become visible to searches: `true` (refresh after every bulk write, the
    /// default: writes are batched, and the console and API see them at once), `wait_for`
    /// or `false` (the index's refresh interval decides).
    #[serde(default = "default_refresh")]
    pub refresh: String,
    /// Request timeout in seconds (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_prefix() -> String {
    "arbdesk-".into()
}

fn default_true() -> bool {
    true
}

fn default_refresh() -> String {
    "true".into()
}

fn default_timeout() -> u64 {
    30
}

impl EsSettings {
    /// Settings for the cluster at `url` with every default.
    pub fn new(url: impl Into<String>) -> EsSettings {
        EsSettings {
            url: url.into(),
            index_prefix: default_prefix(),
            username: None,
            password: None,
            api_key: None,
            ca_cert: None,
            tls_verify: true,
            history_days: None,
            refresh: default_refresh(),
            timeout_secs: default_timeout(),
        }
    }

    /// Checks the settings without connecting.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.index_prefix;
        let bad = p
            .chars()
            .find(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(*c) || c.is_whitespace());
        if let Some(c) = bad {
            return Err(format!(
                "index_prefix '{p}' contains '{c}': use lower-case letters, digits, '-', '_' \
                 or '.'"
            ));
        }
        if p.starts_with(['-', '_', '+']) {
            return Err(format!(
                "index_prefix '{p}' starts with '{}': index names cannot",
                &p[..1]
            ));
        }
        if !["true", "false", "wait_for"].contains(&self.refresh.as_str()) {
            return Err(format!(
                "refresh '{}' is not one of true, wait_for, false",
                self.refresh
            ));
        }
        if let Some(d) = self.history_days.filter(|d| !(1..=36_500).contains(d)) {
            return Err(format!(
                "history_days is {d}: keep 1 to 36500 days of price history"
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("set both username and password for basic authentication".into());
        }
        if self.timeout_secs == 0 {
            return Err("timeout_secs is 0: give requests at least a second".into());
        }
        self.urls().map(|_| ())
    }

    pub(crate) fn urls(&self) -> Result<Vec<Url>, String> {
        let urls: Result<Vec<Url>, String> = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                Url::parse(u)
                    .ok()
                    .filter(|p| ["http", "https"].contains(&p.scheme()))
                    .ok_or_else(|| {
                        format!(
                            "url '{u}' (--es-url, ARBDESK_ES_URL) is not an Elasticsearch URL: \
                             use http(s)://HOST:9200"
                        )
                    })
            })
            .collect();
        match urls? {
            v if v.is_empty() => {
                Err("no Elasticsearch URL: set url, e.g. http://127.0.0.1:9200".into())
            }
            v => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_before_connecting() {
        let ok = EsSettings::new("http://127.0.0.1:9200, https://es2:9200");
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.urls().map(|u| u.len()), Ok(2));
        let bad = |f: fn(&mut EsSettings)| {
            let mut s = EsSettings::new("http://127.0.0.1:9200");
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.url = "127.0.0.1:9200".into()).contains("http(s)://"));
        assert!(bad(|s| s.url = "htp://es:9200".into()).contains("--es-url"));
        assert!(bad(|s| s.url = " , ".into()).contains("no Elasticsearch URL"));
        assert!(bad(|s| s.index_prefix = "Arb-".into()).contains("'A'"));
        assert!(bad(|s| s.index_prefix = "_arb".into()).contains("starts with"));
        assert!(bad(|s| s.refresh = "always".into()).contains("wait_for"));
        assert!(bad(|s| s.history_days = Some(0)).contains("history_days"));
        assert!(bad(|s| s.username = Some("u".into())).contains("password"));
    }
}
