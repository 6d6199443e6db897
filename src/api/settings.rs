//! The API's settings and the one safety rule about where it may listen.
//!
//! `ApiSettings` is what the API runs with: `serve` builds it from the config layer's
//! `config::ApiConfig` and checks it once ([`ApiSettings::validate`]) before it listens;
//! nothing in the API re-checks it at request time. The bearer token is a secret: `BearerToken`'s `Debug` and
//! `Display` never show it, and comparing a presented token takes the same time wherever
//! the first differing byte is. `check_bind` is the rule that keeps an unauthenticated API
//! off the network: a non-loopback address needs a token or an explicit
//! `--insecure-no-auth`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use subtle::ConstantTimeEq;

/// The API's bearer token. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Validates a token: 1 to 512 visible ASCII characters, no spaces (it travels in an
    /// `Authorization` header).
    pub fn new(token: impl Into<String>) -> Result<Self, String> {
        let token = token.into();
        if token.is_empty() {
            return Err("the API token is empty: set a non-empty api.token / ARBDESK_API_TOKEN, or unset it".into());
        }
        if token.len() > 512 {
            return Err(format!(
                "the API token is {} characters long; the maximum is 512",
                token.len()
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the API token may only hold visible ASCII characters (no spaces or control characters)"
                    .into(),
            );
        }
        Ok(BearerToken(token))
    }

    /// The token itself, for a client that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in a time that depends on neither where they
    /// differ nor the token's length (only on the length of what was sent).
    pub fn matches(&self, presented: &[u8]) -> bool {
        let token = self.0.as_bytes(); // never empty (`new`)
        let mut differ = 0u8;
        let mut j = 0;
        for &b in presented {
            differ |= b ^ token[j];
            // Back to the token's start at its end, without a branch.
            j += 1;
            j *= usize::from(j < token.len());
        }
        let same_len = (presented.len() as u64).ct_eq(&(token.len() as u64));
        (differ.ct_eq(&0) & same_len).into()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

impl fmt::Display for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the API listens and whom it lets in.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// Listen address; 127.0.0.1:8000 by default.
    pub addr: SocketAddr,
    /// Required as `Authorization: Bearer …` on every endpoint but `/health`, `/docs` and
    /// `/openapi.json` when set.
    pub bearer_token: Option<BearerToken>,
    /// Origins allowed by CORS (`https://dash.example.com`, or `*`); empty = no CORS headers.
    pub cors_origins: Vec<String>,
    /// Without a token, the `Host` names answered besides IP addresses and `localhost`
    /// (lowercase; `*` for any). A web page on another name that resolves to this machine
    /// (DNS rebinding) is refused, so it cannot read an open loopback API.
    pub allowed_hosts: Vec<String>,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Allow a non-loopback address without a token (explicit opt-in).
    pub insecure_no_auth: bool,
    /// Refuse requests that change stored data (`POST /jobs/…`) with 403 (`--read-only`).
    pub read_only: bool,
    /// Most responses kept in the response cache.
    pub cache_max_entries: usize,
    /// Most bytes of response bodies kept in the response cache.
    pub cache_max_bytes: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000),
            bearer_token: None,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            request_timeout: Duration::from_secs(10),
            body_limit: 64 * 1024,
            insecure_no_auth: false,
            read_only: false,
            cache_max_entries: 4096,
            cache_max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl ApiSettings {
    /// Whether a request naming `host` (a `Host` header value) is answered: always with a
    /// token (it guards the data), else for IP addresses, `localhost` and
    /// `api.allowed_hosts`.
    pub fn allows_host(&self, host: &str) -> bool {
        if self.bearer_token.is_some() || self.allowed_hosts.iter().any(|h| h == "*") {
            return true;
        }
        let name = match host.strip_prefix('[') {
            // `[::1]:8000`: an IPv6 literal.
            Some(rest) => {
                return rest
                    .split(']')
                    .next()
                    .is_some_and(|ip| ip.parse::<IpAddr>().is_ok());
            }
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host,
            },
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.allowed_hosts.contains(&name)
    }

    /// Whether `api.cors_origins` lets a web page at `origin` read the API (`*` lets all).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| o == "*" || o == origin)
    }

    /// Whether `api.cors_origins` names `origin` itself: what starting a job or an action
    /// from a web page takes (`*` lets pages read, never act).
    pub fn names_origin(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| o == origin)
    }

    /// Checks everything `router` and `serve` rely on: the bind rule, the CORS origins, a
    /// non-zero timeout. Start-up (`commands::serve::api_settings`) calls this once.
    pub fn validate(&self) -> Result<(), String> {
        check_bind(self)?;
        for origin in &self.cors_origins {
            check_origin(origin)?;
        }
        if self.bearer_token.is_none() && self.cors_origins.iter().any(|o| o == "*") {
            return Err(
                "api.cors_origins = [\"*\"] with no api.token lets every web page the \
                 operator opens read this API: list the origins that may (e.g. \
                 [\"http://localhost:3000\"]), or set api.token (ARBDESK_API_TOKEN)"
                    .into(),
            );
        }
        if self.request_timeout.is_zero() {
            return Err("api.request_timeout is 0: set a positive duration such as 10s".into());
        }
        Ok(())
    }
}

/// The shortest token accepted on an address other machines reach: guessing it must take
/// longer than anyone will try.
pub(crate) const MIN_NETWORK_TOKEN: usize = 16;

/// Whether only this machine can reach `addr` (127.0.0.0/8, ::1, and IPv4 loopback
/// written as IPv6, `::ffff:127.0.0.1`).
pub(crate) fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Refuses to listen on a non-loopback address without a bearer token, unless
/// `insecure_no_auth` says so explicitly.
pub fn check_bind(settings: &ApiSettings) -> Result<(), String> {
    check_addr(settings.addr, settings)
}

/// `check_bind` for an address other than the configured one (the bound socket's).
pub(crate) fn check_addr(addr: SocketAddr, settings: &ApiSettings) -> Result<(), String> {
    if is_loopback(addr) {
        return Ok(());
    }
    if let Some(token) = &settings.bearer_token {
        let n = token.expose().len();
        if n < MIN_NETWORK_TOKEN && !settings.insecure_no_auth {
            return Err(format!(
                "refusing to serve the API on {addr} with a token of {n} characters: a token \
                 that guards an address other machines reach needs at least {MIN_NETWORK_TOKEN} \
                 (`openssl rand -hex 32` makes one). Set a longer api.token / \
                 ARBDESK_API_TOKEN, or bind 127.0.0.1"
            ));
        }
        return Ok(());
    }
    if settings.insecure_no_auth {
        return Ok(());
    }
    Err(format!(
        "refusing to serve the API on {addr} without authentication: it is reachable from other \
         machines. Set api.token / ARBDESK_API_TOKEN, or pass --insecure-no-auth, or bind \
         127.0.0.1"
    ))
}

pub(crate) use crate::config::check_origin;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_only_addresses_localhost_and_listed_names_are_answered() {
        let mut s = ApiSettings::default();
        for ok in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "[::1]:8000",
            "localhost:8000",
            "LOCALHOST",
            "app.localhost",
            "192.168.1.20:8000",
        ] {
            assert!(s.allows_host(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8000",
            "127.0.0.1.evil.example",
            "[nope]:1",
        ] {
            assert!(!s.allows_host(refused), "{refused}");
        }
        s.allowed_hosts = vec!["arbdesk.lan".into()];
        assert!(s.allows_host("arbdesk.lan:8000") && s.allows_host("ARBDESK.LAN."));
        assert!(!s.allows_host("evil.example"));
        s.allowed_hosts = vec!["*".into()];
        assert!(s.allows_host("evil.example"));
        s.allowed_hosts.clear();
        s.bearer_token = Some(BearerToken::new("tok").unwrap());
        assert!(
            s.allows_host("arbdesk.example.com"),
            "a token guards the data itself"
        );
    }

    #[test]
    fn token_never_shows_and_compares_exactly() {
        let t = BearerToken::new("abc123").unwrap();
        assert_eq!(format!("{t:?} {t}"), "BearerToken(***) ***");
        assert!(t.matches(b"abc123"));
        assert!(!t.matches(b"abc124"));
        assert!(!t.matches(b"abc12"));
        assert!(!t.matches(b""));
        assert!(!t.matches(b"abc123abc123"), "the token twice");
        assert!(!t.matches(b"abc1234"));
        assert!(BearerToken::new("").is_err());
        assert!(BearerToken::new("has space").is_err());
    }

    #[test]
    fn any_origin_takes_a_token_and_never_starts_anything() {
        let mut s = ApiSettings {
            cors_origins: vec!["*".into()],
            ..ApiSettings::default()
        };
        let err = s.validate().unwrap_err();
        assert!(
            err.contains("api.cors_origins") && err.contains("api.token"),
            "{err}"
        );
        s.bearer_token = Some(BearerToken::new("a-long-enough-token").unwrap());
        assert_eq!(s.validate(), Ok(()));
        assert!(s.allows_origin("https://evil.example"), "it may read");
        assert!(!s.names_origin("https://evil.example"), "not act");
        s.cors_origins = vec!["https://dash.example".into()];
        assert!(s.names_origin("https://dash.example"));
    }

    #[test]
    fn origins_must_be_bare() {
        assert!(check_origin("https://dash.example.com").is_ok());
        assert!(check_origin("http://localhost:3000").is_ok());
        assert!(check_origin("*").is_ok());
        for bad in [
            "dash.example.com",
            "https://x.com/",
            "https://x.com/a",
            "ftp://x.com",
            "",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_needs_no_token() {
        let mut s = ApiSettings::default();
        assert!(check_bind(&s).is_ok());
        s.addr = "[::1]:8000".parse().unwrap();
        assert!(check_bind(&s).is_ok());
        s.addr = "0.0.0.0:8000".parse().unwrap();
        let err = check_bind(&s).unwrap_err();
        assert!(
            err.contains("0.0.0.0:8000") && err.contains("--insecure-no-auth"),
            "{err}"
        );
        s.insecure_no_auth = true;
        assert!(check_bind(&s).is_ok());
    }
}
