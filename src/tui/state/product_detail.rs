//! The products view's detail: beside the table on a wide terminal, the selected product
//! whole (its prices in every market, its routes, its price history), read from the store
//! when the selection moves to it and again when new data arrives.

use super::UiState;
use crate::domain::Asin;
use crate::tui::action::View;
use crate::tui::model::ProductDetail;

impl UiState {
    /// Whether the products view shows its detail (a terminal wide enough for both).
    pub fn product_detail_visible(&self) -> bool {
        self.view_kind == View::Products
            && super::super::ui::product_detail_width(self.size.0).is_some()
    }

    /// The product whose detail should be read, with the data changes it answers to:
    /// `None` when it is on screen and no newer data came, or the detail is not shown.
    pub fn wanted_product_detail(&self) -> Option<(Asin, u64)> {
        if !self.product_detail_visible() {
            return None;
        }
        let p = &self.products;
        let asin = p.selected_line()?.asin;
        match &p.detail {
            Some(d) if d.asin == asin && d.changes == p.changes => None,
            _ => Some((asin, p.changes)),
        }
    }

    /// A product's detail arrived (one for a product no longer selected is kept until
    /// the selected one's comes: the pane then says what it waits for).
    pub fn on_product_detail(&mut self, detail: ProductDetail) {
        self.products.detail = Some(detail);
        self.dirty = true;
    }

    /// The detail to draw for the selected product: `None` while it is read.
    pub fn product_detail(&self) -> Option<&ProductDetail> {
        let asin = self.products.selected_line()?.asin;
        self.products.detail.as_ref().filter(|d| d.asin == asin)
    }
}

#[cfg(test)]
mod tests {
    use crate::tui::fixtures;
    use crate::tui::model::ProductDetail;

    fn answer(asin: crate::domain::Asin, changes: u64) -> ProductDetail {
        ProductDetail {
            asin,
            changes,
            product: None,
            history: Vec::new(),
            routes: Some(Vec::new()),
            error: None,
        }
    }

    /// The selected product is read once, again when it changes, again when new data
    /// comes, and never on a terminal too narrow to show it.
    #[test]
    fn the_detail_follows_the_selection_and_new_data() {
        let mut s = fixtures::products(100, (200, 50));
        let (first, changes) = s.wanted_product_detail().expect("asked at once");
        assert_eq!(first, fixtures::asin(0));
        s.on_product_detail(answer(first, changes));
        assert_eq!(s.wanted_product_detail(), None);
        assert!(s.product_detail().is_some());

        s.move_products(crate::tui::action::Motion::By(1));
        let (second, _) = s.wanted_product_detail().expect("the next product");
        assert_eq!(second, fixtures::asin(1));
        // The first one's answer is not the second one's detail.
        assert!(s.product_detail().is_none());

        s.on_product_detail(answer(second, changes));
        assert_eq!(s.wanted_product_detail(), None);
        s.products_changed();
        assert_eq!(
            s.wanted_product_detail(),
            Some((second, changes + 1)),
            "new data reads it again"
        );

        let narrow = fixtures::products(100, (120, 40));
        assert_eq!(narrow.wanted_product_detail(), None);
    }
}
