//! Hand-made listings and opportunities for the store story: small, exact, and chosen so
//! every filter, sort key and tie-break has a visible effect.

use chrono::{DateTime, TimeDelta, Utc};

use arbdesk::domain::{
    Asin, Breakdown, BreakdownLine, Listing, Market, Money, Opportunity, PricePoint, PriceSeries,
    PriceSnapshot, SeriesKind,
};

/// Minutes after 2026-11-25T00:00:00Z.
pub fn t(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_564_800, 0).unwrap() + TimeDelta::minutes(min)
}

pub fn asin(s: &str) -> Asin {
    s.parse().unwrap()
}

/// The story's products: a kettle on three markets, a lamp, headphones and a fan.
pub fn a() -> Asin {
    asin("B0STORY0A1")
}
pub fn b() -> Asin {
    asin("B0STORY0B2")
}
pub fn c() -> Asin {
    asin("B0STORY0C3")
}
pub fn d() -> Asin {
    asin("B0STORY0D4")
}
pub fn e() -> Asin {
    asin("B0STORY0E5")
}

pub fn money(m: Market, minor: i64) -> Money {
    Money::new(minor, m.currency())
}

/// A snapshot with a Buy Box price and nothing else.
pub fn snapshot(m: Market, title: Option<&str>, buy_box: Option<i64>, at: i64) -> PriceSnapshot {
    PriceSnapshot {
        market: m,
        title: title.map(str::to_string),
        amazon: None,
        new: buy_box.map(|p| money(m, p)),
        buy_box: buy_box.map(|p| money(m, p)),
        amazon_avg90: None,
        new_avg90: None,
        buy_box_avg90: None,
        sales_rank: Some(1_500),
        rank_drops30: Some(12),
        monthly_sold: None,
        offers_new: Some(4),
        offers_new_fba: Some(2),
        offers_new_fbm: Some(2),
        buy_box_is_amazon: Some(false),
        amazon_buy_box_share_pct: Some(12.5),
        referral_fee_pct: Some(15.0),
        fba_fee: Some(money(m, 310)),
        out_of_stock_pct90: Some(3),
        eans: Vec::new(),
        package_quantity: Some(1),
        package: Default::default(),
        product_group: Some("Kitchen".into()),
        is_adult: false,
        is_hazmat: false,
        observed_at: t(at),
    }
}

pub fn series(m: Market, kind: SeriesKind, points: &[(i64, Option<i64>)]) -> PriceSeries {
    PriceSeries {
        market: m,
        kind,
        points: points
            .iter()
            .map(|(at, value)| PricePoint {
                at: t(*at),
                value: *value,
            })
            .collect(),
    }
}

/// A listed product in `m`.
#[allow(clippy::too_many_arguments)]
pub fn listed(
    asin: Asin,
    m: Market,
    title: &str,
    brand: &str,
    eans: &[&str],
    buy_box: i64,
    at: i64,
    history: Vec<PriceSeries>,
) -> Listing {
    let eans: Vec<String> = eans.iter().map(|e| e.to_string()).collect();
    let mut snap = snapshot(m, Some(title), Some(buy_box), at);
    snap.eans = eans.clone();
    Listing {
        asin,
        market: m,
        product_type: 0,
        title: Some(title.into()),
        brand: Some(brand.into()),
        image_url: Some(format!(
            "https://m.media-amazon.com/images/I/{asin}-{}.jpg",
            m.code()
        )),
        eans,
        package_quantity: Some(1),
        root_category: Some(3_167_641),
        is_adult: false,
        is_hazmat: false,
        snapshot: snap,
        history,
    }
}

/// A record of `asin` in `m` that does not sell it: Keepa type 4, or type 0 without a title.
pub fn unlisted(asin: Asin, m: Market, product_type: i64, brand: Option<&str>, at: i64) -> Listing {
    Listing {
        asin,
        market: m,
        product_type,
        title: None,
        brand: brand.map(str::to_string),
        image_url: None,
        eans: Vec::new(),
        package_quantity: None,
        root_category: None,
        is_adult: false,
        is_hazmat: false,
        snapshot: snapshot(m, None, None, at),
        history: Vec::new(),
    }
}

/// Figures of one opportunity row: gross %, net %, net profit (cents), ROI %, expected
/// monthly profit (cents), ranked, updated (minutes).
pub struct Figures(
    pub f64,
    pub f64,
    pub i64,
    pub f64,
    pub i64,
    pub bool,
    pub i64,
);

pub fn opp(asin: Asin, buy: Market, sell: Market, title: &str, f: Figures) -> Opportunity {
    let Figures(gross, net, profit, roi, emp, ranked, updated) = f;
    Opportunity {
        sell_facts: Default::default(),
        asin,
        title: Some(title.into()),
        buy_market: buy,
        sell_market: sell,
        buy_price: money(buy, 2_199),
        sell_price: money(sell, 2_899),
        gross_margin: Money::eur(700),
        gross_margin_pct: gross,
        net_profit: Money::eur(profit),
        net_margin_pct: net,
        roi_pct: roi,
        expected_monthly_profit: Money::eur(emp),
        max_buy_price: Some(money(buy, 2_400)),
        target_sell_price: None,
        break_even_sell_price: Some(money(sell, 2_350)),
        ranked,
        flags: if ranked {
            arbdesk::domain::FlagSet::default()
        } else {
            [arbdesk::domain::Flag::Profit].into_iter().collect()
        },
        breakdown: Breakdown {
            lines: vec![BreakdownLine {
                id: "referral_fee".into(),
                label: "Referral fee 15 % of 28.99 gross".into(),
                amount: money(sell, -435),
                source: "config:referral 2025-02-01".into(),
            }],
            fx_eur_per_gbp: (buy == Market::UK || sell == Market::UK).then_some(1.1765),
            fx_date: Some("2026-11-24".into()),
            fx_rate: Some("ecb 2026-11-24: 1 EUR = 0.8653 GBP".into()),
            vat_table: Some("2025-01-01".into()),
            fee_table: Some("2025-02-01".into()),
            buy_observed_at: Some(t(updated - 5)),
            sell_observed_at: Some(t(updated - 3)),
            unexplained: None,
        },
        updated_at: t(updated),
        first_seen: None,
    }
}

/// The story's short name of an ASIN: `A` for `B0STORY0A1`.
pub fn label(asin: Asin) -> String {
    asin.as_str()[8..9].to_string()
}

/// Opportunity keys as `A:FR:DE` labels, for readable assertions.
pub fn keys(items: &[Opportunity]) -> Vec<String> {
    items
        .iter()
        .map(|o| format!("{}:{}:{}", label(o.asin), o.buy_market, o.sell_market))
        .collect()
}

/// ASIN labels of a list.
pub fn asins<T>(items: &[T], f: impl Fn(&T) -> Asin) -> Vec<String> {
    items.iter().map(|x| label(f(x))).collect()
}
