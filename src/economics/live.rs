//! The detector as the pipeline runs it: the economics model plus the FX rate in force.
//!
//! The rate is the configured override, else the latest ECB rate fetched (by this process,
//! or elsewhere: the pipeline takes back the rate the store's latest `fx` job run fetched
//! or kept, see [`crate::pipeline::restore_fx`]), else the shipped dated rate (rows carry `FX_STALE` once the rate in use is
//! older than `fx.max_age_days`). The pipeline calls `refresh_fx` at start and then once per
//! working day after `[fx] fetch_after` in live mode (the pipeline's fx job, timed by
//! `fx_next_fetch`; a failed fetch is tried again within the hour); offline (demo, tests)
//! no fetch is made.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};

use super::{Detector, Economics, FxRate, FxSource, fetch_ecb};
use crate::component::BoxFuture;
use crate::domain::{FlagSet, Money, Opportunity, Product};
use crate::pipeline::{Detect, FxStatus, TablesStatus};

/// `Detect` for the pipeline.
pub struct LiveDetector {
    detector: Detector,
    fetched: RwLock<Option<FxRate>>,
    settings: String,
}

impl LiveDetector {
    /// A detector over validated economics.
    pub fn new(economics: Arc<Economics>) -> Self {
        let settings = settings_id(&economics);
        LiveDetector {
            detector: Detector::new(economics),
            fetched: RwLock::new(None),
            settings,
        }
    }

    fn rate(&self) -> FxRate {
        let fetched = self.fetched.read().unwrap_or_else(PoisonError::into_inner);
        self.detector.economics().fx_rate(fetched.as_ref())
    }
}

impl Detect for LiveDetector {
    fn detect(&self, product: &Product, now: DateTime<Utc>) -> Vec<Opportunity> {
        self.detector.detect(product, &self.rate(), now)
    }

    fn explain(&self, product: &Product, row: &Opportunity) -> Option<Opportunity> {
        // The row's own time and rate; a row stored before rates were recorded uses today's.
        let fx = row
            .breakdown
            .fx_rate
            .as_deref()
            .and_then(FxRate::from_record)
            .unwrap_or_else(|| self.rate());
        let explained = self.detector.explain(
            product,
            &fx,
            row.updated_at,
            row.buy_market,
            row.sell_market,
        );
        // Lines are only shown for the figures they add up to: a row computed under other
        // settings (another config, another version, a `--role api` process configured
        // differently from the one that detects) or on data stored since is shown as
        // stored, with why it has none.
        let differs = match &explained {
            None => {
                Some("the route has no positive gross margin on the data stored now".to_string())
            }
            Some(now) => first_difference(row, now),
        };
        if let Some(why) = differs {
            let mut kept = row.clone();
            kept.breakdown.lines.clear();
            kept.breakdown.unexplained = Some(format!(
                "Not explained: computed again here, {why}. The product's data or the \
                 economics settings (config file, arbdesk version) changed since the row was \
                 computed; the process stage computes it again at the product's next \
                 refresh, or at its start after a settings change."
            ));
            return Some(kept);
        }
        explained.map(|mut o| {
            o.first_seen = row.first_seen;
            o
        })
    }

    fn fx(&self) -> Option<FxStatus> {
        let econ = self.detector.economics();
        Some(
            self.rate()
                .status(Utc::now().date_naive(), econ.fx_max_age_days()),
        )
    }

    fn tables(&self) -> Option<TablesStatus> {
        Some(
            self.detector
                .economics()
                .tables_status(Utc::now().date_naive()),
        )
    }

    fn restore_fx(&self, record: &str) -> bool {
        let econ = self.detector.economics();
        let today = Utc::now().date_naive();
        let Some(rate) = FxRate::from_record(record)
            .filter(|r| r.source == FxSource::Ecb && r.is_usable() && r.date <= today)
        else {
            return false;
        };
        if !econ.fx_fetch_enabled() || rate.date < econ.fx_rate(None).date {
            return false;
        }
        let mut fetched = self.fetched.write().unwrap_or_else(PoisonError::into_inner);
        if fetched.as_ref().is_some_and(|f| f.date >= rate.date) {
            return false;
        }
        *fetched = Some(rate);
        true
    }

    fn refresh_fx<'a>(
        &'a self,
        client: &'a reqwest::Client,
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        let econ = self.detector.economics();
        if !econ.fx_fetch_enabled() {
            return None;
        }
        Some(Box::pin(async move {
            let rate = fetch_ecb(client, econ.fx_url())
                .await
                .map_err(|e| e.to_string())?;
            let record = rate.record();
            *self.fetched.write().unwrap_or_else(PoisonError::into_inner) = Some(rate);
            Ok(record)
        }))
    }

    fn fx_next_fetch(&self, last_attempt: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.detector
            .economics()
            .fx_schedule()
            .map(|s| s.next_due(last_attempt))
    }

    fn settings_id(&self) -> &str {
        &self.settings
    }
}

/// The first figure in which `now` (the route computed again) differs from the stored
/// `row`, in words, if any.
fn first_difference(row: &Opportunity, now: &Opportunity) -> Option<String> {
    let money = |name: &str, a: Money, b: Money| {
        (a != b).then(|| format!("its {name} is {b} where the row has {a}"))
    };
    let price = |name: &str, a: Option<Money>, b: Option<Money>| {
        let shown = |m: Option<Money>| m.map_or_else(|| "none".to_string(), |m| m.to_string());
        (a != b).then(|| format!("its {name} is {} where the row has {}", shown(b), shown(a)))
    };
    let pct = |name: &str, a: f64, b: f64| {
        (a != b).then(|| format!("its {name} is {b:.2} % where the row has {a:.2} %"))
    };
    let flags = |f: FlagSet| {
        let names: Vec<&str> = f.names().collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" ")
        }
    };
    money("buy price", row.buy_price, now.buy_price)
        .or_else(|| money("sell price", row.sell_price, now.sell_price))
        .or_else(|| money("net profit", row.net_profit, now.net_profit))
        .or_else(|| pct("ROI", row.roi_pct, now.roi_pct))
        .or_else(|| pct("net margin", row.net_margin_pct, now.net_margin_pct))
        .or_else(|| money("gross margin", row.gross_margin, now.gross_margin))
        .or_else(|| pct("gross margin", row.gross_margin_pct, now.gross_margin_pct))
        .or_else(|| {
            money(
                "expected monthly profit",
                row.expected_monthly_profit,
                now.expected_monthly_profit,
            )
        })
        .or_else(|| price("max buy price", row.max_buy_price, now.max_buy_price))
        .or_else(|| {
            price(
                "target sell price",
                row.target_sell_price,
                now.target_sell_price,
            )
        })
        .or_else(|| {
            price(
                "break-even price",
                row.break_even_sell_price,
                now.break_even_sell_price,
            )
        })
        .or_else(|| {
            (row.flags != now.flags).then(|| {
                format!(
                    "its flags are {} where the row has {}",
                    flags(now.flags),
                    flags(row.flags)
                )
            })
        })
        .or_else(|| {
            (row.ranked != now.ranked).then(|| {
                let word = |r: bool| if r { "ranked" } else { "not ranked" };
                format!(
                    "it is {} where the row is {}",
                    word(now.ranked),
                    word(row.ranked)
                )
            })
        })
}

/// What rows computed with `economics` by this version of arbdesk depend on, as 16 hex
/// digits: the version and every economics setting (parameters, gates, dated tables,
/// routes, the configured rate), hashed with FNV-1a, which is the same on every machine
/// and every build.
fn settings_id(economics: &Economics) -> String {
    let config = serde_json::to_vec(&economics.config).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in env!("CARGO_PKG_VERSION").bytes().chain([0]).chain(config) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
