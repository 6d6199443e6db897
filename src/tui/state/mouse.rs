//! The mouse, with `mouse = true` in `[console]`: a click on a row of the opportunities
//! table (or the products view) selects it, a click on a column's header sorts by it
//! (again: the other way), and
//! the wheel moves whatever the arrow keys would move, three rows a notch. Clicks on an
//! open overlay or prompt do nothing: what is behind it is not what the operator sees.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::{Effect, Focus, UiState};
use crate::tui::action::{Action, Motion, SortBy, View};
use ratatui::layout::Rect;

use crate::tui::ui::{MIN_SIZE, TableHit, layout, products_areas, table_hit};

/// Rows a notch of the wheel moves.
const WHEEL_ROWS: i64 = 3;

impl UiState {
    /// Handles a mouse event (only delivered when the mouse is on).
    pub fn on_mouse(&mut self, ev: &MouseEvent) -> Vec<Effect> {
        let too_small = self.size.0 < MIN_SIZE.0 || self.size.1 < MIN_SIZE.1;
        if self.overlay.is_some() || too_small {
            return Vec::new();
        }
        match ev.kind {
            MouseEventKind::ScrollDown => self.apply(Action::Move(Motion::By(WHEEL_ROWS))),
            MouseEventKind::ScrollUp => self.apply(Action::Move(Motion::By(-WHEEL_ROWS))),
            MouseEventKind::Down(MouseButton::Left) => self.click(ev.column, ev.row),
            _ => Vec::new(),
        }
    }

    /// A left click at (`x`, `y`).
    fn click(&mut self, x: u16, y: u16) -> Vec<Effect> {
        if self.view_kind == View::Products {
            return self.click_product(x, y);
        }
        if self.view_kind != View::Opportunities {
            return Vec::new();
        }
        let Some(area) = layout(self).table else {
            return Vec::new();
        };
        match table_hit(self, area, x, y) {
            Some(TableHit::Header(c)) => {
                self.focus = Focus::Table;
                self.apply(Action::Sort(SortBy::Column(c, None)))
            }
            Some(TableHit::Row(i)) => {
                // Through `apply` even onto the selected row: the focus moving to the table
                // changes the layout (a detail in focus takes the table's rows).
                self.focus = Focus::Table;
                self.apply(Action::Move(Motion::By(i as i64 - self.selected as i64)))
            }
            None => Vec::new(),
        }
    }

    /// A left click in the products view: on a product's line, selects it.
    fn click_product(&mut self, x: u16, y: u16) -> Vec<Effect> {
        let (table, _) = products_areas(Rect::new(0, 0, self.size.0, self.size.1));
        // Inside the border, below the header line.
        let first_row = table.y + 2;
        let inside = x > table.x && x + 1 < table.right() && y + 1 < table.bottom();
        if !inside || y < first_row {
            return Vec::new();
        }
        let at = self.products.offset + usize::from(y - first_row);
        if at >= self.products.page.total as usize {
            return Vec::new();
        }
        let by = at as i64 - self.products.selected as i64;
        self.apply(Action::Move(Motion::By(by)))
    }
}
