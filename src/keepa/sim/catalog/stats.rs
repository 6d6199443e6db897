//! The `stats` object of a simulated product, accumulated while its 90 days are walked:
//! averages over the interval, 30 and 90 days, values at the interval's start, minima and
//! maxima (in the interval and over the whole history), out-of-stock shares and counts,
//! sales-rank drops and the Buy Box shares (Amazon's and one third-party seller's).
//!
//! The simulator keeps 90 days of history, so the 180- and 365-day figures are those of
//! the history there is, as Keepa's are for a product it has tracked for less time.

use std::collections::BTreeMap;

use super::{Hour, Options, SERIES};
use crate::domain::Market;
use crate::keepa::decode::amazon_seller_id;
use crate::keepa::wire::{BuyBoxStat, Stats};

/// The seller id of the one third-party seller the simulator knows.
pub(super) const THIRD_SELLER: &str = "A1SIMSELLER0EU";

const N: usize = SERIES.len();

/// Each series' value in an hour, in [`SERIES`] order.
fn values(x: &Hour) -> [i64; N] {
    SERIES.map(|(_, f)| f(x))
}

/// Running sums for the `stats` object.
pub(super) struct Accumulators {
    now_h: i64,
    stats_days: i64,
    sum: [[i64; N]; 3],
    n: [[i64; N]; 3],
    oos: [[i64; N]; 3],
    /// In the interval, then over the whole history.
    min: [[Option<(i64, i64)>; N]; 2],
    max: [[Option<(i64, i64)>; N]; 2],
    /// The lowest value of 90 days.
    min90: [Option<i64>; N],
    /// Each value at the first hour of the interval.
    start: Option<[i64; N]>,
    /// Sales-rank drops in 30 days, 90 days and the whole history.
    drops: [i64; 3],
    prev_rank: Option<i64>,
    /// Times Amazon's offer went out of stock in 30 and 90 days.
    amazon_gone: [i64; 2],
    prev_amazon: Option<i64>,
    box_hours: i64,
    /// Per Buy Box holder (0 = Amazon, 1 = the third-party seller) in the interval: hours
    /// won, the landed prices summed over them, and the last hour won.
    won: [Won; 2],
}

#[derive(Clone, Copy, Default)]
struct Won {
    hours: i64,
    price_sum: i64,
    /// The last hour won, in Keepa minutes.
    last_seen: Option<i64>,
}

/// Windows: 0 = interval (`stats=N`), 1 = 30 days, 2 = 90 days. Series: Amazon, New,
/// rank, Buy Box.
impl Accumulators {
    pub(super) fn new(now_h: i64, stats_days: i64) -> Self {
        Accumulators {
            now_h,
            stats_days,
            sum: [[0; N]; 3],
            n: [[0; N]; 3],
            oos: [[0; N]; 3],
            min: [[None; N]; 2],
            max: [[None; N]; 2],
            min90: [None; N],
            start: None,
            drops: [0; 3],
            prev_rank: None,
            amazon_gone: [0; 2],
            prev_amazon: None,
            box_hours: 0,
            won: [Won::default(); 2],
        }
    }

    pub(super) fn add(&mut self, h: i64, x: &Hour) {
        let age = self.now_h - h;
        let in_window = [age < self.stats_days * 24, age < 30 * 24, age < 90 * 24];
        let vals = values(x);
        for (w, inside) in in_window.iter().enumerate() {
            if !inside {
                continue;
            }
            for (s, v) in vals.iter().enumerate() {
                if *v >= 0 {
                    self.sum[w][s] += v;
                    self.n[w][s] += 1;
                } else {
                    self.oos[w][s] += 1;
                }
            }
        }
        let t = h * 60 - crate::keepa::time::KEEPA_EPOCH_OFFSET_MIN;
        for (s, &v) in vals.iter().enumerate() {
            if v < 0 {
                continue;
            }
            for (e, inside) in [in_window[0], true].into_iter().enumerate() {
                if inside && self.min[e][s].is_none_or(|(_, m)| v < m) {
                    self.min[e][s] = Some((t, v));
                }
                if inside && self.max[e][s].is_none_or(|(_, m)| v > m) {
                    self.max[e][s] = Some((t, v));
                }
            }
            if in_window[2] && self.min90[s].is_none_or(|m| v < m) {
                self.min90[s] = Some(v);
            }
        }
        if in_window[0] {
            self.start.get_or_insert(vals);
            if x.buy_box >= 0 {
                self.box_hours += 1;
                let w = &mut self.won[usize::from(!x.amazon_has_box)];
                w.hours += 1;
                w.price_sum += x.buy_box;
                w.last_seen = Some(t);
            }
        }
        if let Some(p) = self.prev_rank
            && x.rank < p
        {
            for (d, inside) in [in_window[1], in_window[2], true].into_iter().enumerate() {
                self.drops[d] += i64::from(inside);
            }
        }
        self.prev_rank = Some(x.rank);
        if self.prev_amazon.is_some_and(|a| a >= 0) && x.amazon < 0 {
            for (d, inside) in [in_window[1], in_window[2]].into_iter().enumerate() {
                self.amazon_gone[d] += i64::from(inside);
            }
        }
        self.prev_amazon = Some(x.amazon);
    }

    /// The `stats` object at the hour `cur` of a product last updated at `last_update`
    /// (Keepa minutes); `third_is_fba` says whether the third-party seller ships by FBA
    /// (Amazon's own offer is not FBA, as Keepa reports it).
    pub(super) fn stats(
        &self,
        cur: &Hour,
        opts: Options,
        market: Market,
        third_is_fba: bool,
        facts: Facts,
    ) -> Stats {
        // The series this answer carries (`Options::carries`).
        let series = || {
            SERIES
                .iter()
                .map(|(i, _)| i)
                .enumerate()
                .filter(move |(_, i)| opts.carries(**i))
        };
        let per_series = |f: &dyn Fn(usize) -> i64| {
            let mut a = vec![-1i64; 36];
            for (s, &i) in series() {
                a[i] = f(s);
            }
            a
        };
        let avg = |w: usize| {
            per_series(&|s| {
                if self.n[w][s] > 0 {
                    (self.sum[w][s] as f64 / self.n[w][s] as f64).round() as i64
                } else {
                    -1
                }
            })
        };
        // Out-of-stock shares are of price types only (−1 for the others).
        let oos = |w: usize| {
            let hours = [self.stats_days * 24, 30 * 24, 90 * 24][w];
            per_series(&|s| {
                if matches!(SERIES[s].0, 0 | 1 | 18) {
                    self.oos[w][s] * 100 / hours
                } else {
                    -1
                }
            })
        };
        let extreme = |e: &[Option<(i64, i64)>; N]| {
            let mut a: Vec<Option<Vec<i64>>> = vec![None; 36];
            for (s, &i) in series() {
                a[i] = e[s].map(|(t, v)| vec![t, v]);
            }
            a
        };
        let vals = values(cur);
        let lowest = |min: &dyn Fn(usize) -> Option<i64>| {
            let mut a = vec![false; 36];
            for (s, &i) in series() {
                a[i] = vals[s] >= 0 && min(s).is_some_and(|m| vals[s] <= m);
            }
            a
        };
        // The 180- and 365-day figures are the 90 days' (the history there is).
        let avg90 = avg(2);
        let mut stats = Stats {
            current: Some(per_series(&|s| vals[s])),
            avg: Some(avg(0)),
            avg30: Some(avg(1)),
            avg180: Some(avg90.clone()),
            avg365: Some(avg90.clone()),
            avg90: Some(avg90),
            at_interval_start: Some(per_series(&|s| self.start.map_or(-1, |v| v[s]))),
            min_in_interval: Some(extreme(&self.min[0])),
            max_in_interval: Some(extreme(&self.max[0])),
            min: Some(extreme(&self.min[1])),
            max: Some(extreme(&self.max[1])),
            is_lowest: Some(lowest(&|s| self.min[1][s].map(|(_, v)| v))),
            is_lowest90: Some(lowest(&|s| self.min90[s])),
            out_of_stock_percentage_in_interval: Some(oos(0)),
            out_of_stock_percentage30: Some(oos(1)),
            out_of_stock_percentage90: Some(oos(2)),
            out_of_stock_count_amazon30: Some(self.amazon_gone[0]),
            out_of_stock_count_amazon90: Some(self.amazon_gone[1]),
            sales_rank_drops30: Some(self.drops[0]),
            sales_rank_drops90: Some(self.drops[1]),
            sales_rank_drops180: Some(self.drops[2]),
            sales_rank_drops365: Some(self.drops[2]),
            // The simulated demand does not drift: no change, where there is a figure.
            delta_percent90_monthly_sold: facts.monthly_sold.map(|_| 0),
            // Offer figures come only with `offers`, which the simulator does not serve.
            total_offer_count: Some(-2),
            offer_count_fba: Some(-2),
            offer_count_fbm: Some(-2),
            retrieved_offer_count: Some(-2),
            last_offers_update: Some(-1),
            ..Default::default()
        };
        if opts.buybox {
            let seller = if cur.amazon_has_box {
                amazon_seller_id(market)
            } else {
                THIRD_SELLER
            };
            stats.buy_box_price = Some(if cur.buy_box >= 0 {
                cur.buy_box - cur.buy_box_ship.max(0)
            } else {
                -1
            });
            stats.buy_box_shipping = Some(if cur.buy_box >= 0 {
                cur.buy_box_ship
            } else {
                -2
            });
            stats.buy_box_seller_id = (cur.buy_box >= 0).then(|| seller.to_string());
            stats.buy_box_is_amazon = Some(cur.amazon_has_box);
            stats.buy_box_is_fba = Some(!cur.amazon_has_box && cur.buy_box >= 0 && third_is_fba);
            stats.buy_box_is_unqualified = Some(false);
            stats.buy_box_is_preorder = Some(false);
            stats.buy_box_is_backorder = Some(false);
            stats.buy_box_availability_message = (cur.buy_box >= 0).then(|| {
                if cur.amazon_has_box {
                    "In stock".to_string()
                } else {
                    "Usually dispatched within 2 to 3 days".to_string()
                }
            });
            stats.last_buy_box_update = Some(facts.last_update);
            let mut m = BTreeMap::new();
            let sellers = [
                (amazon_seller_id(market), false),
                (THIRD_SELLER, third_is_fba),
            ];
            for (w, (id, is_fba)) in self.won.iter().zip(sellers) {
                let Some(last_seen) = w.last_seen else {
                    continue;
                };
                let share = w.hours as f64 * 100.0 / self.box_hours as f64;
                m.insert(
                    id.to_string(),
                    BuyBoxStat {
                        percentage_won: (share * 10.0).round() / 10.0,
                        avg_price: (w.price_sum as f64 / w.hours as f64).round() as i64,
                        avg_new_offer_count: cur.count_new,
                        is_fba,
                        last_seen,
                    },
                );
            }
            stats.buy_box_stats = Some(m);
        }
        stats
    }
}

/// What the `stats` object reports of the product beyond its hours.
#[derive(Clone, Copy)]
pub(super) struct Facts {
    /// `monthlySold`, if the product has it.
    pub monthly_sold: Option<i64>,
    /// `lastUpdate`, Keepa minutes.
    pub last_update: i64,
}
