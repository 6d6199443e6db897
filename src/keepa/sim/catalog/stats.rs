//! The `stats` object of a simulated product, accumulated while its 90 days are walked:
//! averages over the interval, 30 and 90 days, minima and maxima, out-of-stock shares,
//! sales-rank drops and the Buy Box shares (Amazon's and one third-party seller's).

use std::collections::BTreeMap;

use super::Hour;
use crate::domain::Market;
use crate::keepa::decode::amazon_seller_id;
use crate::keepa::wire::{BuyBoxStat, Stats};

/// The seller id of the one third-party seller the simulator knows.
const THIRD_SELLER: &str = "A1SIMSELLER0EU";

/// Running sums for the `stats` object.
pub(super) struct Accumulators {
    now_h: i64,
    stats_days: i64,
    sum: [[i64; 4]; 3],
    n: [[i64; 4]; 3],
    oos: [[i64; 4]; 2],
    min: [Option<(i64, i64)>; 4],
    max: [Option<(i64, i64)>; 4],
    drops: [i64; 2],
    prev_rank: Option<i64>,
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
            sum: [[0; 4]; 3],
            n: [[0; 4]; 3],
            oos: [[0; 4]; 2],
            min: [None; 4],
            max: [None; 4],
            drops: [0; 2],
            prev_rank: None,
            box_hours: 0,
            won: [Won::default(); 2],
        }
    }

    pub(super) fn add(&mut self, h: i64, x: &Hour) {
        let age = self.now_h - h;
        let in_window = [age < self.stats_days * 24, age < 30 * 24, age < 90 * 24];
        let vals = [x.amazon, x.new, x.rank, x.buy_box];
        for (w, inside) in in_window.iter().enumerate() {
            if !inside {
                continue;
            }
            for (s, v) in vals.iter().enumerate() {
                if *v >= 0 {
                    self.sum[w][s] += v;
                    self.n[w][s] += 1;
                } else if w >= 1 {
                    self.oos[w - 1][s] += 1;
                }
            }
        }
        if in_window[0] {
            let t = h * 60 - crate::keepa::time::KEEPA_EPOCH_OFFSET_MIN;
            for (s, v) in vals.iter().enumerate() {
                if *v >= 0 {
                    if self.min[s].is_none_or(|(_, m)| *v < m) {
                        self.min[s] = Some((t, *v));
                    }
                    if self.max[s].is_none_or(|(_, m)| *v > m) {
                        self.max[s] = Some((t, *v));
                    }
                }
            }
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
            if in_window[1] {
                self.drops[0] += 1;
            }
            if in_window[2] {
                self.drops[1] += 1;
            }
        }
        self.prev_rank = Some(x.rank);
    }

    /// The `stats` object at the hour `cur`; `third_is_fba` says whether the third-party
    /// seller ships by FBA (Amazon's own offer is not FBA, as Keepa reports it).
    pub(super) fn stats(
        &self,
        cur: &Hour,
        buybox: bool,
        market: Market,
        third_is_fba: bool,
    ) -> Stats {
        const IDX: [usize; 4] = [0, 1, 3, 18];
        let avg = |w: usize| {
            let mut a = vec![-1i64; 36];
            for (s, &i) in IDX.iter().enumerate() {
                if i == 18 && !buybox {
                    continue;
                }
                if self.n[w][s] > 0 {
                    a[i] = (self.sum[w][s] as f64 / self.n[w][s] as f64).round() as i64;
                }
            }
            a
        };
        let oos = |w: usize| {
            let mut a = vec![-1i64; 36];
            let hours = if w == 0 { 30 * 24 } else { 90 * 24 };
            for (s, &i) in IDX.iter().enumerate() {
                if s == 2 || (i == 18 && !buybox) {
                    continue;
                }
                a[i] = self.oos[w][s] * 100 / hours;
            }
            a
        };
        let extreme = |e: &[Option<(i64, i64)>; 4]| {
            let mut a: Vec<Option<Vec<i64>>> = vec![None; 36];
            for (s, &i) in IDX.iter().enumerate() {
                if i == 18 && !buybox {
                    continue;
                }
                a[i] = e[s].map(|(t, v)| vec![t, v]);
            }
            a
        };
        let mut current = vec![-1i64; 36];
        current[0] = cur.amazon;
        current[1] = cur.new;
        current[3] = cur.rank;
        current[11] = cur.count_new;
        current[34] = cur.count_fba;
        current[35] = cur.count_fbm;
        if buybox {
            current[18] = cur.buy_box;
        }
        let mut stats = Stats {
            current: Some(current),
            avg: Some(avg(0)),
            avg30: Some(avg(1)),
            avg90: Some(avg(2)),
            avg180: Some(avg(2)),
            min_in_interval: Some(extreme(&self.min)),
            max_in_interval: Some(extreme(&self.max)),
            out_of_stock_percentage30: Some(oos(0)),
            out_of_stock_percentage90: Some(oos(1)),
            sales_rank_drops30: Some(self.drops[0]),
            sales_rank_drops90: Some(self.drops[1]),
            total_offer_count: Some(-2),
            ..Default::default()
        };
        if buybox {
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
