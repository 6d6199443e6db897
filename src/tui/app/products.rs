//! The products view's store reads: a page of products by ASIN, and the watchlist.

use super::{Arc, ConsoleDeps, Msg, Store, UiState, mpsc};
use crate::store::ProductFilter;
use crate::tui::state::{ProductLine, ProductsPage, ProductsQuery, seek_page_offset};

/// Reads the page `q` asks for: the products' lines, or why the store did not answer. A
/// query that seeks a product reads first how many products sort before it, and the page
/// that holds it.
pub async fn load_products(store: &dyn Store, mut q: ProductsQuery) -> ProductsPage {
    let failed = |q: ProductsQuery, e: crate::store::StoreError| ProductsPage {
        query: Some(q),
        error: Some(e.to_string()),
        ..ProductsPage::default()
    };
    let mut found = None;
    if let Some(asin) = q.seek {
        let before = ProductFilter {
            text: q.text.clone(),
            before: Some(asin),
            ..ProductFilter::default()
        };
        match store.products(before).await {
            Ok(page) => {
                let at = usize::try_from(page.total).unwrap_or(usize::MAX);
                found = Some(at);
                q.offset = seek_page_offset(at);
            }
            Err(e) => return failed(q, e),
        }
    }
    let filter = ProductFilter {
        text: q.text.clone(),
        markets: Vec::new(),
        before: None,
        limit: q.limit,
        offset: q.offset,
    };
    match store.products(filter).await {
        Ok(page) => ProductsPage {
            total: page.total,
            lines: page.items.iter().map(ProductLine::of).collect(),
            query: Some(q),
            error: None,
            found,
        },
        Err(e) => failed(q, e),
    }
}

/// The products view's share of the console's 1 Hz tick. The watchlist changes with
/// watch commands from anywhere (the CLI, the API, discovery), which the store's
/// generation does not count: it is read every 30 s (20,000 ASINs take ~60 ms to read),
/// at once after this console's own changes (`Msg::WatchChanged`), and with new data
/// while some watched ASINs are not fetched yet (the title counts them). The page is read
/// again every 5 s at most, when new data came (`new_data`) or the last read failed.
pub(super) fn on_tick(
    state: &mut UiState,
    deps: &ConsoleDeps,
    tx: &mpsc::Sender<Msg>,
    ticks: u64,
    new_data: &mut bool,
) {
    if state.view_kind != crate::tui::action::View::Products || !ticks.is_multiple_of(5) {
        return;
    }
    let new_data = std::mem::take(new_data);
    let unfetched = state
        .products
        .watched
        .as_ref()
        .is_some_and(|w| w.never_fetched > 0);
    if ticks.is_multiple_of(30) || (new_data && unfetched) {
        spawn_watchlist(deps.store.clone(), tx.clone());
    }
    if new_data || state.products.page.error.is_some() {
        state.products_changed();
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
        let started = chrono::Utc::now();
        let msg = match store.watchlist().await {
            Ok(entries) => Msg::Watchlist(entries, started),
            Err(e) => Msg::Toast(format!("Could not read the watchlist: {e}"), true),
        };
        let _ = tx.send(msg).await;
    });
}
