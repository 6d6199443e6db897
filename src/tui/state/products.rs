//! The products view (`g p`): every stored product by ASIN, its price per market and
//! whether it is watched, searched by title, brand or ASIN. The store holds as many
//! products as it is fed (100,000 and more), so the view loads the window around the
//! selection, a page at a time, and asks again as the selection moves past it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Action, Effect, PromptKind, UiState};
use crate::domain::{Asin, Market, Money, Product};
use crate::economics::tables::market_index;
use crate::filter::shown_title;
use crate::store::{WatchEntry, WatchSource};

/// Products read at once: a few screens, so moving a page rarely waits for the store.
pub const PRODUCTS_PAGE: usize = 200;

/// Where the page read for a product found at position `at` starts: a quarter page above
/// it (the screen shows it a third of the way down).
pub fn seek_page_offset(at: usize) -> usize {
    at.saturating_sub(PRODUCTS_PAGE / 4)
}

/// What the products view asks the store for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductsQuery {
    /// Search words (title, brand or ASIN; all must match), as `GET /products?q=` takes them.
    pub text: Option<String>,
    /// The first product of the page, by ASIN.
    pub offset: usize,
    /// Products on the page.
    pub limit: usize,
    /// A product to find: the page is the one that holds it (or would), `offset` is
    /// worked out by the store, and the answer says where it is ([`ProductsPage::found`]).
    pub seek: Option<Asin>,
}

/// A market's cell in the products view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketCell {
    /// Listed, at this price: the Buy Box, else the lower of Amazon's and the lowest New
    /// offer (what detection takes as the price to buy at).
    Price(Money),
    /// Listed, no current New offer.
    OutOfStock,
    /// Not listed there.
    NotListed,
    /// Not fetched there yet.
    NotFetched,
}

/// One product as the view lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductLine {
    /// The ASIN.
    pub asin: Asin,
    /// The title as the table shows titles (sanitized, `–` when unknown).
    pub title: String,
    /// Per market, in [`Market::ALL`] order.
    pub markets: [MarketCell; 5],
    /// Keepa's oldest update across the markets that list it: no price on the line is
    /// older (a route's detail gives each side's own).
    pub updated: Option<DateTime<Utc>>,
}

impl ProductLine {
    /// The line of `p`.
    pub fn of(p: &Product) -> ProductLine {
        let markets = Market::ALL.map(|m| match p.markets.get(&m) {
            None if p.not_fetched(m) => MarketCell::NotFetched,
            None => MarketCell::NotListed,
            Some(s) => {
                let positive = |p: Option<Money>| p.filter(|p| p.minor > 0);
                let lowest = match (positive(s.amazon), positive(s.new)) {
                    (Some(a), Some(n)) => Some(if n.minor < a.minor { n } else { a }),
                    (a, n) => a.or(n),
                };
                positive(s.buy_box)
                    .or(lowest)
                    .map_or(MarketCell::OutOfStock, MarketCell::Price)
            }
        });
        ProductLine {
            asin: p.asin,
            title: shown_title(p.title.as_deref()),
            markets,
            updated: p.markets.values().map(|s| s.observed_at).min(),
        }
    }

    /// The product page in the first of `markets` that lists it (else the first of them).
    pub fn link(&self, markets: &[Market]) -> Option<String> {
        let listed = markets.iter().find(|m| {
            matches!(
                self.markets[market_index(**m)],
                MarketCell::Price(_) | MarketCell::OutOfStock
            )
        });
        listed
            .or(markets.first())
            .map(|m| m.product_url(&self.asin))
    }
}

/// A store answer for the products view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProductsPage {
    /// What it answers.
    pub query: Option<ProductsQuery>,
    /// Products matching the search (all pages).
    pub total: u64,
    /// The page, from `query.offset`.
    pub lines: Vec<ProductLine>,
    /// Why the store did not answer.
    pub error: Option<String>,
    /// For a query that seeks a product: its position (or where it would be).
    pub found: Option<usize>,
}

/// The watchlist as the products view shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Watched {
    /// Where each watched ASIN came from.
    pub source: HashMap<Asin, WatchSource>,
    /// Watched ASINs not fetched yet in some of the tracked markets.
    pub never_fetched: usize,
    /// When the console read it (its clock's last tick).
    pub read_at: DateTime<Utc>,
}

impl Watched {
    /// From the store's watchlist, for the tracked `markets`, read at `read_at`.
    pub fn of(entries: &[WatchEntry], markets: &[Market], read_at: DateTime<Utc>) -> Watched {
        Watched {
            read_at,
            source: entries.iter().map(|e| (e.asin, e.source)).collect(),
            never_fetched: entries.iter().filter(|e| e.pending(markets)).count(),
        }
    }
}

/// The products view as `/` opened on it.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOrigin {
    /// The search in force.
    pub search: String,
    /// The selected position.
    pub selected: usize,
    /// The first product on screen.
    pub offset: usize,
    /// The selected product.
    pub asin: Option<Asin>,
}

/// The products view's own state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProductsView {
    /// The last page the store answered.
    pub page: ProductsPage,
    /// The watchlist, once read.
    pub watched: Option<Watched>,
    /// Selected product: its position among every matching product.
    pub selected: usize,
    /// The selected product, once its page is loaded: a product stored above it moves it
    /// down a row, and the selection follows it there.
    pub selected_asin: Option<Asin>,
    /// The opportunities filter in force before `Enter` showed a product's routes: `Esc`
    /// (or `q`) there puts it back and returns to this view.
    pub return_filter: Option<String>,
    /// Where `/` opened: the same search typed back (or put back by `Esc`) returns to
    /// that place, not to the first product; emptied, it keeps the product then selected
    /// (found by the search kept before).
    pub search_origin: Option<SearchOrigin>,
    /// First product on screen.
    pub offset: usize,
    /// Search words (`/`).
    pub search: String,
    /// The product to select once the page holding it is read: the one selected in a
    /// search just cleared, at its place in the whole list.
    pub seek: Option<Asin>,
    /// The page on screen may be out of date (new data arrived, or a watch change).
    pub stale: bool,
    /// Times new data arrived: the detail read before the last one is read again.
    pub changes: u64,
    /// The last product detail read (see [`UiState::wanted_product_detail`]).
    pub detail: Option<crate::tui::model::ProductDetail>,
}

impl ProductsView {
    /// The selected product, if its page is loaded.
    pub fn selected_line(&self) -> Option<&ProductLine> {
        self.line(self.selected)
    }

    /// The product at position `i`, if its page is loaded.
    pub fn line(&self, i: usize) -> Option<&ProductLine> {
        let q = self.page.query.as_ref()?;
        i.checked_sub(q.offset).and_then(|i| self.page.lines.get(i))
    }

    fn text(&self) -> Option<String> {
        let t = self.search.trim();
        (!t.is_empty()).then(|| t.to_string())
    }
}

impl UiState {
    /// The page the products view needs and does not have (or has out of date): the one
    /// holding the rows on screen, `None` when it is loaded or the view is not shown.
    pub fn wanted_products(&self) -> Option<ProductsQuery> {
        if self.view_kind != super::View::Products {
            return None;
        }
        let p = &self.products;
        let rows = self.products_rows();
        let text = p.text();
        let limit = PRODUCTS_PAGE.max(rows + PRODUCTS_PAGE / 4);
        if let Some(asin) = p.seek {
            return Some(ProductsQuery {
                text,
                offset: 0,
                limit,
                seek: Some(asin),
            });
        }
        let covers = p.page.query.as_ref().is_some_and(|q| {
            let end = q.offset + p.page.lines.len();
            let wanted_end = (p.offset + rows).min(p.page.total as usize);
            // A failed read covers its window too: it is tried again when the page goes
            // stale (the console's next check), not on every frame.
            q.text == text
                && q.offset <= p.offset
                && (wanted_end <= end || p.page.lines.len() < q.limit)
        });
        if covers && !p.stale {
            return None;
        }
        // The screen's rows with a page's margin above them, so moving up rarely waits.
        let offset = p.offset.saturating_sub(PRODUCTS_PAGE / 4);
        Some(ProductsQuery {
            text,
            offset,
            limit,
            seek: None,
        })
    }

    /// Product rows that fit the view (set from the terminal's height).
    pub fn products_rows(&self) -> usize {
        // Title bar, footer, the view's borders and its header row.
        usize::from(self.size.1.saturating_sub(5)).max(1)
    }

    /// A page of products arrived.
    pub fn on_products(&mut self, page: ProductsPage) {
        let rows = self.products_rows();
        let p = &mut self.products;
        // An answer to an earlier search is no answer to the one typed since.
        if page.query.as_ref().is_some_and(|q| q.text != p.text()) {
            return;
        }
        if page.error.is_none() {
            p.stale = false;
        }
        // The product sought, where the whole list has it, a third of the way down the
        // screen. (A failed read leaves the selection at the top.)
        let sought = page.query.as_ref().and_then(|q| q.seek);
        if sought.is_some() && sought == p.seek {
            p.seek = None;
            if let Some(at) = page.found {
                p.selected = at;
                p.offset = at.saturating_sub(rows / 3);
            }
            p.page = page;
            self.clamp_products();
            self.dirty = true;
            return;
        }
        // The selected product where the new page has it: a product stored above it (or
        // one gone) moves it, and the selection and the screen follow.
        let moved = p.selected_asin.and_then(|a| {
            let q = page.query.as_ref()?;
            let i = page.lines.iter().position(|l| l.asin == a)?;
            Some(q.offset + i)
        });
        p.page = page;
        if let Some(at) = moved.filter(|at| *at != p.selected) {
            p.offset = (p.offset + at).saturating_sub(p.selected);
            p.selected = at;
        }
        self.clamp_products();
        self.dirty = true;
    }

    /// The watchlist arrived; `read_at` is when its read started: one started before the last answer's is older
    /// than what is shown (an add or remove may lie between) and is dropped.
    pub fn on_watchlist(&mut self, entries: &[WatchEntry], read_at: DateTime<Utc>) {
        if self
            .products
            .watched
            .as_ref()
            .is_some_and(|w| w.read_at > read_at)
        {
            return;
        }
        self.products.watched = Some(Watched::of(entries, &self.session.markets, read_at));
        self.recheck_removal();
        self.recheck_offer();
        self.dirty = true;
    }

    /// New data in the store: the products view reads its page again when next drawn.
    pub fn products_changed(&mut self) {
        self.products.stale = true;
        self.products.changes += 1;
    }

    /// Moves the selection of the products view.
    pub(super) fn move_products(&mut self, m: super::Motion) {
        use super::Motion;
        let total = self.products.page.total as i64;
        if total == 0 {
            return;
        }
        let rows = self.products_rows() as i64;
        let cur = self.products.selected as i64;
        let to = match m {
            Motion::By(d) => cur + d,
            Motion::Pages(n) => cur + n * rows,
            Motion::Top => 0,
            Motion::Bottom => total - 1,
        };
        self.products.selected = to.clamp(0, total - 1) as usize;
        self.clamp_products();
    }

    /// Keeps the selection among the matching products and on screen.
    pub(super) fn clamp_products(&mut self) {
        let rows = self.products_rows();
        let p = &mut self.products;
        let total = p.page.total as usize;
        p.selected = p.selected.min(total.saturating_sub(1));
        if p.selected < p.offset {
            p.offset = p.selected;
        } else if p.selected >= p.offset + rows {
            p.offset = p.selected + 1 - rows;
        }
        p.offset = p.offset.min(total.saturating_sub(rows));
        p.selected_asin = p.line(p.selected).map(|l| l.asin);
    }

    /// The products view's search as typed: applies at once, from the first product.
    pub(super) fn search_products(&mut self, text: String) {
        let p = &mut self.products;
        if p.search != text {
            // Cleared: the product selected in the search (the one selected when `/`
            // opened, not the first hit of a word being deleted), where the whole list
            // has it.
            let origin = p.search_origin.as_ref();
            let (selected, offset, seek) = match origin {
                Some(o) if o.search == text => (o.selected, o.offset, None),
                _ if text.trim().is_empty() => {
                    (0, 0, origin.and_then(|o| o.asin).or(p.selected_asin))
                }
                _ => (0, 0, None),
            };
            p.search = text;
            p.selected = selected;
            p.offset = offset;
            p.selected_asin = None;
            p.seek = seek;
        }
        self.dirty = true;
    }

    /// What the products view does itself: its search, and the actions on the selected
    /// product (without ASINs named). Any other action comes back as `Err`, for the
    /// reducer to run as anywhere else.
    pub(super) fn act_on_product(&mut self, action: Action) -> Result<Vec<Effect>, Action> {
        Ok(match action {
            Action::Filter(None) => {
                let p = &mut self.products;
                p.search_origin = Some(SearchOrigin {
                    search: p.search.clone(),
                    selected: p.selected,
                    offset: p.offset,
                    asin: p.selected_asin,
                });
                self.open_prompt(PromptKind::ProductSearch, self.products.search.clone());
                Vec::new()
            }
            Action::Filter(Some(text)) => {
                self.search_products(text);
                Vec::new()
            }
            Action::Open => self.open_product(),
            Action::Copy(target) => self.copy_product(target),
            Action::Refresh => match self.products.selected_line() {
                Some(l) => vec![Effect::Refresh(vec![l.asin])],
                None => {
                    self.toast_error("Nothing selected to refresh");
                    Vec::new()
                }
            },
            // The selected product is offered when it is not watched; one the watchlist
            // holds is said to be there, as on the opportunities table.
            Action::WatchAdd(asins) if asins.is_empty() => {
                let selected = self.products.selected_line().map(|l| l.asin);
                let known = self.products.watched.is_some();
                match (selected, self.selected_unwatched()) {
                    (Some(asin), None) if known => self.toast_watched_already(&[asin]),
                    (_, unwatched) => {
                        let line = super::watching::watch_add_line(unwatched.as_slice());
                        self.open_prompt(PromptKind::Command, line);
                    }
                }
                Vec::new()
            }
            Action::WatchRemove(asins) if asins.is_empty() => {
                if let Some(asin) = self.selected_unwatched() {
                    self.toast_info(format!("{asin} is not on the watchlist (a adds it)"));
                    return Ok(Vec::new());
                }
                match self.products.selected_line() {
                    Some(l) => self.confirm_removal(vec![l.asin], true),
                    None => {
                        self.toast_error("Nothing selected to remove");
                        Vec::new()
                    }
                }
            }
            other => return Err(other),
        })
    }

    /// `open` in the products view: the opportunities of the selected product.
    pub(super) fn open_product(&mut self) -> Vec<Effect> {
        let Some(asin) = self.products.selected_line().map(|l| l.asin) else {
            self.toast_error("Nothing selected to open");
            return Vec::new();
        };
        self.view_kind = super::View::Opportunities;
        self.focus = super::Focus::Table;
        self.detail_open = false;
        self.zoom = false;
        // The table's minimum margin and markets hold here too: said, since a product's
        // routes read as all of them.
        let mut held = Vec::new();
        if self.basis == super::Basis::Net || self.min_margin > 0.0 {
            held.push(format!("≥{:.1} % {}", self.min_margin, self.basis.id()));
        }
        let all = self.session.markets.len();
        if self.buy.len() < all || self.sell.len() < all {
            held.push("buy/sell markets".to_string());
        }
        let text = if held.is_empty() {
            format!("The routes of {asin} (Esc goes back to the products)")
        } else {
            format!(
                "The routes of {asin} within the table's {} (Esc goes back to the products)",
                held.join(" and ")
            )
        };
        self.toast_info(text);
        let before = self.filter_text.clone();
        let effects = self.set_filter(format!("asin={asin}"));
        self.products.return_filter = Some(before);
        effects
    }

    /// `back` from a product's routes: the filter before them, and the products view.
    pub(super) fn return_to_products(&mut self) -> Option<Vec<Effect>> {
        let before = self.products.return_filter.take()?;
        self.view_kind = super::View::Products;
        Some(self.set_filter(before))
    }

    /// Whether the selected product is on the watchlist, once the watchlist is read.
    pub fn selected_product_watched(&self) -> Option<bool> {
        let asin = self.products.selected_line()?.asin;
        let watched = self.products.watched.as_ref()?;
        Some(watched.source.contains_key(&asin))
    }

    /// The selected product, if the watchlist is read and does not hold it.
    pub(super) fn selected_unwatched(&self) -> Option<Asin> {
        let asin = self.products.selected_line()?.asin;
        let watched = self.products.watched.as_ref()?;
        (!watched.source.contains_key(&asin)).then_some(asin)
    }

    /// `copy` in the products view: the selected product's page or ASIN.
    pub(super) fn copy_product(&mut self, target: super::CopyTarget) -> Vec<Effect> {
        use super::CopyTarget;
        let Some(line) = self.products.selected_line() else {
            self.toast_error("Nothing selected to copy");
            return Vec::new();
        };
        let (text, what) = match target {
            CopyTarget::Asin => (Some(line.asin.to_string()), "ASIN"),
            CopyTarget::Link => (line.link(&self.session.markets), "product link"),
            CopyTarget::BuyLink | CopyTarget::Row | CopyTarget::Breakdown => {
                self.toast_error(
                    "A product has no route here: copy link or copy asin (Enter shows its routes)",
                );
                return Vec::new();
            }
        };
        match text {
            Some(text) => vec![Effect::Copy { text, what }],
            None => Vec::new(),
        }
    }
}
