//! The response cache: pre-serialized bodies keyed by the normalized query, valid for one
//! store generation.
//!
//! Reads vastly outnumber writes, and the pipeline bumps a generation counter after every
//! store write. So a body built once can be served until the generation moves: the cache
//! holds `Bytes` (and, lazily, their gzip) per key, tagged with the generation read before
//! the store was queried, and drops everything the first time a request sees a newer
//! generation; nothing computed before a write is served after it. Identical concurrent
//! misses share one store query (a `OnceCell` per key); a failed query is not cached and the
//! next waiter retries. Size is bounded by entry count and bytes, evicting oldest first.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::error::ApiError;

/// One cached response body.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The JSON body.
    pub body: Bytes,
    /// A strong validator for `If-None-Match`.
    pub etag: HeaderValue,
    gzip: OnceLock<Option<Bytes>>,
}

impl Entry {
    /// Wraps a body built at `generation`.
    pub fn new(body: Bytes, generation: u64) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        let etag = HeaderValue::from_str(&format!("W/\"{generation:x}-{:016x}\"", h.finish()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Entry {
            body,
            etag,
            gzip: OnceLock::new(),
        }
    }

    /// The body gzipped, computed on first use; `None` if compression failed.
    pub fn gzip(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 4),
                    flate2::Compression::new(6),
                );
                enc.write_all(&self.body).ok()?;
                enc.finish().ok().map(Bytes::from)
            })
            .as_ref()
    }

    fn size(&self) -> usize {
        self.body.len() + 128
    }
}

type Slot = Arc<OnceCell<Arc<Entry>>>;

enum Lookup {
    Hit(Arc<Entry>),
    Slot(Slot),
    Outdated,
}

struct Shared {
    generation: u64,
    map: HashMap<String, Slot>,
    order: VecDeque<String>,
    bytes: usize,
}

/// Counters for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that built a body.
    pub misses: u64,
    /// Entries dropped to stay within bounds.
    pub evictions: u64,
    /// Entries now.
    pub entries: u64,
    /// Body bytes now.
    pub bytes: u64,
}

/// Bounded, generation-tagged cache of response bodies.
pub(crate) struct ResponseCache {
    shared: Mutex<Shared>,
    max_entries: usize,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl ResponseCache {
    /// A cache of at most `max_entries` bodies and `max_bytes` bytes (0 disables caching).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        ResponseCache {
            shared: Mutex::new(Shared {
                generation: 0,
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding this lock leaves consistent data (every update is a single
        // map/deque operation), so a poisoned lock is safe to keep using.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The body for `key` at `generation`: cached, joined from a concurrent miss, or built
    /// by `build`. Errors are returned, not cached.
    pub async fn get_or_build<F, Fut>(
        &self,
        key: String,
        generation: u64,
        build: F,
    ) -> Result<Arc<Entry>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        if self.max_entries == 0 || self.max_bytes == 0 {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::new(Entry::new(build().await?, generation)));
        }
        let slot = match self.lookup(&key, generation) {
            Lookup::Hit(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(entry);
            }
            Lookup::Slot(slot) => slot,
            Lookup::Outdated => {
                // This request read the generation before a newer one was seen: serve it
                // fresh and leave the newer entries alone.
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(Arc::new(Entry::new(build().await?, generation)));
            }
        };
        let mut built = false;
        let entry = slot
            .get_or_try_init(|| async {
                built = true;
                self.misses.fetch_add(1, Ordering::Relaxed);
                build().await.map(|b| Arc::new(Entry::new(b, generation)))
            })
            .await?
            .clone();
        if built {
            self.account(&key, generation, &slot, &entry);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(entry)
    }

    /// Finds or creates the slot for `key` (synchronously: the lock is never held across an
    /// await).
    fn lookup(&self, key: &str, generation: u64) -> Lookup {
        let mut s = self.lock();
        if s.generation != generation {
            if generation < s.generation {
                return Lookup::Outdated;
            }
            s.generation = generation;
            s.map.clear();
            s.order.clear();
            s.bytes = 0;
        }
        if let Some(slot) = s.map.get(key) {
            return match slot.get() {
                Some(entry) => Lookup::Hit(entry.clone()),
                None => Lookup::Slot(slot.clone()),
            };
        }
        let slot: Slot = Arc::default();
        s.map.insert(key.to_string(), slot.clone());
        s.order.push_back(key.to_string());
        self.evict(&mut s);
        Lookup::Slot(slot)
    }

    /// Counts a freshly built entry against the byte bound, if it is still in the cache.
    fn account(&self, key: &str, generation: u64, slot: &Slot, entry: &Entry) {
        let mut s = self.lock();
        let current =
            s.generation == generation && s.map.get(key).is_some_and(|cur| Arc::ptr_eq(cur, slot));
        if !current {
            return;
        }
        if entry.size() > self.max_bytes / 4 {
            // Too big to be worth keeping: served once, then forgotten.
            s.map.remove(key);
            s.order.retain(|k| k != key);
            return;
        }
        s.bytes += entry.size();
        self.evict(&mut s);
    }

    fn evict(&self, s: &mut Shared) {
        while s.map.len() > self.max_entries || s.bytes > self.max_bytes {
            let Some(old) = s.order.pop_front() else {
                break;
            };
            if let Some(slot) = s.map.remove(&old) {
                if let Some(e) = slot.get() {
                    s.bytes = s.bytes.saturating_sub(e.size());
                }
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> CacheStats {
        let s = self.lock();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: s.map.len() as u64,
            bytes: s.bytes as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn body(s: &str) -> Result<Bytes, ApiError> {
        Ok(Bytes::from(s.to_string()))
    }

    #[tokio::test]
    async fn serves_until_the_generation_moves() {
        let c = ResponseCache::new(10, 1 << 20);
        let a = c
            .get_or_build("k".into(), 1, || async { body("one") })
            .await
            .unwrap();
        let b = c
            .get_or_build("k".into(), 1, || async { body("two") })
            .await
            .unwrap();
        assert_eq!((&a.body[..], &b.body[..]), (&b"one"[..], &b"one"[..]));
        let c2 = c
            .get_or_build("k".into(), 2, || async { body("three") })
            .await
            .unwrap();
        assert_eq!(&c2.body[..], b"three");
        let old = c
            .get_or_build("k".into(), 1, || async { body("old") })
            .await
            .unwrap();
        assert_eq!(
            &old.body[..],
            b"old",
            "an older generation is built, not served"
        );
        assert_eq!(c.stats().entries, 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_bounds_hold() {
        let c = ResponseCache::new(2, 1 << 20);
        let e = c
            .get_or_build("k".into(), 1, || async { Err(ApiError::internal("x")) })
            .await;
        assert!(e.is_err());
        let ok = c
            .get_or_build("k".into(), 1, || async { body("ok") })
            .await
            .unwrap();
        assert_eq!(&ok.body[..], b"ok");
        for k in ["a", "b", "c"] {
            c.get_or_build(k.into(), 1, || async { body(k) })
                .await
                .unwrap();
        }
        let s = c.stats();
        assert_eq!((s.entries, s.evictions), (2, 2));
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_build() {
        let c = Arc::new(ResponseCache::new(10, 1 << 20));
        let builds = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, builds) = (c.clone(), builds.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_build("k".into(), 1, || async {
                    builds.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    body("shared")
                })
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(&t.await.unwrap().body[..], b"shared");
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn gzip_round_trips() {
        let e = Entry::new(Bytes::from(vec![b'a'; 4096]), 3);
        let gz = e.gzip().unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out.len(), 4096);
        assert!(e.etag.to_str().unwrap().starts_with("W/\"3-"));
    }
}
