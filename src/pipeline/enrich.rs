//! The enrich stage: a raw queue message in, a validated listing out.
//!
//! Pure and synchronous. A message must be a `RawUpdate` whose Keepa product decodes and
//! agrees with the envelope (same ASIN and market); anything else is an `EnrichError` whose
//! text is the dead-letter reason, so a poison message is explained, never dropped silently.

use crate::domain::{Asin, Listing, Market};
use crate::keepa::decode::{Product, decode_parsed, updated_by};
use crate::keepa::decode_product;
use crate::queue::RawUpdate;

use super::Source;

/// Why a raw update was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnrichError {
    /// The payload is not a `RawUpdate`.
    #[error("payload is not a raw Keepa update: {0}")]
    Envelope(String),
    /// Ingest could not read the Keepa product and published it raw with the reason
    /// (`{"error": …, "raw": …}`), for the dead-letter topic to keep.
    #[error("ingest could not read this Keepa product: {0}")]
    Unreadable(String),
    /// The Keepa product inside is malformed.
    #[error("{0}")]
    Product(String),
    /// The update was fetched from another source than the store holds.
    #[error(
        "fetched as {} prices, and this store holds {} ones: an ingest process with a store \
         of its own publishes to this topic; give it this store's settings (--store and \
         --es-url, or [store]), or a topic prefix of its own ([queue] topic_prefix)",
        sent.word(),
        held.word()
    )]
    Source {
        /// What the update says.
        sent: Source,
        /// What the store holds.
        held: Source,
    },
    /// The product is not the one the envelope names.
    #[error("envelope says {expected} but the product is {found}")]
    Mismatch {
        /// ASIN:market of the envelope.
        expected: String,
        /// ASIN:market of the product.
        found: String,
    },
}

/// Turns raw updates into listings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Enricher {
    /// Whose prices the store holds, when it says: an update fetched from the other
    /// source is refused.
    pub held: Option<Source>,
}

impl Enricher {
    /// An enricher for a store holding `held` prices (`None`: not known yet).
    pub fn holding(held: Option<Source>) -> Self {
        Enricher { held }
    }

    /// Validates and decodes one message payload.
    pub fn enrich(&self, payload: &[u8]) -> Result<Listing, EnrichError> {
        // One pass over the payload, its product parsed with the envelope. Anything that
        // does not parse so is read again the plain way, whose errors say what is wrong.
        if let Ok(update) = serde_json::from_slice::<RawUpdate<Product>>(payload) {
            self.same_source(update.source)?;
            let listing = decode_parsed(&update.product)
                .and_then(|l| updated_by(l, update.fetched_at, "fetched"))
                .map_err(|e| EnrichError::Product(e.to_string()))?;
            return matching(listing, update.asin, update.market);
        }
        let raw: RawUpdate = serde_json::from_slice(payload).map_err(|e| {
            #[derive(serde::Deserialize)]
            struct Unreadable {
                error: String,
            }
            match serde_json::from_slice::<Unreadable>(payload) {
                Ok(u) => EnrichError::Unreadable(u.error),
                Err(_) => EnrichError::Envelope(e.to_string()),
            }
        })?;
        self.same_source(raw.source)?;
        let listing = decode_product(raw.product.get())
            .and_then(|l| updated_by(l, raw.fetched_at, "fetched"))
            .map_err(|e| EnrichError::Product(e.to_string()))?;
        matching(listing, raw.asin, raw.market)
    }

    /// Refuses an update whose source is not the one the store holds.
    fn same_source(&self, sent: Option<Source>) -> Result<(), EnrichError> {
        match (sent, self.held) {
            (Some(sent), Some(held)) if sent != held => Err(EnrichError::Source { sent, held }),
            _ => Ok(()),
        }
    }
}

/// `listing` if it is the product the envelope names.
fn matching(listing: Listing, asin: Asin, market: Market) -> Result<Listing, EnrichError> {
    if listing.asin != asin || listing.market != market {
        return Err(EnrichError::Mismatch {
            expected: format!("{asin}:{market}"),
            found: format!("{}:{}", listing.asin, listing.market),
        });
    }
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(asin: &str, market: &str, product: &str) -> Vec<u8> {
        format!(r#"{{"asin":"{asin}","market":"{market}","fetched_at":"2026-11-25T06:00:00Z","product":{product}}}"#).into_bytes()
    }

    #[test]
    fn a_product_ingest_could_not_read_keeps_its_reason() {
        let payload = br#"{"error":"invalid ASIN 'B0X': 10 characters expected","raw":"{}"}"#;
        assert_eq!(
            Enricher::default().enrich(payload).unwrap_err().to_string(),
            "ingest could not read this Keepa product: invalid ASIN 'B0X': 10 characters expected"
        );
        let err = Enricher::default().enrich(br#"{"nothing":1}"#).unwrap_err();
        assert!(matches!(err, EnrichError::Envelope(_)), "{err}");
    }

    /// The plain way: the envelope with its product kept verbatim, then the product.
    fn two_pass(payload: &[u8]) -> Result<Listing, String> {
        let raw: RawUpdate = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let listing = decode_product(raw.product.get()).map_err(|e| e.to_string())?;
        matching(listing, raw.asin, raw.market).map_err(|e| e.to_string())
    }

    #[test]
    fn one_pass_reads_what_two_passes_read() {
        use crate::keepa::sim::{Catalog, Options, asin_from};
        let cat = Catalog::new(7);
        let now = 1_795_586_400_000;
        let mut compared = 0;
        for buybox in [false, true] {
            let opts = Options {
                buybox,
                ..Options::new().with_history(7).with_stats(90)
            };
            for i in 0..60 {
                let asin: Asin = asin_from(i / 5).parse().unwrap();
                let market = Market::ALL[i as usize % 5];
                let product =
                    serde_json::to_string(&cat.product(&asin, market, now, opts)).unwrap();
                let p = payload(asin.as_str(), &market.to_string(), &product);
                let one = Enricher::default().enrich(&p).map_err(|e| e.to_string());
                assert_eq!(one, two_pass(&p), "{asin}:{market}");
                compared += usize::from(one.is_ok());
            }
        }
        assert!(compared > 100, "only {compared} payloads decoded");
    }

    #[test]
    fn a_good_update_becomes_a_listing() {
        let p =
            r#"{"asin":"B0DEMO1234","domainId":3,"title":"Kettle","csv":[null,[8300000,1999]]}"#;
        let l = Enricher::default()
            .enrich(&payload("B0DEMO1234", "DE", p))
            .unwrap();
        assert_eq!(l.snapshot.new, Some(crate::domain::Money::eur(1999)));
    }

    /// An update that says it carries other prices than the store holds is refused; one
    /// that does not say, or a store that does not, lets it through.
    #[test]
    fn an_update_from_the_other_source_is_refused() {
        let p =
            r#"{"asin":"B0DEMO1234","domainId":3,"title":"Kettle","csv":[null,[8300000,1999]]}"#;
        let sent = |source: &str| {
            let mut v = payload("B0DEMO1234", "DE", p);
            v.pop();
            v.extend_from_slice(format!(r#","source":"{source}"}}"#).as_bytes());
            v
        };
        let demo_store = Enricher::holding(Some(Source::Demo));
        let err = demo_store.enrich(&sent("live")).unwrap_err();
        assert_eq!(
            err,
            EnrichError::Source {
                sent: Source::Live,
                held: Source::Demo
            }
        );
        assert!(err.to_string().contains("topic_prefix"), "{err}");
        assert!(demo_store.enrich(&sent("demo")).is_ok());
        // A source a later version sends is read as none said.
        assert!(demo_store.enrich(&sent("mars")).is_ok());
        assert!(demo_store.enrich(&payload("B0DEMO1234", "DE", p)).is_ok());
        assert!(Enricher::default().enrich(&sent("live")).is_ok());
    }

    /// A product Keepa says it updated after it was fetched (by more than a day, which
    /// clocks do not differ by) is refused, naming the field and both times: its prices
    /// would count as current for ever.
    #[test]
    fn an_update_from_the_future_is_refused() {
        let at = |minute: i64| {
            format!(
                r#"{{"asin":"B0DEMO1234","domainId":3,"title":"Kettle","lastUpdate":{minute},"csv":[null,[8300000,1999]]}}"#
            )
        };
        // 2028-02-11, fetched 2026-11-25 06:00.
        let e = Enricher::default()
            .enrich(&payload("B0DEMO1234", "DE", &at(9_000_000)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lastUpdate")
                && e.contains(
                    "2028-02-11 00:00 UTC is after the product was fetched (2026-11-25 06:00 UTC)"
                ),
            "{e}"
        );
        // 23 hours ahead: a clock off, taken.
        let ahead = 8_362_440 + 23 * 60;
        let l = Enricher::default()
            .enrich(&payload("B0DEMO1234", "DE", &at(ahead)))
            .unwrap();
        assert_eq!(l.snapshot.new, Some(crate::domain::Money::eur(1999)));
        // A fetch time at the end of time (RFC 3339 takes years past 9999) is no panic.
        let end = chrono::DateTime::<chrono::Utc>::MAX_UTC;
        let l = decode_product(&at(9_000_000)).unwrap();
        assert!(updated_by(l, end, "fetched").is_ok());
        let min = chrono::DateTime::<chrono::Utc>::MIN_UTC;
        let l = decode_product(&at(9_000_000)).unwrap();
        assert!(updated_by(l, min, "fetched").is_err());
    }

    #[test]
    fn poison_is_explained() {
        assert!(matches!(
            Enricher::default().enrich(b"\x00\xffnot json"),
            Err(EnrichError::Envelope(_))
        ));
        let odd = r#"{"asin":"B0DEMO1234","domainId":3,"csv":[[1,2,3]]}"#;
        let e = Enricher::default()
            .enrich(&payload("B0DEMO1234", "DE", odd))
            .unwrap_err();
        assert!(
            e.to_string().contains("B0DEMO1234") && e.to_string().contains("csv[0]"),
            "{e}"
        );
        let other = r#"{"asin":"B0OTHER123","domainId":4,"csv":null}"#;
        let e = Enricher::default()
            .enrich(&payload("B0DEMO1234", "DE", other))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "envelope says B0DEMO1234:DE but the product is B0OTHER123:FR"
        );
    }
}
