//! How the client moves bytes: a one-method trait and its reqwest implementation.
//!
//! The client's logic (token budget, retries, error typing) is independent of HTTP
//! plumbing, so it sits behind `Transport`. Production uses `ReqwestTransport` (rustls,
//! gzip; 10 s to connect, 30 s of silence and 120 s in all, see `client::settings`). The simulator offers an
//! in-process transport, which lets tests run the real client against the real simulator on
//! tokio's paused clock.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use url::Url;

/// An HTTP response: status and the (already decompressed) body.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: Bytes,
}

/// A failure below HTTP. Messages never contain the request URL (it holds the key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Connect or read timeout.
    #[error("request timed out")]
    Timeout,
    /// Could not connect: the request was never sent.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The connection failed once the request was sent (closed or reset before an answer):
    /// Keepa may have run it, and charged for it.
    #[error("the connection failed after the request was sent: {0}")]
    Dropped(String),
    /// The body could not be read or decompressed (truncated, bad gzip).
    #[error("reading the response body failed: {0}")]
    Body(String),
}

/// The future a transport returns.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'a>>;

/// Sends one GET request.
pub trait Transport: Send + Sync {
    /// GETs `url`, asking for gzip.
    fn get<'a>(&'a self, url: &'a Url) -> TransportFuture<'a>;
}

/// The production transport: reqwest with rustls and gzip.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with the given timeouts: to connect, of silence while reading, in all.
    pub fn new(
        connect_timeout: Duration,
        read_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .timeout(timeout)
            .gzip(true)
            // Keepa does not redirect; following one would send the key (a query parameter)
            // to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arbdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Connect(describe(e)))?;
        Ok(ReqwestTransport { client })
    }
}

/// Describes a reqwest error with its causes, never its URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn classify(e: reqwest::Error, reading_body: bool) -> TransportError {
    // A connect error (a connect timeout too) is the only one that says nothing was sent.
    if e.is_connect() {
        TransportError::Connect(describe(e))
    } else if e.is_timeout() {
        TransportError::Timeout
    } else if reading_body || e.is_body() || e.is_decode() {
        TransportError::Body(describe(e))
    } else {
        TransportError::Dropped(describe(e))
    }
}

impl Transport for ReqwestTransport {
    fn get<'a>(&'a self, url: &'a Url) -> TransportFuture<'a> {
        Box::pin(async move {
            let resp = self
                .client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| classify(e, false))?;
            let status = resp.status().as_u16();
            let body = read_body(resp, MAX_BODY).await?;
            Ok(HttpResponse { status, body })
        })
    }
}

/// The most of an answer read, decompressed: 100 products with 90 days of history are a
/// few MiB; past this it is no Keepa answer (a gzip bomb from a proxy, say), and reading
/// on would only fill memory.
const MAX_BODY: usize = 128 << 20;

/// `resp`'s body, decompressed, refused past `max` bytes.
async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Bytes, TransportError> {
    let mut body = Vec::with_capacity(resp.content_length().map_or(0, |n| (n as usize).min(max)));
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, true))? {
        if body.len() + chunk.len() > max {
            return Err(TransportError::Body(format!(
                "the answer is over {} MiB once decompressed, more than Keepa sends for a \
                 request: not read further (is the Keepa URL a Keepa endpoint?)",
                max >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn transport() -> ReqwestTransport {
        let s = Duration::from_secs(5);
        ReqwestTransport::new(s, s, s).unwrap()
    }

    /// A gzip bomb (here 1 MiB of zeros in ~1 KB) is read only up to the limit.
    #[tokio::test]
    async fn an_answer_past_the_limit_is_refused_once_decompressed() {
        use std::io::Write;
        use tokio::io::AsyncWriteExt;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'0'; 1 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                    bomb.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&bomb).await;
            }
        });
        let url = Url::parse(&format!("http://{addr}/product?key=k")).unwrap();
        let resp = transport().client.get(url.clone()).send().await.unwrap();
        let err = read_body(resp, 512 << 10).await.unwrap_err();
        assert!(
            matches!(&err, TransportError::Body(m) if m.contains("over 0 MiB once decompressed")),
            "{err:?}"
        );
        // Under the limit it is read whole.
        let resp = transport().client.get(url).send().await.unwrap();
        assert_eq!(read_body(resp, 2 << 20).await.unwrap().len(), 1 << 20);
    }

    /// Only a failure to connect says the request was never sent (its tokens go back); a
    /// connection closed once the request was sent is a request Keepa may have charged.
    #[tokio::test]
    async fn a_connection_closed_after_the_request_is_not_taken_for_one_never_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                // Read the request, then hang up without an answer.
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
            }
        });
        let url = Url::parse(&format!("http://{addr}/product?key=k")).unwrap();
        let err = transport().get(&url).await.unwrap_err();
        assert!(matches!(err, TransportError::Dropped(_)), "{err:?}");

        // Nothing listening: never sent.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let url = Url::parse(&format!("http://{closed}/product?key=k")).unwrap();
        let err = transport().get(&url).await.unwrap_err();
        assert!(matches!(err, TransportError::Connect(_)), "{err:?}");
    }
}
