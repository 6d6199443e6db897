//! The client under the store: one `elasticsearch` client per node given (credentials,
//! TLS, timeouts), requests going round the nodes and passing over for 30 s one that did
//! not answer, and the handful of JSON requests the store makes — search, count, multi-get
//! and bulk — with every failure turned into a `StoreError` that says what to do. This is
//! the only file that names the `elasticsearch` crate.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use elasticsearch::indices::{IndicesCreateParts, IndicesExistsParts, IndicesPutMappingParts};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkParts, CountParts, Elasticsearch, MgetParts, SearchParts};
use serde_json::{Value, json};
use url::Url;

use super::bulk::{Bulk, Item};
use super::docs::{self, Ix};
use crate::component::ComponentHealth;
use crate::config::redact_url;
use crate::store::write_error::LastWriteError;
use crate::store::{EsSettings, StoreError, StoreResult};

/// The connection and the requests the store makes.
pub(crate) struct Es {
    /// One client per node given; requests go round the nodes that answer.
    nodes: Vec<Node>,
    next: AtomicUsize,
    pub(super) url: String,
    pub(super) prefix: String,
    refresh: Refresh,
    /// The indices exist (checked or created since the last time one was found missing).
    ready: AtomicBool,
    /// The last write's error, cleared by a successful write.
    last_write_error: LastWriteError,
    /// When (microseconds, a report's time) lapsed process reports were last looked for.
    pub(super) reports_swept: AtomicI64,
}

/// The paths of the node URLs in `urls` (comma-separated) that have one beyond `/`.
fn url_paths(urls: &str) -> Option<String> {
    let paths: Vec<String> = urls
        .split(',')
        .filter_map(|u| url::Url::parse(u.trim()).ok())
        .map(|u| u.path().trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .collect();
    (!paths.is_empty()).then(|| paths.join(", "))
}

/// What an Elasticsearch `error` says: its `reason`, or the error itself when it is only a
/// string (as proxies and some failures give it).
fn reason_of(error: &Value) -> String {
    match (error.as_str(), error["reason"].as_str()) {
        (Some(text), _) | (None, Some(text)) => text.to_string(),
        _ => error.to_string(),
    }
}

/// One node of the cluster, as given in `url`.
struct Node {
    url: String,
    client: Elasticsearch,
    /// Not sent requests until then: it did not answer the last one.
    resting_until: Mutex<Option<Instant>>,
}

impl Node {
    /// Whether the node is passed over at `now`.
    fn resting(&self, now: Instant) -> bool {
        self.resting_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| t > now)
    }

    /// Passes the node over for `NODE_REST`: it did not answer.
    fn rest(&self) {
        *self
            .resting_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + NODE_REST);
    }
}

/// How long a node that did not answer is passed over while others answer.
const NODE_REST: Duration = Duration::from_secs(30);

impl Es {
    pub(super) fn connect(s: &EsSettings) -> Result<Es, StoreError> {
        let urls = s.urls().map_err(StoreError::Invalid)?;
        let nodes = urls
            .into_iter()
            .map(|url| {
                Ok(Node {
                    // As messages and the health show it: a password in it redacted.
                    url: redact_url(url.as_str()).trim_end_matches('/').to_string(),
                    client: Elasticsearch::new(Self::transport(s, url)?),
                    resting_until: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<Node>, StoreError>>()?;
        let refresh = match s.refresh.as_str() {
            "false" => Refresh::False,
            "wait_for" => Refresh::WaitFor,
            _ => Refresh::True,
        };
        Ok(Es {
            nodes,
            next: AtomicUsize::new(0),
            url: redact_url(&s.url),
            prefix: s.index_prefix.clone(),
            refresh,
            ready: AtomicBool::new(false),
            last_write_error: LastWriteError::default(),
            reports_swept: AtomicI64::new(i64::MIN),
        })
    }

    /// The transport to one node, with the settings' credentials, TLS and timeout.
    fn transport(s: &EsSettings, url: Url) -> Result<Transport, StoreError> {
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(Duration::from_secs(s.timeout_secs))
            .disable_proxy();
        if let (Some(user), Some(pass)) = (&s.username, &s.password) {
            builder = builder.auth(Credentials::Basic(user.clone(), pass.clone()));
        }
        if let Some(key) = &s.api_key {
            builder = builder.auth(Credentials::EncodedApiKey(key.clone()));
        }
        let validation = match (&s.ca_cert, s.tls_verify) {
            (_, false) => CertificateValidation::None,
            (Some(path), true) => {
                let pem = std::fs::read(path).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot read the CA certificate {}: {e}; check ca_cert in [store]",
                        path.display()
                    ))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    StoreError::Invalid(format!(
                        "{} is not a PEM certificate: {e}; check ca_cert in [store]",
                        path.display()
                    ))
                })?;
                CertificateValidation::Full(cert)
            }
            (None, true) => CertificateValidation::Default,
        };
        builder.cert_validation(validation).build().map_err(|e| {
            StoreError::Invalid(format!("cannot set up the Elasticsearch client: {e}"))
        })
    }

    /// The node for the next request: the next in turn that is not resting after failing
    /// to answer (the next in turn when all are).
    fn node(&self) -> &Node {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        (0..n)
            .map(|i| &self.nodes[(start + i) % n])
            .find(|node| !node.resting(now))
            .unwrap_or(&self.nodes[start % n])
    }

    /// The full name of an index.
    pub fn name(&self, ix: Ix) -> String {
        format!("{}{}", self.prefix, ix.suffix())
    }

    /// `node` did not answer: it rests while others answer, and the error says so.
    fn unreachable(&self, node: &Node, what: &str, e: impl std::error::Error) -> StoreError {
        let others = if self.nodes.len() > 1 {
            node.rest();
            "; requests go to the other nodes for 30 s"
        } else {
            ""
        };
        // An `https://` URL at a node that speaks plain HTTP answers, but not in TLS.
        let mut chain = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            chain.push_str(&format!(": {c}"));
            cause = c.source();
        }
        let plain = node.url.starts_with("https:")
            && [
                "handshake eof",
                "wrong version number",
                "InvalidContentType",
                "corrupt message",
            ]
            .iter()
            .any(|sign| chain.contains(sign));
        if plain {
            return StoreError::Unavailable(format!(
                "Elasticsearch at {} did not complete the TLS handshake while {what} ({e}): \
                 a node that speaks plain HTTP there takes an http:// url ([store] url, \
                 --es-url or ARBDESK_ES_URL){others}",
                node.url
            ));
        }
        StoreError::Unavailable(format!(
            "Elasticsearch at {} did not answer while {what}: {e}; check that it is running \
             and reachable, and the store's url{others}",
            node.url
        ))
    }

    /// Sends a request and reads its JSON answer (timed in the debug log); statuses in
    /// `accept` are answers too.
    async fn answer(
        &self,
        node: &Node,
        what: &str,
        sent: impl Future<Output = Result<Response, elasticsearch::Error>>,
        accept: &[u16],
    ) -> StoreResult<(u16, Value)> {
        let started = Instant::now();
        let resp = sent.await.map_err(|e| self.unreachable(node, what, e))?;
        let status = resp.status_code().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| self.unreachable(node, what, e))?;
        tracing::debug!(
            what,
            status,
            bytes = text.len(),
            ms = started.elapsed().as_millis() as u64,
            "Elasticsearch answered."
        );
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status < 300 || accept.contains(&status) {
            return Ok((status, body));
        }
        let kind = body["error"]["type"].as_str().unwrap_or("");
        let reason = match &body["error"] {
            Value::Null => text.chars().take(300).collect(),
            e => reason_of(e),
        };
        if kind == "index_not_found_exception" {
            self.ready.store(false, Ordering::Relaxed);
        }
        Err(match status {
            401 | 403 => StoreError::Unavailable(format!(
                "Elasticsearch at {} refused the request while {what} (HTTP {status}: \
                 {reason}); check username/password or api_key in [store]",
                self.url
            )),
            404 if kind == "index_not_found_exception" => StoreError::Unavailable(format!(
                "an index is missing while {what} ({reason}); arbdesk creates its indices \
                 on the next request"
            )),
            408 | 429 | 500.. => StoreError::Unavailable(format!(
                "Elasticsearch at {} is overloaded or failing while {what} (HTTP {status}: \
                 {reason}); it is retried",
                self.url
            )),
            _ => StoreError::Invalid(format!(
                "Elasticsearch refused a request while {what} (HTTP {status}, {kind}: {reason})"
            )),
        })
    }

    /// Whether the products index exists (asked without creating it): a store something
    /// has written to.
    pub(super) async fn has_products_index(&self) -> StoreResult<bool> {
        let name = self.name(Ix::Products);
        let node = self.node();
        let names = [name.as_str()];
        let indices = node.client.indices();
        let sent = indices.exists(IndicesExistsParts::Index(&names)).send();
        let what = format!("asking whether the index {name} exists");
        let (status, _) = self.answer(node, &what, sent, &[404]).await?;
        Ok(status < 300)
    }

    /// Creates the indices that are missing, with their mappings.
    pub(super) async fn ensure_indices(&self) -> StoreResult<()> {
        if self.ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        for ix in Ix::ALL {
            let name = self.name(ix);
            let node = self.node();
            let indices = node.client.indices();
            let sent = indices
                .create(IndicesCreateParts::Index(&name))
                .body(docs::mapping(ix))
                .send();
            let what = format!("creating the index {name}");
            let (status, body) = self.answer(node, &what, sent, &[400]).await?;
            if status == 400 && body["error"]["type"] != "resource_already_exists_exception" {
                let reason = reason_of(&body["error"]);
                // A URL with a path puts it before every request; a server that has no
                // such endpoint says so ("no handler found for uri").
                let hint = match url_paths(&self.url) {
                    Some(paths) if reason.contains("no handler") => format!(
                        "the URL's path ({paths}) goes before every request: leave it out \
                         unless a proxy serves the cluster under it"
                    ),
                    _ => "check index_prefix and the cluster's index templates".to_string(),
                };
                return Err(StoreError::Invalid(format!(
                    "Elasticsearch refused the index {name}: {reason}; {hint}"
                )));
            }
            if status == 400 {
                // An index made by an earlier version: fields added since are added to its
                // mapping (additive; documents written before simply lack them).
                let names = [name.as_str()];
                let sent = indices
                    .put_mapping(IndicesPutMappingParts::Index(&names))
                    .body(docs::mapping(ix)["mappings"].clone())
                    .send();
                let what = format!("updating the mapping of {name}");
                let (status, body) = self.answer(node, &what, sent, &[400]).await?;
                if status == 400 {
                    return Err(StoreError::Invalid(format!(
                        "Elasticsearch refused the mapping of {name}: {}; an index made by \
                         another program under this index_prefix? Use another prefix",
                        reason_of(&body["error"])
                    )));
                }
            }
        }
        self.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn note_write<T>(&self, out: &StoreResult<T>) {
        match out {
            Ok(_) => self.last_write_error.succeeded(),
            // A request refused for what it asked is the caller's error, not the store's.
            Err(StoreError::Invalid(_)) => {}
            Err(e) => self.last_write_error.failed(e.to_string()),
        }
    }

    pub(super) async fn health(&self) -> ComponentHealth {
        let started = Instant::now();
        let node = self.node();
        let cluster = node.client.cluster();
        let sent = cluster.health(ClusterHealthParts::None).send();
        let probe = self
            .answer(node, "checking cluster health", sent, &[])
            .await;
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        let (_, body) = match probe {
            Ok(v) => v,
            Err(e) => return ComponentHealth::down("elasticsearch", e.to_string()),
        };
        let status = body["status"].as_str().unwrap_or("unknown");
        let resting = self
            .nodes
            .iter()
            .filter(|n| n.resting(Instant::now()))
            .map(|n| n.url.as_str())
            .collect::<Vec<_>>();
        let mut summary = format!("{} (cluster {status}, indices {}*)", self.url, self.prefix);
        if !resting.is_empty() {
            summary.push_str(&format!(
                "; not answering, passed over: {}",
                resting.join(", ")
            ));
        }
        let health = match (status, self.last_write_error.describe()) {
            ("red", _) => ComponentHealth::degraded(
                "elasticsearch",
                format!("{summary}: some shards are unassigned; writes may fail"),
            ),
            (_, Some(failed)) => {
                ComponentHealth::degraded("elasticsearch", format!("{summary}: {failed}"))
            }
            _ => ComponentHealth::ok("elasticsearch", summary),
        };
        ComponentHealth {
            latency_ms: Some(latency),
            ..health
        }
    }

    /// Runs a search and returns the whole answer.
    pub async fn search(&self, ix: Ix, body: Value) -> StoreResult<Value> {
        let name = self.name(ix);
        let names = [name.as_str()];
        let node = self.node();
        let sent = node
            .client
            .search(SearchParts::Index(&names))
            .body(body)
            .send();
        let (_, v) = self
            .answer(node, &format!("searching {name}"), sent, &[])
            .await?;
        Ok(v)
    }

    /// Counts the documents matching `query`.
    pub async fn count(&self, ix: Ix, query: Value) -> StoreResult<u64> {
        let name = self.name(ix);
        let names = [name.as_str()];
        let node = self.node();
        let sent = node
            .client
            .count(CountParts::Index(&names))
            .body(json!({ "query": query }))
            .send();
        let (_, v) = self
            .answer(node, &format!("counting {name}"), sent, &[])
            .await?;
        v["count"].as_u64().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "Elasticsearch answered a count of {name} without one"
            ))
        })
    }

    /// Real-time gets of documents by index and id; `None` for those not found.
    pub async fn mget(&self, ids: &[(Ix, String)]) -> StoreResult<Vec<Option<Value>>> {
        self.mget_fields(ids, &[]).await
    }

    /// `mget`, reading only the listed fields of the indices named in `only`.
    pub async fn mget_fields(
        &self,
        ids: &[(Ix, String)],
        only: &[(Ix, &[&str])],
    ) -> StoreResult<Vec<Option<Value>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<Value> = ids
            .iter()
            .map(|(ix, id)| {
                let mut d = json!({"_index": self.name(*ix), "_id": id});
                if let Some((_, fields)) = only.iter().find(|(i, _)| i == ix) {
                    d["_source"] = json!(fields);
                }
                d
            })
            .collect();
        let node = self.node();
        let sent = node
            .client
            .mget(MgetParts::None)
            .body(json!({ "docs": docs }))
            .send();
        let (_, v) = self.answer(node, "reading documents", sent, &[]).await?;
        let found = v["docs"].as_array().cloned().unwrap_or_default();
        if found.len() != ids.len() {
            return Err(StoreError::Corrupt(format!(
                "Elasticsearch answered {} documents for {} requested",
                found.len(),
                ids.len()
            )));
        }
        let mut out = Vec::with_capacity(found.len());
        for d in found {
            if let Some(err) = d.get("error") {
                if err["type"] == "index_not_found_exception" {
                    self.ready.store(false, Ordering::Relaxed);
                }
                return Err(StoreError::Unavailable(format!(
                    "reading document {} failed: {}",
                    d["_id"],
                    reason_of(err)
                )));
            }
            out.push(match d["found"].as_bool() {
                Some(true) => Some(d["_source"].clone()),
                _ => None,
            });
        }
        Ok(out)
    }

    /// Sends a bulk request; returns the items, or the first failure not `tolerated`.
    pub async fn bulk(
        &self,
        bulk: Bulk,
        tolerated: impl Fn(&Item) -> bool,
    ) -> StoreResult<Vec<Item>> {
        if bulk.is_empty() {
            return Ok(Vec::new());
        }
        let Bulk { lines, what } = bulk;
        let node = self.node();
        let sent = node
            .client
            .bulk(BulkParts::None)
            .body(lines)
            .refresh(self.refresh)
            .send();
        let (_, v) = self.answer(node, "writing a batch", sent, &[]).await?;
        let raw = v["items"].as_array().cloned().unwrap_or_default();
        if raw.len() != what.len() {
            return Err(StoreError::Unavailable(format!(
                "Elasticsearch answered {} results for a batch of {} writes; it is retried",
                raw.len(),
                what.len()
            )));
        }
        let mut items = Vec::with_capacity(raw.len());
        let mut failed: Vec<(usize, Item)> = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let body = r.as_object().and_then(|o| o.values().next()).cloned();
            let body = body.unwrap_or(Value::Null);
            let item = Item {
                status: body["status"].as_u64().unwrap_or(0) as u16,
                result: body["result"].as_str().map(str::to_string),
                error: match &body["error"] {
                    Value::Null => None,
                    e => Some(e["type"].as_str().unwrap_or("error").to_string()),
                },
                reason: (!body["error"].is_null()).then(|| reason_of(&body["error"])),
            };
            let ok = item.error.is_none() && (200..300).contains(&item.status)
                || item.result.as_deref() == Some("not_found")
                || tolerated(&item);
            if ok {
                items.push(item);
            } else {
                failed.push((i, item));
            }
        }
        let Some((i, first)) = failed.first() else {
            return Ok(items);
        };
        let message = format!(
            "{} of {} writes failed; the first, {}: HTTP {} {}: {}",
            failed.len(),
            what.len(),
            what[*i],
            first.status,
            first.error.as_deref().unwrap_or("error"),
            first.reason.as_deref().unwrap_or("no reason given")
        );
        let retry = failed
            .iter()
            .any(|(_, f)| f.status == 429 || f.status >= 500);
        if failed
            .iter()
            .any(|(_, f)| f.error.as_deref() == Some("index_not_found_exception"))
        {
            self.ready.store(false, Ordering::Relaxed);
        }
        Err(if retry {
            StoreError::Unavailable(format!("{message}; the batch is retried"))
        } else {
            StoreError::Invalid(message)
        })
    }
}

#[cfg(test)]
mod tests;
