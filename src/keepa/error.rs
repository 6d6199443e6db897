//! The Keepa client's error type: one variant per way a caller must react.
//!
//! `Auth` and `Payment` stop all Keepa traffic until the operator acts; `BadRequest` and
//! `NotFound` are bugs in the request and are not retried; `Unavailable` is what is left
//! after the retry budget for 5xx, timeouts and unparseable bodies is spent. No message
//! ever contains the API key: transport errors are stripped of their URL and server text is
//! redacted before it is stored.

/// What went wrong talking to Keepa.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// HTTP 400 naming the key, or 401/403: the key is wrong or refused.
    #[error(
        "Keepa rejected the API key (HTTP {status}: {message}); set a valid key in KEEPA_API_KEY or with --keepa-key, then start arbdesk again (with no key, a --keepa-url server is sent the key `demo`, which `arbdesk keepa-sim` accepts)"
    )]
    Auth {
        /// The HTTP status.
        status: u16,
        /// Keepa's message.
        message: String,
    },
    /// HTTP 402: no active subscription.
    #[error(
        "the Keepa key has no active subscription (HTTP 402); renew the plan at keepa.com, then start arbdesk again"
    )]
    Payment,
    /// HTTP 400/405: the request itself is wrong.
    #[error("Keepa rejected /{endpoint} (HTTP {status}): {message}")]
    BadRequest {
        /// Endpoint path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Keepa's message.
        message: String,
    },
    /// HTTP 404: unknown path.
    #[error("Keepa has no endpoint /{endpoint}: {url} answered HTTP 404; check --keepa-url")]
    NotFound {
        /// Endpoint path.
        endpoint: String,
        /// The URL asked, without its query (which holds the key).
        url: String,
    },
    /// Retries exhausted on server errors, timeouts, resets or unparseable bodies.
    #[error("Keepa /{endpoint} ({url}) failed after {attempts} attempts; last error: {last}")]
    Unavailable {
        /// Endpoint path.
        endpoint: String,
        /// The URL asked, without its query (which holds the key).
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// An earlier `Auth` or `Payment` error stopped all traffic.
    #[error("Keepa traffic is stopped: {reason}")]
    Stopped {
        /// The error that stopped it.
        reason: String,
    },
    /// Any other HTTP status.
    #[error("Keepa answered /{endpoint} with unexpected HTTP {status}: {message}")]
    Unexpected {
        /// Endpoint path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Body excerpt.
        message: String,
    },
    /// The plan refills no tokens, so a request with a cost can never run.
    #[error(
        "the Keepa plan refills {rate} tokens per minute{}; requests that cost tokens cannot \
         run",
        held_back_said(.reduction)
    )]
    NoRefill {
        /// Keepa's `refillRate`.
        rate: i64,
        /// Keepa's `tokenFlowReduction` as it gave it (`19.5`), empty for none: tokens a
        /// minute held back from the refill.
        reduction: String,
    },
    /// The caller asked for something invalid before anything was sent.
    #[error("invalid Keepa request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// Whether this error stops all further traffic (bad key, no subscription).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. } | Error::Payment | Error::Stopped { .. }
        )
    }
}

/// What Keepa holds back of the refill (`tokenFlowReduction`), as the no-refill error says
/// it: the reason a plan with a refill rate still gets nothing to spend.
fn held_back_said(reduction: &str) -> String {
    if reduction.is_empty() {
        String::new()
    } else {
        format!(
            ", less {reduction} a minute Keepa holds back (tokenFlowReduction), which leaves \
             less than one"
        )
    }
}

impl Error {
    /// The plan's `rate` less Keepa's `reduction` leaves no whole token a minute.
    pub fn no_refill(rate: i64, reduction: f64) -> Self {
        Error::NoRefill {
            rate,
            reduction: if reduction.is_finite() && reduction > 0.0 {
                reduction.to_string()
            } else {
                String::new()
            },
        }
    }
}
