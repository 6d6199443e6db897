//! What the client is asked and what it answers: a `/product` query with its token cost,
//! a fetched batch of product objects, a best-seller list.

use chrono::{DateTime, Utc};

use super::super::wire::Envelope;
use super::MAX_ASINS_PER_REQUEST;
use crate::domain::{Asin, Market};

/// A `/product` request for one market.
#[derive(Clone, Debug)]
pub struct ProductQuery {
    /// The market.
    pub market: Market,
    /// ASINs (split into requests of at most 100).
    pub asins: Vec<Asin>,
    /// `stats=N`: statistics over the last N days.
    pub stats_days: Option<u32>,
    /// `history=0` drops `csv` when false.
    pub history: bool,
    /// `days=N`: trim history.
    pub days: Option<u32>,
    /// `buybox=1` (+2 tokens per product).
    pub buybox: bool,
    /// `update=N` hours.
    pub update: Option<i32>,
}

impl ProductQuery {
    /// The usual refresh: 90-day stats and history, no Buy Box.
    pub fn new(market: Market, asins: Vec<Asin>) -> Self {
        ProductQuery {
            market,
            asins,
            stats_days: Some(90),
            history: true,
            days: Some(90),
            buybox: false,
            update: None,
        }
    }

    /// The requests this query is made as: one per [`MAX_ASINS_PER_REQUEST`] ASINs, in
    /// order, each with the query's parameters.
    pub fn requests(&self) -> impl Iterator<Item = ProductQuery> + '_ {
        self.asins
            .chunks(MAX_ASINS_PER_REQUEST)
            .map(|asins| ProductQuery {
                asins: asins.to_vec(),
                ..self.clone()
            })
    }

    /// Token cost Keepa will charge, as far as it is documented.
    pub fn estimated_cost(&self) -> i64 {
        self.cost_per_product() * self.asins.len() as i64
    }

    /// Token cost of one product in this query.
    pub fn cost_per_product(&self) -> i64 {
        Self::product_cost(self.buybox, self.update)
    }

    /// Token cost of one product in a query with these `buybox` and `update` parameters.
    pub fn product_cost(buybox: bool, update: Option<i32>) -> i64 {
        1 + if buybox { 2 } else { 0 } + i64::from(update == Some(0))
    }
}

/// The result of one `/product` request.
#[derive(Debug, Clone)]
pub struct ProductBatch {
    /// The market asked.
    pub market: Market,
    /// Token state after the request.
    pub envelope: Envelope,
    /// Raw product objects, undecoded (decode with `decode::decode_product`).
    pub products: Vec<String>,
    /// When the response arrived.
    pub fetched_at: DateTime<Utc>,
}

/// A best-seller list.
#[derive(Debug, Clone, PartialEq)]
pub struct BestSellers {
    /// The market.
    pub market: Market,
    /// Category node id (0 for a product group).
    pub category_id: i64,
    /// Well-formed ASINs, best seller first.
    pub asins: Vec<Asin>,
    /// Whether Keepa has a list for the category at all (it answers none, at no cost,
    /// for a category it does not know).
    pub listed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_made_as_requests_of_at_most_a_hundred() {
        let asins: Vec<Asin> = (0..250)
            .map(|i| format!("B0{i:08}").parse().unwrap())
            .collect();
        let mut q = ProductQuery::new(Market::FR, asins.clone());
        q.buybox = true;
        q.update = Some(0);
        let requests: Vec<ProductQuery> = q.requests().collect();
        let sizes: Vec<usize> = requests.iter().map(|r| r.asins.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let again: Vec<Asin> = requests.iter().flat_map(|r| r.asins.clone()).collect();
        assert_eq!(again, asins, "every ASIN once, in order");
        assert!(requests.iter().all(|r| r.market == Market::FR
            && r.buybox
            && r.update == Some(0)
            && r.stats_days == Some(90)));
        assert_eq!(
            ProductQuery::new(Market::UK, Vec::new()).requests().count(),
            0,
            "no ASINs, no request"
        );
    }
}
