//! The products view's store reads: a page of products by ASIN, and the watchlist.

use super::{Arc, Msg, Store, mpsc};
use crate::store::ProductFilter;
use crate::tui::state::{ProductLine, ProductsPage, ProductsQuery};

/// Reads the page `q` asks for: the products' lines, or why the store did not answer.
pub async fn load_products(store: &dyn Store, q: ProductsQuery) -> ProductsPage {
    let filter = ProductFilter {
        text: q.text.clone(),
        markets: Vec::new(),
        limit: q.limit,
        offset: q.offset,
    };
    match store.products(filter).await {
        Ok(page) => ProductsPage {
            total: page.total,
            lines: page.items.iter().map(ProductLine::of).collect(),
            query: Some(q),
            error: None,
        },
        Err(e) => ProductsPage {
            query: Some(q),
            error: Some(e.to_string()),
            ..ProductsPage::default()
        },
    }
}

pub(super) fn spawn_products(store: Arc<dyn Store>, q: ProductsQuery, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let page = load_products(store.as_ref(), q).await;
        let _ = tx.send(Msg::Products(Box::new(page))).await;
    });
}

pub(super) fn spawn_watchlist(store: Arc<dyn Store>, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let msg = match store.watchlist().await {
            Ok(entries) => Msg::Watchlist(entries),
            Err(e) => Msg::Toast(format!("Could not read the watchlist: {e}"), true),
        };
        let _ = tx.send(msg).await;
    });
}
