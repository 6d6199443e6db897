//! The simulated catalogue: a deterministic product for every well-formed ASIN.
//!
//! A product's identity (title, brand, EAN, image, base price, demand) is derived from the
//! ASIN and the seed. Each market lists it or not, may be out of stock, and prices it around
//! the base in its own currency; about 5 % of products have one market priced well below
//! the others, which is what makes arbitrage. Prices move hour by hour as a bounded,
//! mean-reverting walk that changes at random events (about one a day per series), so a
//! product fetched twice a day apart has moved, and its 90-day history is consistent with
//! its current price. Everything is computed on demand from `(seed, ASIN, market, hour)`.

mod data;
mod events;
mod ids;
mod stats;

use std::collections::BTreeMap;

use serde::Serialize;

pub use data::ROOTS;
use data::{ARCHETYPES, Archetype, BRANDS, VARIANTS};
use events::Events;
pub use ids::asin_from;
use ids::{ean13, image_name};
use stats::{Accumulators, Facts, THIRD_SELLER};

use super::rng::{derive, hash, signed, smooth, unit};
use crate::domain::{Asin, Market};
use crate::keepa::time::unix_ms_to_keepa;
use crate::keepa::wire::{self, FbaFees, Image};

/// Depth of the simulated history.
pub const HISTORY_DAYS: i64 = 90;
const HOURS: i64 = HISTORY_DAYS * 24;
/// Share of products with one market priced well below the rest.
const OPPORTUNITY_SHARE: f64 = 0.05;
/// GBP per EUR used to price the UK store (close to the 2025–26 ECB rate).
const GBP_PER_EUR: f64 = 0.86;
/// Listings appeared between 2016-01-01 (Unix hours) and about nine and a half years later.
const LISTED_FROM_H: i64 = 1_451_606_400 / 3600;
const LISTED_SPAN_H: u64 = 83_220;

/// The product groups (`productGroup`) of the catalogue's products.
pub fn product_groups() -> impl Iterator<Item = &'static str> {
    ARCHETYPES.iter().map(|a| a.group)
}

/// The simulated catalogue for one seed.
#[derive(Clone, Copy, Debug)]
pub struct Catalog {
    seed: u64,
}

/// What the caller asked `/product` for; the default is current data only (no history,
/// stats, Buy Box or rating).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Include `csv` (history=1).
    pub history: bool,
    /// Trim history to this many days (0 = no trimming).
    pub days: i64,
    /// Stats interval in days, if `stats` was sent.
    pub stats_days: Option<i64>,
    /// Include Buy Box history and stats.
    pub buybox: bool,
    /// Include the rating and review-count histories (`rating=1`).
    pub rating: bool,
}

impl Options {
    /// Current data only (what [`Default`] gives, for constants).
    pub const fn new() -> Self {
        Options {
            history: false,
            days: 0,
            stats_days: None,
            buybox: false,
            rating: false,
        }
    }

    /// With the `csv` histories, trimmed to `days` (0: all the simulator has).
    pub const fn with_history(self, days: i64) -> Self {
        Options {
            history: true,
            days,
            ..self
        }
    }

    /// With `stats` over `days`.
    pub const fn with_stats(self, days: i64) -> Self {
        Options {
            stats_days: Some(days),
            ..self
        }
    }

    /// With Buy Box history and stats.
    pub const fn with_buybox(self) -> Self {
        Options {
            buybox: true,
            ..self
        }
    }

    /// Whether an answer carries the `csv` type `i`: the Buy Box only with `buybox`, the
    /// rating and review count only with `rating`.
    fn carries(self, i: usize) -> bool {
        match i {
            18 => self.buybox,
            16 | 17 => self.rating,
            _ => true,
        }
    }
}

/// A value of an hour, by `csv` type.
type Field = fn(&Hour) -> i64;

/// The `csv` types the simulator has histories of, and each one's value in an hour (the
/// Buy Box's landed price; its history is written as triples apart).
const SERIES: [(usize, Field); 9] = [
    (0, |x| x.amazon),
    (1, |x| x.new),
    (3, |x| x.rank),
    (11, |x| x.count_new),
    (16, |x| x.rating),
    (17, |x| x.reviews),
    (18, |x| x.buy_box),
    (34, |x| x.count_fba),
    (35, |x| x.count_fbm),
];

/// A simulated product object: the fields arbdesk reads ([`wire::Product`]) and the other
/// ones Keepa sends that it does not (keepa-api.md §7), so that a client is tried on the
/// objects Keepa really sends.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimProduct {
    /// The fields arbdesk reads.
    #[serde(flatten)]
    pub product: wire::Product,
    /// The root category and the node the product is listed under.
    pub category_tree: Option<Vec<CategoryRef>>,
    /// The category of `csv[3]` (the root).
    pub sales_rank_reference: Option<i64>,
    /// Sales-rank histories by category id (the root's is `csv[3]`); null with `history=0`.
    pub sales_ranks: Option<BTreeMap<String, Vec<i64>>>,
    /// When Keepa started tracking the listing, Keepa minutes.
    pub tracking_since: Option<i64>,
    /// When the listing first appeared, Keepa minutes.
    pub listed_since: Option<i64>,
    /// With `buybox=1`: times and Buy Box seller ids alternating, all strings (`-1`: no
    /// one qualified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buy_box_seller_id_history: Option<Vec<String>>,
}

/// An entry of `categoryTree`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRef {
    /// Node id.
    pub cat_id: i64,
    /// Display name.
    pub name: String,
}

/// Market-independent facts about a product.
struct Identity {
    key: u64,
    arch: &'static Archetype,
    brand: &'static str,
    title: String,
    base_eur_cents: f64,
    ean: String,
    image: String,
    weight_g: i64,
    home: Market,
    cheap: Option<(Market, f64)>,
    rank_base: f64,
    monthly_sold: Option<i64>,
}

/// Per-market facts that do not change with time.
struct Listing {
    key: u64,
    present: bool,
    factor: f64,
    amazon_sells: bool,
    oos_rate: f64,
    fbm_shipping: i64,
    offers_base: f64,
    minor_per_eur_cent: f64,
    package_quantity: i64,
    /// When the listing appeared, Unix hours.
    listed_h: i64,
    /// Its rating's resting value, stars × 10.
    rating_base: i64,
    reviews_per_day: f64,
}

/// One hour of one listing.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Hour {
    amazon: i64,
    new: i64,
    rank: i64,
    count_new: i64,
    count_fba: i64,
    count_fbm: i64,
    buy_box: i64,
    buy_box_ship: i64,
    amazon_has_box: bool,
    /// Stars × 10 (0–50).
    rating: i64,
    reviews: i64,
}

impl Catalog {
    /// The catalogue for `seed`.
    pub fn new(seed: u64) -> Self {
        Catalog { seed }
    }

    fn identity(&self, asin: &Asin) -> Identity {
        let key = hash(self.seed, &[b"product", asin.as_str().as_bytes()]);
        let r = |tag: u64| unit(derive(key, tag, 0));
        let arch = &ARCHETYPES[(derive(key, 1, 0) % ARCHETYPES.len() as u64) as usize];
        let brand = BRANDS[(derive(key, 2, 0) % BRANDS.len() as u64) as usize];
        let variant = VARIANTS[(derive(key, 3, 0) % VARIANTS.len() as u64) as usize];
        let model = derive(key, 4, 0) % 900 + 100;
        let title = format!("{brand} {} {model}, {variant}", arch.noun);
        // Log-uniform between the archetype's bounds.
        let (lo, hi) = (arch.min_eur.ln(), arch.max_eur.ln());
        let base_eur_cents = (lo + (hi - lo) * r(5)).exp() * 100.0;
        let ean = ean13(derive(key, 6, 0));
        let image = image_name(derive(key, 7, 0));
        let weight_g = arch.weight_g.0 + (r(8) * (arch.weight_g.1 - arch.weight_g.0) as f64) as i64;
        let home = Market::ALL[(derive(key, 9, 0) % 5) as usize];
        let cheap = (r(10) < OPPORTUNITY_SHARE).then(|| {
            let m = Market::ALL[(derive(key, 11, 0) % 5) as usize];
            (m, 0.55 + 0.17 * r(12))
        });
        let rank_base = (200f64.ln() + (400_000f64.ln() - 200f64.ln()) * r(13)).exp();
        let monthly_sold = (r(14) < 0.7 && rank_base < 120_000.0)
            .then(|| {
                ((60_000.0 / rank_base.powf(0.8)) * 40.0)
                    .round()
                    .clamp(1.0, 10_000.0) as i64
            })
            .map(|m| if m >= 50 { m / 50 * 50 } else { m });
        Identity {
            key,
            arch,
            brand,
            title,
            base_eur_cents,
            ean,
            image,
            weight_g,
            home,
            cheap,
            rank_base,
            monthly_sold,
        }
    }

    fn listing(&self, id: &Identity, market: Market) -> Listing {
        let key = derive(id.key, 100 + market.keepa_domain() as u64, 0);
        let r = |tag: u64| unit(derive(key, tag, 0));
        let present = market == id.home || r(1) < 0.88;
        let mut factor = 1.0 + 0.06 * signed(derive(key, 2, 0));
        if let Some((m, d)) = id.cheap
            && m == market
        {
            factor = d;
        }
        let minor_per_eur_cent = match market.currency() {
            crate::domain::Currency::GBP => GBP_PER_EUR,
            crate::domain::Currency::EUR => 1.0,
        };
        Listing {
            key,
            present,
            factor,
            amazon_sells: r(3) < 0.55,
            oos_rate: if r(4) < 0.15 { 0.25 } else { 0.03 },
            fbm_shipping: if r(5) < 0.3 { 299 } else { 0 },
            offers_base: 2.0 + 18.0 * r(6),
            minor_per_eur_cent,
            package_quantity: if r(7) < 0.02 { 2 } else { 1 },
            listed_h: LISTED_FROM_H + (derive(key, 9, 0) % LISTED_SPAN_H) as i64,
            rating_base: 32 + (derive(key, 60, 0) % 17) as i64,
            reviews_per_day: 0.05 + 2.0 * r(62),
        }
    }

    /// The state of a listing at an absolute hour (Unix hours).
    fn hour(&self, id: &Identity, l: &Listing, h: i64, ev: &mut Events) -> Hour {
        let day = h.div_euclid(24);
        let in_stock = unit(derive(l.key, 20, day)) >= l.oos_rate;
        let amazon_in = l.amazon_sells && in_stock && unit(derive(l.key, 21, day)) >= 0.05;
        let base = id.base_eur_cents * l.factor * l.minor_per_eur_cent;
        let amz_walk = smooth(derive(l.key, 30, 0), ev.amazon.at(l.key, 31, h, 0.04), 72);
        let tp_walk = smooth(derive(l.key, 32, 0), ev.third.at(l.key, 33, h, 0.05), 60);
        let rank_walk = smooth(derive(l.key, 34, 0), ev.rank.at(l.key, 35, h, 0.06), 48);
        let offer_walk = smooth(derive(l.key, 36, 0), ev.offers.at(l.key, 37, h, 0.02), 120);
        let amazon_price = quantize(base * (1.0 + 0.07 * amz_walk));
        let third_price = quantize(base * (1.01 + 0.06 * tp_walk));
        let amazon = if amazon_in { amazon_price } else { -1 };
        let third = if in_stock { third_price } else { -1 };
        let new = match (amazon, third) {
            (-1, t) => t,
            (a, -1) => a,
            (a, t) => a.min(t),
        };
        let (buy_box, buy_box_ship, amazon_has_box) =
            if amazon >= 0 && (third < 0 || amazon <= third + third / 30) {
                (amazon, 0, true)
            } else if third >= 0 {
                (third, l.fbm_shipping, false)
            } else {
                (-1, -1, false)
            };
        let count_new = if in_stock {
            ((l.offers_base * (1.0 + 0.3 * offer_walk)).round() as i64).max(1)
                + i64::from(amazon_in)
        } else {
            0
        };
        let count_fba = if in_stock {
            (count_new * 2 / 3).max(i64::from(amazon_in))
        } else {
            0
        };
        // A rating moves up a notch now and then; reviews accumulate day by day.
        let rating =
            (l.rating_base + i64::from(unit(derive(l.key, 61, day.div_euclid(14))) < 0.3)).min(50);
        let days_listed = (day - l.listed_h.div_euclid(24)).max(0);
        Hour {
            amazon,
            new,
            rating,
            reviews: (days_listed as f64 * l.reviews_per_day) as i64,
            rank: (id.rank_base * (0.6 * rank_walk).exp()).round() as i64,
            count_new,
            count_fba,
            count_fbm: count_new - count_fba,
            buy_box,
            buy_box_ship,
            amazon_has_box,
        }
    }

    /// The Keepa product object for `asin` in `market` at `now_ms` (Unix ms).
    pub fn product(&self, asin: &Asin, market: Market, now_ms: i64, opts: Options) -> SimProduct {
        let id = self.identity(asin);
        let l = self.listing(&id, market);
        let now_keepa = unix_ms_to_keepa(now_ms);
        let mut p = wire::Product {
            asin: asin.to_string(),
            domain_id: i64::from(market.keepa_domain()),
            product_type: Some(0),
            last_update: Some(last_update(l.key, now_keepa)),
            csv: opts.history.then(|| vec![None; 36]),
            ..Default::default()
        };
        if !l.present {
            // Not listed here: Keepa knows the ASIN but has nothing for this store.
            p.product_type = Some(4);
            return SimProduct {
                product: p,
                ..SimProduct::default()
            };
        }
        let mut sim = SimProduct::default();
        let root = id.arch.root;
        let child = child_category(&id);
        let root_name = ROOTS
            .iter()
            .find(|(r, _)| *r == root)
            .map_or("", |(_, name)| *name);
        sim.category_tree = Some(vec![
            CategoryRef {
                cat_id: root,
                name: root_name.to_string(),
            },
            CategoryRef {
                cat_id: child,
                name: child_name(root_name, child),
            },
        ]);
        sim.sales_rank_reference = Some(root);
        let listed_since = (l.listed_h * 60 - crate::keepa::time::KEEPA_EPOCH_OFFSET_MIN).max(0);
        sim.listed_since = Some(listed_since);
        sim.tracking_since = Some(listed_since + (derive(l.key, 63, 0) % (30 * 24 * 60)) as i64);
        p.title = Some(id.title.clone());
        p.brand = Some(id.brand.to_string());
        p.product_group = Some(id.arch.group.to_string());
        p.ean_list = Some(vec![id.ean.clone()]);
        p.images = Some(vec![Image {
            l: Some(format!("{}L.jpg", id.image)),
            m: Some(format!("{}M.jpg", id.image)),
        }]);
        p.root_category = Some(id.arch.root);
        p.categories = Some(vec![child_category(&id)]);
        p.availability_amazon = Some(if l.amazon_sells { 0 } else { -1 });
        p.package_weight = Some(id.weight_g);
        p.package_length = Some(150 + (id.weight_g / 20).min(450));
        p.package_width = Some(100 + (id.weight_g / 40).min(300));
        p.package_height = Some(40 + (id.weight_g / 60).min(250));
        p.package_quantity = Some(l.package_quantity);
        p.monthly_sold = id.monthly_sold.map(|m| {
            ((m as f64) * (0.4 + 0.8 * unit(derive(l.key, 8, 0))))
                .round()
                .max(1.0) as i64
        });
        p.referral_fee_percentage = Some(id.arch.referral);
        let pick = ((250.0 + id.weight_g as f64 * 0.35).min(1_800.0) * l.minor_per_eur_cent).round()
            as i64;
        p.fba_fees = Some(FbaFees {
            pick_and_pack_fee: Some(pick),
            pick_and_pack_fee_tax: Some(pick * i64::from(market.standard_vat_bp()) / 10_000),
            storage_fee: Some(0),
            storage_fee_tax: Some(0),
        });
        p.is_adult_product = Some(false);

        // Walk the last 90 days hour by hour: history points where a value changes, and
        // the accumulators for `stats`.
        let now_h = now_ms.div_euclid(3_600_000);
        let start_h = now_h - HOURS;
        let trim_h = if opts.days > 0 {
            now_h - opts.days.min(HISTORY_DAYS) * 24
        } else {
            start_h
        };
        let stats_days = opts.stats_days.unwrap_or(90).clamp(1, HISTORY_DAYS);
        let mut ev = Events::default();
        let mut hist: [Vec<i64>; 36] = std::array::from_fn(|_| Vec::new());
        let mut acc = Accumulators::new(now_h, stats_days);
        let mut prev: Option<Hour> = None;
        let mut last = None;
        // Each series' value, as Keepa lists it: from when it took that value. A trimmed
        // history (`days`) starts with every series' value at the window's start, at the
        // time it took it, which may predate the window, as Keepa's does.
        let mut since = [0_i64; SERIES.len()];
        let mut box_since = 0_i64;
        let mut seller_since = 0_i64;
        let mut sellers: Vec<String> = Vec::new();
        for h in start_h..=now_h {
            let cur = self.hour(&id, &l, h, &mut ev);
            acc.add(h, &cur);
            if prev == Some(cur) && h != trim_h {
                continue;
            }
            let t = (h * 60 - crate::keepa::time::KEEPA_EPOCH_OFFSET_MIN).max(0);
            let listed = opts.history && h >= trim_h;
            for (k, (i, f)) in SERIES.iter().enumerate() {
                let changed = prev.is_none_or(|p| f(&p) != f(&cur));
                if changed {
                    since[k] = t;
                }
                // The Buy Box's history is its triples, below.
                if listed && *i != 18 && opts.carries(*i) && (changed || h == trim_h) {
                    hist[*i].extend([since[k], f(&cur)]);
                }
            }
            let seller_changed =
                prev.is_none_or(|p| box_seller(&p, market) != box_seller(&cur, market));
            if seller_changed {
                seller_since = t;
            }
            if opts.buybox && listed && (seller_changed || h == trim_h) {
                sellers.extend([
                    seller_since.to_string(),
                    box_seller(&cur, market).to_string(),
                ]);
            }
            let box_changed =
                prev.is_none_or(|p| (p.buy_box, p.buy_box_ship) != (cur.buy_box, cur.buy_box_ship));
            if box_changed {
                box_since = t;
            }
            if opts.buybox && listed && (box_changed || h == trim_h) {
                // Keepa's triples hold the item price and the shipping apart; the
                // landed price is their sum (`buy_box` here is landed).
                let price = if cur.buy_box >= 0 {
                    cur.buy_box - cur.buy_box_ship.max(0)
                } else {
                    -1
                };
                hist[18].extend([box_since, price, cur.buy_box_ship]);
            }
            prev = Some(cur);
            last = Some(cur);
        }
        if opts.history {
            sim.sales_ranks = Some(BTreeMap::from([(root.to_string(), hist[3].clone())]));
        }
        if opts.buybox {
            sim.buy_box_seller_id_history = Some(sellers);
        }
        if let Some(csv) = p.csv.as_mut() {
            for (slot, series) in csv.iter_mut().zip(hist) {
                if !series.is_empty() {
                    *slot = Some(series);
                }
            }
        }
        if let Some(cur) = last {
            p.last_price_change = Some(now_keepa - (derive(l.key, 41, now_h) % 600) as i64);
            if opts.stats_days.is_some() {
                let facts = Facts {
                    monthly_sold: p.monthly_sold,
                    last_update: p.last_update.unwrap_or(now_keepa),
                };
                p.stats = Some(acc.stats(&cur, opts, market, l.fbm_shipping == 0, facts));
            }
        }
        sim.product = p;
        sim
    }

    /// A deterministic best-seller list for `(market, category)`, as Keepa's: products of
    /// that category (a root or child node id, or a product group's name) listed in the
    /// market, best sales rank first, at most `len` of them.
    pub fn bestsellers(&self, market: Market, category: &str, len: usize) -> Vec<String> {
        let key = hash(
            self.seed,
            &[
                b"bestsellers",
                &[market.keepa_domain()],
                category.as_bytes(),
            ],
        );
        let node = category.trim().parse::<i64>().ok();
        let belongs = |id: &Identity| match node {
            Some(n) => n == id.arch.root || n == child_category(id),
            None => id.arch.group.eq_ignore_ascii_case(category.trim()),
        };
        // Candidates from one stream per list; a child node holds ~1 product in 60.
        let mut found: Vec<(f64, String)> = (0..(len as i64).saturating_mul(100))
            .map(|i| asin_from(derive(key, 50, i)))
            .filter_map(|asin| {
                let parsed: Asin = asin.parse().ok()?;
                let id = self.identity(&parsed);
                (belongs(&id) && self.listing(&id, market).present).then_some((id.rank_base, asin))
            })
            .take(len)
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found.into_iter().map(|(_, asin)| asin).collect()
    }
}

/// The child node a product is listed under (`root × 10 + k`, as `/category` lists them).
fn child_category(id: &Identity) -> i64 {
    id.arch.root * 10 + (id.key % 7) as i64
}

/// The name of the child node `child` of the root named `root_name`.
pub(super) fn child_name(root_name: &str, child: i64) -> String {
    format!("{root_name} {}", child % 10 + 1)
}

/// Who holds the Buy Box in an hour, as `buyBoxSellerIdHistory` names it (`-1`: no one).
fn box_seller(x: &Hour, market: Market) -> &'static str {
    if x.buy_box < 0 {
        "-1"
    } else if x.amazon_has_box {
        crate::keepa::decode::amazon_seller_id(market)
    } else {
        THIRD_SELLER
    }
}

/// Rounds to a shelf price ending in .49 or .99 (minor units), at least 0.99.
fn quantize(minor: f64) -> i64 {
    let v = minor.round() as i64;
    ((v + 25) / 50 * 50 - 1).max(99)
}

/// When Keepa last updated a listing, as of the Keepa minute `now`: each listing is updated
/// every 15 to 60 minutes at its own phase, so the time only moves forward, as Keepa's
/// `lastUpdate` does.
fn last_update(key: u64, now: i64) -> i64 {
    let every = 15 + (derive(key, 40, 0) % 46) as i64;
    let phase = (derive(key, 41, 0) % every as u64) as i64;
    now - (now - phase).rem_euclid(every)
}

#[cfg(test)]
mod tests;
