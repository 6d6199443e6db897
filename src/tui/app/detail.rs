//! The two detail panes' store reads, each on a task of its own: a row's product with its
//! route explained (the opportunities table), and a product whole with every stored route
//! (the products view). Both read the product, its history and some of its opportunities
//! at once ([`read_product`]).

use super::{Arc, Detail, Detect, Msg, OpportunityFilter, OpportunityKey, Store, mpsc};
use crate::domain::{Asin, Opportunity, PriceSeries, Product};
use crate::tui::model::ProductDetail;

pub(super) fn spawn_detail(
    store: Arc<dyn Store>,
    explainer: Option<Arc<dyn Detect>>,
    key: OpportunityKey,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let d = load_detail(store.as_ref(), explainer.as_deref(), key).await;
        let _ = tx.send(Msg::Detail(Box::new(d))).await;
    });
}

/// A product as a detail pane reads it: the product, its price history and the
/// opportunities a filter names, each `None` (the history empty) where its read failed,
/// the first failure said.
struct ProductParts {
    product: Option<Product>,
    history: Vec<PriceSeries>,
    opportunities: Option<Vec<Opportunity>>,
    error: Option<String>,
}

/// Reads `asin`'s [`ProductParts`], the opportunities those `filter` names, at once.
async fn read_product(store: &dyn Store, asin: Asin, filter: OpportunityFilter) -> ProductParts {
    let (product, history, opps) = tokio::join!(
        store.product(asin),
        store.history(asin),
        store.opportunities(filter)
    );
    let mut error = None;
    let mut note = |e: &crate::store::StoreError| {
        error.get_or_insert_with(|| e.to_string());
    };
    let product = product.unwrap_or_else(|e| {
        note(&e);
        None
    });
    let history = history.unwrap_or_else(|e| {
        note(&e);
        Vec::new()
    });
    let opportunities = opps.map(|p| p.items).map_err(|e| note(&e)).ok();
    ProductParts {
        product,
        history,
        opportunities,
        error,
    }
}

/// Loads the product, history and opportunity behind a row, the opportunity explained
/// (with its breakdown lines) from that product.
pub async fn load_detail(
    store: &dyn Store,
    explainer: Option<&dyn Detect>,
    key: OpportunityKey,
) -> Detail {
    let filter = OpportunityFilter {
        text: Some(key.asin.to_string()),
        buy: vec![key.buy],
        sell: vec![key.sell],
        limit: 5,
        ..OpportunityFilter::default()
    };
    let ProductParts {
        product,
        history,
        opportunities,
        error,
    } = read_product(store, key.asin, filter).await;
    let opportunity = opportunities.and_then(|o| o.into_iter().find(|o| o.key() == key));
    let opportunity = match (opportunity, &product, explainer) {
        (Some(o), Some(p), Some(x)) => Some(x.explain(p, &o).unwrap_or(o)),
        (o, _, _) => o,
    };
    Detail {
        key,
        product,
        history,
        opportunity,
        error,
    }
}

/// Routes read for a product's detail: every ordered pair of the five markets, and
/// room for titles that name its ASIN (their rows are dropped).
const ROUTES_READ: usize = 40;

/// Reads the products view's detail of `asin`: the product, its price history and its
/// stored routes (ranked first, by expected monthly profit), for the data changes counted
/// as `changes`. What could not be read is said, the rest shown.
pub async fn load_product_detail(store: &dyn Store, asin: Asin, changes: u64) -> ProductDetail {
    let routes = OpportunityFilter {
        text: Some(asin.to_string()),
        limit: ROUTES_READ,
        ..OpportunityFilter::default()
    };
    let parts = read_product(store, asin, routes).await;
    // The text matches titles too: a title naming this ASIN is another product's.
    let routes = parts
        .opportunities
        .map(|o| o.into_iter().filter(|o| o.asin == asin).collect());
    let (product, history, error) = (parts.product, parts.history, parts.error);
    ProductDetail {
        asin,
        changes,
        product,
        history,
        routes,
        error,
    }
}

pub(super) fn spawn_product_detail(
    store: Arc<dyn Store>,
    (asin, changes): (Asin, u64),
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let d = load_product_detail(store.as_ref(), asin, changes).await;
        let _ = tx.send(Msg::ProductDetail(Box::new(d))).await;
    });
}
