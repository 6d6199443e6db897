//! Key sequences replayed through the keymap and the reducer, as an operator types them.

use arbdesk::domain::Market;
use arbdesk::store::OpportunitySort;
use arbdesk::tui::action::Basis;
use arbdesk::tui::action::{Action, Column, CopyTarget, SortBy, View};
use arbdesk::tui::fixtures;
use arbdesk::tui::keymap::Keymap;
use arbdesk::tui::model::{Feed, Query, Row};
use arbdesk::tui::state::{Effect, Focus, Overlay, PromptKind, UiState};
use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn keys(s: &mut UiState, typed: &str) -> Vec<Effect> {
    let keymap = Keymap::load("default", None);
    let mut fx = Vec::new();
    for c in typed.chars() {
        fx.extend(s.on_key(&KeyEvent::from(KeyCode::Char(c)), &keymap));
    }
    fx
}

fn key(s: &mut UiState, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    let keymap = Keymap::load("default", None);
    s.on_key(&KeyEvent::new(code, mods), &keymap)
}

fn selected_asin(s: &UiState) -> String {
    s.selected_row().unwrap().key.asin.to_string()
}

#[test]
fn sort_keys_toggle_direction_and_mark_the_header() {
    let mut s = fixtures::loaded(200, (200, 60));
    keys(&mut s, "R");
    assert_eq!((s.sort, s.descending), (Column::Roi, true));
    let rois: Vec<f64> = s
        .view()
        .iter()
        .map(|&i| s.feed.rows[i as usize].fig.roi)
        .collect();
    assert!(rois.windows(2).all(|w| w[0] >= w[1]));
    keys(&mut s, "R");
    assert_eq!((s.sort, s.descending), (Column::Roi, false));
    keys(&mut s, "N");
    assert_eq!((s.sort, s.descending), (Column::Asin, false));
    keys(&mut s, "s");
    assert_eq!(s.sort, Column::Title);
    keys(&mut s, "S");
    assert!(s.descending);
}

#[test]
fn selection_stays_on_the_same_row_across_refreshes() {
    let mut s = fixtures::loaded(200, (200, 60));
    keys(&mut s, "jjjjj");
    let before = selected_asin(&s);
    let key = s.selected_row().unwrap().key;
    // A refresh where the rows come back in another order and one row is gone.
    let mut feed: Feed = (*s.feed).clone();
    feed.rows.reverse();
    feed.rows.remove(0);
    s.on_feed(feed);
    assert_eq!(s.selected_row().unwrap().key, key);
    assert_eq!(selected_asin(&s), before);
}

#[test]
fn changed_cells_get_arrows_by_their_effect_on_profit() {
    let mut s = fixtures::loaded(50, (200, 60));
    let mut feed: Feed = (*s.feed).clone();
    let r = &mut feed.rows[0];
    let key = r.key;
    r.buy_price.minor += 100; // costs more: bad
    r.sell_price.minor += 300; // sells for more: good
    s.on_feed(feed);
    let d = s.deltas.get(&key).expect("a delta for the changed row");
    let buy = d
        .cells
        .iter()
        .find(|(c, _)| *c == Column::BuyPrice)
        .unwrap()
        .1;
    let sell = d
        .cells
        .iter()
        .find(|(c, _)| *c == Column::SellPrice)
        .unwrap()
        .1;
    assert!(buy.up && !buy.good);
    assert!(sell.up && sell.good);
}

/// A row is marked new, and alerted, when the store first recorded it since the previous
/// answer; a row the store has long known that only moved into the loaded window is not
/// (a re-sort by age pulls such rows in on every refresh).
#[test]
fn rows_are_new_when_first_recorded_not_when_they_enter_the_window() {
    let mut s = fixtures::loaded(20, (200, 60));
    let query = Query {
        min_margin: 0.0,
        basis: Basis::Gross,
        buy: vec![],
        sell: vec![],
        limit: 20,
        sort: OpportunitySort::UpdatedAt,
        descending: true,
        text: None,
        bounds: Default::default(),
    };
    let mut feed: Feed = (*s.feed).clone();
    feed.query = Some(query.clone());
    s.on_feed(feed.clone());
    assert!(s.deltas.values().all(|d| !d.new));
    let before = s.feed.at.unwrap();
    let row_net = |asin: &str, first_seen, net| {
        let mut o = fixtures::opportunity(
            asin.parse().unwrap(),
            "Arrival",
            Market::IT,
            Market::DE,
            45.0,
            net,
            before + Duration::minutes(1),
        );
        o.first_seen = first_seen;
        Row::from_opportunity(&o)
    };
    let row = |asin: &str, first_seen| row_net(asin, first_seen, 900);
    let fresh = row("B0NEWROW01", Some(before + Duration::seconds(20)));
    // New too, but losing money (not ranked): marked new, not toasted.
    let losing = row_net("B0NEWROW02", Some(before + Duration::seconds(20)), -150);
    let moved = row("B0OLDROW01", Some(before - Duration::hours(1)));
    let unknown = row("B0OLDROW02", None);
    feed.rows.truncate(16);
    feed.rows.extend([
        fresh.clone(),
        losing.clone(),
        moved.clone(),
        unknown.clone(),
    ]);
    feed.at = Some(before + Duration::minutes(1));
    s.on_feed(feed);
    let new: Vec<_> = s
        .deltas
        .iter()
        .filter(|(_, d)| d.new)
        .map(|(k, _)| k.asin.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(new, ["B0NEWROW01", "B0NEWROW02"]);
    let alerts: Vec<_> = s.toasts.iter().map(|t| t.text.as_str()).collect();
    assert!(
        alerts
            .iter()
            .any(|t| t.starts_with("New: B0NEWROW01 IT→DE")),
        "{alerts:?}"
    );
    assert!(
        !alerts.iter().any(|t| t.contains("new opportunities")),
        "{alerts:?}"
    );
    // The next answer, a moment later, brings another new ranked route while the first
    // toast shows: one toast counts both rather than hiding the first.
    let mut next: Feed = (*s.feed).clone();
    let mut also = row_net("B0NEWROW03", Some(before + Duration::seconds(70)), 1200);
    also.fig.gross_pct = 52.5;
    next.rows.push(also);
    next.at = Some(before + Duration::seconds(61));
    s.on_feed(next);
    let alerts: Vec<_> = s
        .toasts
        .iter()
        .filter(|t| t.alert)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(
        alerts,
        ["2 new ranked opportunities ≥ 30 % gross (best 52.50 %)"]
    );
}

#[test]
fn chords_go_to_views_and_q_goes_back_before_quitting() {
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "gh");
    assert_eq!(s.view_kind, View::Health);
    keys(&mut s, "q");
    assert_eq!(s.view_kind, View::Opportunities);
    assert!(!s.quit);
    let fx = keys(&mut s, "gl");
    assert_eq!(s.view_kind, View::Logs);
    assert!(fx.contains(&Effect::LoadLogs));
    // Ctrl-C leaves from anywhere.
    key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(s.quit);
    // So does `:q`, the command in words: the key backs out of a view, the command quits.
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "gh:q");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.quit);
}

/// Esc after the start of a key sequence (`g`) cancels the sequence only: the filter (what
/// Esc clears on its own) stays.
#[test]
fn esc_cancels_a_pending_sequence_and_nothing_else() {
    let mut s = fixtures::loaded(20, (120, 40));
    s.apply(Action::Filter(Some("roi>5".into())));
    assert_eq!(s.filter_text, "roi>5");
    keys(&mut s, "g");
    assert!(!s.pending_keys.is_empty());
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.pending_keys.is_empty());
    assert_eq!(s.filter_text, "roi>5", "the filter stays");
    // Esc alone still clears it.
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.filter_text, "");
}

#[test]
fn q_leaves_the_detail_before_quitting_at_every_width() {
    for size in [(80, 24), (200, 50)] {
        let mut s = fixtures::loaded(20, size);
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        assert!(s.detail_open || s.focus == Focus::Detail, "{size:?}");
        keys(&mut s, "q");
        assert!(!s.quit, "{size:?}: q closes the detail first");
        assert!(!s.detail_open && s.focus == Focus::Table, "{size:?}");
        keys(&mut s, "q");
        assert!(s.quit, "{size:?}");
    }
}

#[test]
fn the_filter_applies_as_typed_and_esc_clears_it() {
    let mut s = fixtures::loaded(300, (200, 60));
    let all = s.view().len();
    keys(&mut s, "/src=uk");
    assert!(matches!(s.overlay, Some(Overlay::Prompt(_))));
    assert!(s.view().len() < all);
    assert!(
        s.view()
            .iter()
            .all(|&i| s.feed.rows[i as usize].key.buy == Market::UK)
    );
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.filter_text, "src=uk");
    assert!(s.overlay.is_none());
    // The filter survives a refresh.
    let feed: Feed = (*s.feed).clone();
    s.on_feed(feed);
    let filtered = s.view().len();
    assert!(filtered < all);
    // Reopening the prompt and leaving it with Esc keeps the filter in force, whatever
    // was typed meanwhile; Esc with the prompt closed clears it.
    keys(&mut s, "/");
    // `src=uk,` is on its way to `src=uk,de`: the filter in force stays meanwhile.
    keys(&mut s, ",");
    assert_eq!(s.filter_text, "src=uk");
    assert_eq!(s.view().len(), filtered);
    keys(&mut s, "de");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.overlay.is_none());
    assert_eq!(s.filter_text, "src=uk");
    assert_eq!(s.view().len(), filtered);
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.filter_text, "");
    assert_eq!(s.view().len(), all);
}

fn prompt_error(s: &UiState) -> Option<String> {
    match &s.overlay {
        Some(Overlay::Prompt(p)) => p.error.clone(),
        other => panic!("the prompt is not open: {other:?}"),
    }
}

/// A bad term is named while it is typed; a term still being written just waits.
#[test]
fn bad_filter_terms_are_named_as_they_are_typed() {
    let mut s = fixtures::loaded(300, (200, 60));
    // Half a term waits: after an operator, and within a market code or route.
    for half in ["roi>", "src=u", "dst!=uk,d", "route=it", "route=it>d"] {
        keys(&mut s, "/");
        keys(&mut s, half);
        assert_eq!(prompt_error(&s), None, "{half} waits");
        key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    }
    keys(&mut s, "/src=x");
    let e = prompt_error(&s).expect("no market begins with x");
    assert!(e.contains("src=x"), "{e}");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    // A route without its `>` past two letters is named at once.
    keys(&mut s, "/route=ukde");
    let e = prompt_error(&s).expect("route=ukde is named");
    assert!(e.contains("a route is written it>de"), "{e}");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "/roi>");
    keys(&mut s, "abc");
    let e = prompt_error(&s).expect("roi>abc is named");
    assert!(e.contains("'abc' is not a number"), "{e}");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "/foo=bar");
    let e = prompt_error(&s).expect("foo=bar is named");
    assert!(
        e.contains("unknown field 'foo'") && e.contains("roi"),
        "{e}"
    );
    // Fixing the term clears the error and applies the filter.
    for _ in 0.."foo=bar".len() {
        key(&mut s, KeyCode::Backspace, KeyModifiers::NONE);
    }
    keys(&mut s, "roi>=0");
    assert_eq!(prompt_error(&s), None);
    assert_eq!(s.filter_text, "roi>=0");
    keys(&mut s, " \"kopf");
    assert_eq!(prompt_error(&s), None, "an open quote waits");
    // Ctrl-U clears the line, and with it the filter.
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert!(matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.input.is_empty()));
    assert_eq!(s.filter_text, "");
}

/// A word on its way to a field name does not search titles (which would empty the table
/// for a keystroke); the rest of the line applies, and a space or Enter applies the word.
#[test]
fn a_field_name_being_typed_keeps_the_rows() {
    let mut s = fixtures::loaded(300, (200, 60));
    let all = s.view().len();
    keys(&mut s, "/ro");
    assert_eq!(s.view().len(), all, "'ro' may become roi or route");
    assert_eq!(prompt_error(&s), None);
    keys(&mut s, "i>=0");
    assert_eq!(s.filter_text, "roi>=0");
    keys(&mut s, " ne");
    assert_eq!(s.filter_text, "roi>=0", "'ne' may become net");
    keys(&mut s, " ");
    assert_eq!(s.filter_text, "roi>=0 ne", "a finished word applies");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "/net");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.filter_text, "net", "Enter applies it as a word");
}

#[test]
fn a_pasted_filter_applies_like_a_typed_one() {
    let mut s = fixtures::loaded(300, (200, 60));
    keys(&mut s, "/");
    s.on_paste("src=uk");
    assert_eq!(s.filter_text, "src=uk");
    s.on_paste(" foo=bar");
    assert!(prompt_error(&s).is_some_and(|e| e.contains("unknown field 'foo'")));
    assert_eq!(
        s.filter_text, "src=uk",
        "the terms before the bad one apply"
    );
}

/// Typed a key at a time, a word that parses on its way to a bad term (`foo` of
/// `foo=bar`) does not stay applied under the error: the terms before it do.
#[test]
fn a_bad_last_term_leaves_the_terms_before_it_applied() {
    let mut s = fixtures::loaded(300, (200, 60));
    keys(&mut s, "/roi>20 src=uk foo");
    assert_eq!(s.filter_text, "roi>20 src=uk foo");
    keys(&mut s, "=bar");
    assert!(prompt_error(&s).is_some_and(|e| e.contains("unknown field 'foo'")));
    assert_eq!(s.filter_text, "roi>20 src=uk");
    // An error earlier in the line keeps what was applied.
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "/roi>abc kettle");
    assert!(prompt_error(&s).is_some());
}

#[test]
fn ctrl_u_clears_the_help_filter() {
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "?sor");
    assert!(matches!(&s.overlay, Some(Overlay::Help { filter, .. }) if filter == "sor"));
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert!(matches!(&s.overlay, Some(Overlay::Help { filter, .. }) if filter.is_empty()));
}

/// `?` and `Esc` close the help it opened, filter or not. Typing filters the list, from the
/// first letter: `quit`, the obvious thing to look for, is a filter, not `q` closing the
/// help and `uit` acting on the table behind it.
#[test]
fn question_mark_and_esc_close_the_help_and_q_is_a_letter() {
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "?");
    assert!(matches!(s.overlay, Some(Overlay::Help { .. })));
    keys(&mut s, "quit");
    assert!(
        matches!(&s.overlay, Some(Overlay::Help { filter, .. }) if filter == "quit") && !s.quit,
        "{:?}",
        s.overlay
    );
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.overlay.is_none() && !s.quit, "Esc closed the help only");
    keys(&mut s, "?so?");
    assert!(s.overlay.is_none(), "? closes with a filter typed");
    keys(&mut s, "?sq");
    assert!(matches!(&s.overlay, Some(Overlay::Help { filter, .. }) if filter == "sq"));
}

/// Below the smallest size the console shows only that it is too small: keys do nothing
/// (a confirmation is not answered blind), except Ctrl-C, which quits.
#[test]
fn keys_wait_while_the_terminal_is_too_small() {
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "d");
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    s.on_resize(50, 12);
    let fx = keys(&mut s, "y/xyz");
    assert!(fx.is_empty(), "{fx:?}");
    assert!(
        matches!(s.overlay, Some(Overlay::Confirm(_))),
        "still asked"
    );
    assert!(s.filter_text.is_empty());
    key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(s.quit);
    // Back to a usable size, keys act again.
    let mut s = fixtures::loaded(20, (120, 40));
    s.on_resize(50, 12);
    keys(&mut s, "q");
    assert!(!s.quit);
    s.on_resize(120, 40);
    keys(&mut s, "q");
    assert!(s.quit);
}

/// With faults only, the dashboard's health panel takes the lines its faults need, and
/// the table and the detail under it the rest.
#[test]
fn faults_only_gives_the_health_panels_spare_lines_to_the_table() {
    let mut s = fixtures::loaded(200, (120, 40));
    // With frames timed the panel has the console's row, which reads the layout: the
    // panel's height must not depend on it (that recursed until the stack overflowed).
    s.frames.record(std::time::Duration::from_millis(1));
    let before = arbdesk::tui::ui::layout(&s);
    let main = |a: &arbdesk::tui::ui::Areas| a.table.unwrap().height + a.detail.unwrap().height;
    let health = before.health.unwrap().height;
    assert_eq!(health, 9);
    s.apply(Action::FaultsOnly);
    let after = arbdesk::tui::ui::layout(&s);
    let shrunk = after.health.unwrap().height;
    assert!((3..9).contains(&shrunk), "{shrunk}");
    assert_eq!(main(&after), main(&before) + (health - shrunk));
    assert!(after.table.unwrap().height > before.table.unwrap().height);
    s.apply(Action::FaultsOnly);
    assert_eq!(arbdesk::tui::ui::layout(&s), before);
}

/// `q` in the zoomed table leaves the zoom, as it closes the drawer: it quits only from
/// the table itself.
#[test]
fn q_leaves_the_zoom_before_it_quits() {
    let mut s = fixtures::loaded(20, (160, 45));
    keys(&mut s, "z");
    assert!(s.zoom);
    keys(&mut s, "q");
    assert!(!s.zoom && !s.quit);
    keys(&mut s, "q");
    assert!(s.quit);
}

/// The table's own commands (sort, mark, zoom, open) typed in another view are refused
/// with where to go, rather than changing the hidden table unseen.
#[test]
fn table_commands_in_another_view_are_refused() {
    let mut s = fixtures::loaded(20, (160, 45));
    let sort = (s.sort, s.descending);
    for view in ["products", "health", "logs"] {
        keys(&mut s, &format!(":goto {view}"));
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        for line in ["sort roi", "mark", "zoom"] {
            keys(&mut s, &format!(":{line}"));
            key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
            let toast = s.toasts.back().map(|t| t.text.clone()).unwrap_or_default();
            let word = line.split(' ').next().unwrap();
            assert_eq!(
                toast,
                format!("{word} works on the opportunities table: g o goes there"),
                "{view}: {line}"
            );
        }
    }
    assert_eq!((s.sort, s.descending), sort);
    assert!(s.marked.is_empty() && !s.zoom);
    // In the table they act.
    keys(&mut s, "go");
    keys(&mut s, ":sort roi");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.sort, Column::Roi);
}

/// Enter on a command that takes arguments opens it on the `:` line to be completed;
/// run bare, `:markets` would have cleared the market filters unasked.
#[test]
fn enter_in_help_on_a_command_with_arguments_opens_the_command_line() {
    let mut s = fixtures::loaded(50, (120, 40));
    s.apply(Action::Markets(
        arbdesk::tui::action::Side::Both,
        vec![Market::DE, Market::IT],
    ));
    keys(&mut s, "?:markets");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(fx.is_empty(), "{fx:?}");
    match &s.overlay {
        Some(Overlay::Prompt(p)) => {
            assert_eq!(p.kind, PromptKind::Command);
            assert_eq!(p.input, "markets ");
        }
        other => panic!("expected the command line, got {other:?}"),
    }
    assert_eq!(s.buy, vec![Market::DE, Market::IT], "the filters stay");
    // A command without arguments runs.
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "?:freeze");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.overlay.is_none() && s.frozen.is_some());
}

/// Tab moves between the dashboard's panels; a view of one panel keeps the operator where
/// they are.
#[test]
fn tab_stays_in_a_view_of_one_panel() {
    let mut s = fixtures::loaded(50, (120, 40));
    for view in [View::Products, View::Health, View::Logs] {
        s.apply(Action::Goto(view));
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
        key(&mut s, KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(s.view_kind, view);
    }
    // Help offers there what works there.
    let keymap = Keymap::load("default", None);
    let help = arbdesk::tui::ui::help_entries(&s, &keymap, "");
    assert!(help.iter().all(|e| !e.run.starts_with("focus")), "{help:?}");
    s.apply(Action::Goto(View::Opportunities));
    let before = s.focus;
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_ne!(
        s.focus, before,
        "the dashboard's panels take the focus in turn"
    );
    let help = arbdesk::tui::ui::help_entries(&s, &keymap, "");
    assert!(help.iter().any(|e| e.run.starts_with("focus")));
}

/// Help at the smallest size shows every entry it pages to, the tallest one cut to fit.
#[test]
fn help_at_60x15_draws_every_entry() {
    let mut s = fixtures::loaded(20, (60, 15));
    keys(&mut s, "?");
    let keymap = Keymap::load("default", None);
    let n = arbdesk::tui::ui::help_entries(&s, &keymap, "").len();
    for at in [0, n / 2, n - 1] {
        s.overlay = Some(Overlay::Help {
            filter: String::new(),
            selected: at,
        });
        let screen = super::snapshots::draw(&s, "mono");
        // The line under the header holds an entry, not blanks.
        let row: String = (4..56).map(|x| screen[(x, 3)].symbol()).collect();
        assert!(!row.trim().is_empty(), "entry {at} of {n}: blank");
    }
}

#[test]
fn help_pages_by_what_the_screen_shows() {
    let mut s = fixtures::loaded(20, (120, 40));
    keys(&mut s, "?");
    let at = |s: &UiState| match &s.overlay {
        Some(Overlay::Help { selected, .. }) => *selected,
        other => panic!("no help: {other:?}"),
    };
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    assert_eq!(at(&s), 34, "40 lines less margins, borders and header");
    key(&mut s, KeyCode::End, KeyModifiers::NONE);
    let last = at(&s);
    assert!(last > 34);
    key(&mut s, KeyCode::PageUp, KeyModifiers::NONE);
    assert_eq!(at(&s), last - 34);
    key(&mut s, KeyCode::Home, KeyModifiers::NONE);
    assert_eq!(at(&s), 0);
}

#[test]
fn margin_keys_and_sidebar_toggles_requery_the_store() {
    let mut s = fixtures::loaded(50, (200, 60));
    let fx = keys(&mut s, "+");
    let q = match fx.as_slice() {
        [Effect::Query(q)] => q.clone(),
        other => panic!("expected a query, got {other:?}"),
    };
    assert_eq!(q.min_margin, 1.0);
    // Sidebar: focus it, walk to the UK buy toggle, switch it off.
    key(&mut s, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(s.focus, Focus::Sidebar);
    keys(&mut s, "jj");
    let fx = keys(&mut s, " ");
    match fx.as_slice() {
        [Effect::Query(q)] => assert!(!q.buy.contains(&Market::UK) && !q.buy.is_empty()),
        other => panic!("expected a query, got {other:?}"),
    }
    // Typed: `:min 12` and `:markets de,it`.
    keys(&mut s, ":min 12");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Query(q) if q.min_margin == 12.0))
    );
    s.apply(Action::Markets(
        arbdesk::tui::action::Side::Both,
        vec![Market::DE, Market::IT],
    ));
    assert_eq!(s.buy, vec![Market::DE, Market::IT]);
    assert_eq!(s.sell, vec![Market::DE, Market::IT]);
}

/// `Space` on the sidebar's minimum opens the prompt with the value shown; confirming it
/// unchanged keeps it, a negative one too (a signed number alone would be a step).
#[test]
fn the_sidebar_minimum_prompt_keeps_a_negative_value() {
    let mut s = fixtures::loaded(50, (200, 60));
    for (set, want) in [("=-5", -5.0), ("12", 12.0), ("=-7.5", -7.5)] {
        keys(&mut s, &format!(":min {set}"));
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(s.min_margin, want);
        // The minimum is the sidebar's first line.
        key(&mut s, KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(s.focus, Focus::Sidebar);
        keys(&mut s, "gg ");
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(s.min_margin, want, "confirming {set} unchanged");
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    }
}

#[test]
fn copy_export_refresh_and_watch_become_effects() {
    let mut s = fixtures::loaded(50, (200, 60));
    let row = s.selected_row().unwrap().clone();
    let fx = keys(&mut s, "y");
    assert_eq!(
        fx,
        vec![Effect::Copy {
            text: row.key.sell.product_url(&row.key.asin),
            what: "sell link"
        }]
    );
    // Where to buy it: `B` (and `:copy buy-link`).
    let buy = Effect::Copy {
        text: row.key.buy.product_url(&row.key.asin),
        what: "buy link",
    };
    assert_ne!(row.key.buy, row.key.sell);
    assert_eq!(keys(&mut s, "B"), vec![buy.clone()]);
    assert_eq!(s.apply(Action::Copy(CopyTarget::BuyLink)), vec![buy]);
    let fx = keys(&mut s, "Y");
    assert!(matches!(&fx[..], [Effect::Copy { text, .. }] if *text == row.key.asin.to_string()));
    // `copy row`: one tab-separated line of raw numbers, as a spreadsheet reads them.
    let line = row.tsv();
    let cells: Vec<&str> = line.split('\t').collect();
    assert_eq!(cells.len(), 15, "{line}");
    assert_eq!(cells[4], row.buy_price.decimal_string(), "{line}");
    assert_eq!(cells[5], row.buy_price.currency.to_string(), "{line}");
    assert!(
        cells[8..14].iter().all(|c| c.parse::<f64>().is_ok()),
        "{line}"
    );
    assert!(!line.contains(['€', '£', '≈']), "{line}");
    assert!(cells[14].ends_with('Z') && cells[14].len() == 20, "{line}");
    // A title a spreadsheet would run as a formula is pasted as text, as exports write it.
    let line = fixtures::row(
        "B0D1XD1ZV3",
        "=HYPERLINK(\"http://evil.example\",\"Kettle\")",
        Market::IT,
        Market::DE,
        20.0,
        500,
    )
    .tsv();
    assert!(
        line.split('\t').nth(1).unwrap().starts_with("'=HYPERLINK"),
        "{line}"
    );
    assert_eq!(
        keys(&mut s, "e"),
        vec![Effect::Export(arbdesk::tui::action::Format::Csv)]
    );
    assert_eq!(keys(&mut s, "r"), vec![Effect::Refresh(vec![row.key.asin])]);
    // `d` asks first (and reads the watchlist, to take back what it does not hold); `y`
    // confirms. The footer says so while it asks.
    assert_eq!(keys(&mut s, "d"), vec![Effect::LoadWatchlist]);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    let screen = super::snapshots::draw(&s, "mono");
    let footer: String = (0..200).map(|x| screen[(x, 59)].symbol()).collect();
    assert!(footer.starts_with("y yes  any other key no"), "{footer}");
    assert_eq!(
        keys(&mut s, "y"),
        vec![Effect::WatchRemove(vec![row.key.asin])]
    );
    // `a` opens the command line with the row's product.
    keys(&mut s, "a");
    match &s.overlay {
        Some(Overlay::Prompt(p)) => assert_eq!(p.input, format!("watch add {}", row.key.asin)),
        other => panic!("{other:?}"),
    }
    keys(&mut s, " B0D1XD1ZV3");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(fx.contains(&Effect::WatchAdd(vec![
        row.key.asin,
        "B0D1XD1ZV3".parse().unwrap()
    ])));
}

/// With rows marked, copy takes every marked row, one a line, in the table's order,
/// whichever row is selected; with none marked, the selected row.
#[test]
fn copy_takes_the_marked_rows() {
    let mut s = fixtures::loaded(50, (200, 60));
    let first = s.selected_row().unwrap().clone();
    keys(&mut s, " "); // marks row 1 and moves down
    keys(&mut s, "j");
    let third = s.selected_row().unwrap().clone();
    keys(&mut s, " ");
    let selected = s.selected_row().unwrap().key;
    assert!(selected != first.key && selected != third.key);
    let fx = keys(&mut s, "Y");
    assert_eq!(
        fx,
        vec![Effect::Copy {
            text: format!("{}\n{}", first.key.asin, third.key.asin),
            what: "ASINs of the marked rows"
        }]
    );
    // Rows are a table: a header line, named as export's columns, then each row.
    keys(&mut s, ":copy row");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let header = arbdesk::tui::model::Row::TSV_HEADER;
    assert!(
        fx.contains(&Effect::Copy {
            text: format!("{header}\n{}\n{}", first.tsv(), third.tsv()),
            what: "marked rows, with a header line"
        }),
        "{fx:?}"
    );
    assert_eq!(
        header.split('\t').count(),
        first.tsv().split('\t').count(),
        "one name a column"
    );
    // Every route of every product marked: each ASIN once, in the table's order.
    let all: Vec<arbdesk::domain::OpportunityKey> = {
        s.marked.clear();
        let shown: Vec<_> = s
            .view()
            .iter()
            .map(|&i| s.feed.rows[i as usize].key)
            .collect();
        s.marked.extend(shown);
        s.marked_rows().map(|r| r.key).collect()
    };
    let mut asins: Vec<String> = Vec::new();
    for k in &all {
        if !asins.contains(&k.asin.to_string()) {
            asins.push(k.asin.to_string());
        }
    }
    assert!(
        asins.len() < all.len(),
        "the fixture has products with several routes"
    );
    assert_eq!(
        keys(&mut s, "Y"),
        vec![Effect::Copy {
            text: asins.join("\n"),
            what: "ASINs of the marked rows"
        }]
    );
    // Unmarked again: the selected row only.
    s.marked.clear();
    let fx = keys(&mut s, "Y");
    assert_eq!(
        fx,
        vec![Effect::Copy {
            text: selected.asin.to_string(),
            what: "ASIN"
        }]
    );
}

/// While an export's toast shows, `y` copies the file's path (tui-conventions §1.10); once
/// it is gone, the sell link again.
#[test]
fn y_copies_the_path_of_an_export_while_its_toast_shows() {
    let mut s = fixtures::loaded(50, (200, 60));
    let link = s.selected_row().unwrap().sell_url();
    s.toast_exported(
        "Exported 50 rows to /data/exports/a.csv".into(),
        "/data/exports/a.csv".into(),
    );
    assert!(s.toasts.back().unwrap().text.ends_with("y copies the path"));
    assert_eq!(
        keys(&mut s, "y"),
        vec![Effect::Copy {
            text: "/data/exports/a.csv".into(),
            what: "export path"
        }]
    );
    s.on_tick(s.now + chrono::Duration::minutes(5));
    assert_eq!(
        keys(&mut s, "y"),
        vec![Effect::Copy {
            text: link,
            what: "sell link"
        }]
    );
}

/// Marks the first and third rows (the cursor ends on the fourth); their products, each
/// once, in table order.
fn mark_first_and_third(s: &mut UiState) -> Vec<arbdesk::domain::Asin> {
    let first = s.selected_row().unwrap().key.asin;
    keys(s, " j");
    let third = s.selected_row().unwrap().key.asin;
    keys(s, " ");
    let mut asins = vec![first];
    if third != first {
        asins.push(third);
    }
    asins
}

/// `r` refreshes the marked rows' products (each once, in table order) when rows are
/// marked, else the selected row's.
#[test]
fn refresh_takes_the_marked_rows() {
    let mut s = fixtures::loaded(50, (200, 60));
    let expected = mark_first_and_third(&mut s);
    assert_eq!(keys(&mut s, "r"), vec![Effect::Refresh(expected)]);
    s.marked.clear();
    let selected = s.selected_row().unwrap().key.asin;
    assert_eq!(keys(&mut s, "r"), vec![Effect::Refresh(vec![selected])]);
    // `:refresh all` asks for the whole watchlist (the ingest stage reads it), once the
    // operator has seen what it costs and said yes.
    keys(&mut s, ":refresh all");
    assert_eq!(
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE),
        vec![Effect::SaveHistory("refresh all".into())]
    );
    let Some(Overlay::Confirm(c)) = &s.overlay else {
        panic!("asks first: {:?}", s.overlay);
    };
    assert!(
        c.question.starts_with("Refresh the whole watchlist, ")
            && c.question.contains("Keepa tokens")
            && c.question.ends_with("? y/N"),
        "{}",
        c.question
    );
    assert_eq!(keys(&mut s, "y"), vec![Effect::RefreshAll]);
    keys(&mut s, ":refresh all");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(keys(&mut s, "n").is_empty(), "declined");
    assert!(s.overlay.is_none());
}

/// `d` removes the marked rows' products (each once) when rows are marked, after asking,
/// naming them; never the unmarked row the cursor moved on to.
#[test]
fn watch_remove_takes_the_marked_rows() {
    let mut s = fixtures::loaded(50, (200, 60));
    let expected = mark_first_and_third(&mut s);
    // The cursor on a row of another product.
    while expected.contains(&s.selected_row().unwrap().key.asin) {
        keys(&mut s, "j");
    }
    let selected = s.selected_row().unwrap().key.asin;
    assert_eq!(keys(&mut s, "d"), vec![Effect::LoadWatchlist]);
    let Some(Overlay::Confirm(c)) = &s.overlay else {
        panic!("d asks first: {:?}", s.overlay);
    };
    assert!(
        c.question.contains(&expected[0].to_string())
            && !c.question.contains(&selected.to_string()),
        "{}",
        c.question
    );
    assert_eq!(keys(&mut s, "y"), vec![Effect::WatchRemove(expected)]);
    s.marked.clear();
    keys(&mut s, "d");
    assert_eq!(keys(&mut s, "y"), vec![Effect::WatchRemove(vec![selected])]);
}

/// The health view stops scrolling at its last page, so the first key back moves it.
#[test]
fn the_health_view_stops_at_its_last_page() {
    let mut s = fixtures::loaded(50, (80, 24));
    keys(&mut s, "gh");
    assert_eq!(s.view_kind, View::Health);
    let limit = arbdesk::tui::ui::health_scroll_limit(&s);
    assert!(limit > 0, "at 80×24 the rows do not fit");
    for _ in 0..5 {
        key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    }
    assert_eq!(s.health_scroll, limit);
    keys(&mut s, "G");
    assert_eq!(s.health_scroll, limit);
    keys(&mut s, "k");
    assert_eq!(s.health_scroll, limit - 1);
    for _ in 0..30 {
        keys(&mut s, "j");
    }
    assert_eq!(s.health_scroll, limit);
    // Opened again, it starts at the top.
    keys(&mut s, "go");
    keys(&mut s, "gh");
    assert_eq!(s.health_scroll, 0);
}

/// `copy breakdown` (`b` in the detail) copies the P&L the detail shows, as text; before it
/// has loaded, a toast says so.
#[test]
fn copy_breakdown_copies_the_loaded_pnl() {
    let mut s = fixtures::loaded(50, (200, 60));
    let row = s.selected_row().unwrap().clone();
    s.detail = None;
    assert!(
        s.apply(Action::Copy(arbdesk::tui::action::CopyTarget::Breakdown))
            .is_empty()
    );
    assert!(s.toasts.back().unwrap().text.contains("still loading"));
    let mut d = fixtures::detail(&row);
    let first_label = d.opportunity.as_ref().unwrap().breakdown.lines[0]
        .label
        .clone();
    // A label longer than a pane is wide, as customs notes are.
    d.opportunity.as_mut().unwrap().breakdown.lines.push(arbdesk::domain::BreakdownLine {
        id: "note".into(),
        label: "Customs not configured for this UK↔EU route: no duty, broker or import VAT counted (ROUTE_DISABLED)".into(),
        amount: arbdesk::domain::Money::eur(0),
        source: "config".into(),
    });
    s.on_detail(d);
    let fx = s.apply(Action::Copy(arbdesk::tui::action::CopyTarget::Breakdown));
    let [Effect::Copy { text, what }] = fx.as_slice() else {
        panic!("expected a copy, got {fx:?}");
    };
    assert_eq!(*what, "P&L");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "{} {} → {}",
            row.key.asin, row.key.buy, row.key.sell
        )),
        "{first}"
    );
    assert!(text.contains("Gross ") && text.contains("Net "), "{text}");
    assert!(
        text.contains(first_label.split(' ').next().unwrap()),
        "{text}"
    );
    assert!(text.contains("max buy"), "{text}");
    assert!(!text.lines().any(|l| l.ends_with(' ')), "{text}");
    // The amounts come right after the longest label, not at the end of a wide line.
    let labels = &s
        .detail
        .as_ref()
        .unwrap()
        .opportunity
        .as_ref()
        .unwrap()
        .breakdown
        .lines;
    let longest = labels
        .iter()
        .map(|l| l.label.chars().count())
        .max()
        .unwrap();
    for t in text.lines().filter(|t| t.starts_with("  ")) {
        assert!(t.chars().count() <= longest + 13, "{t:?} in\n{text}");
    }
    // Each label whole on its line, as pasted.
    for l in labels {
        assert!(
            text.lines().any(|t| t.contains(l.label.as_str())),
            "{}: {text}",
            l.label
        );
    }
}

/// `--read-only`: watchlist changes are refused with a toast, by key and by command, and
/// help does not offer them; the header says so.
#[test]
fn read_only_refuses_and_hides_watchlist_changes() {
    let mut s = fixtures::loaded(50, (200, 60));
    s.session.read_only = true;
    for typed in ["d", "a"] {
        assert!(keys(&mut s, typed).is_empty(), "{typed}");
        assert!(s.overlay.is_none(), "{typed}: no confirm, no prompt");
    }
    keys(&mut s, ":watch add B0D1XD1ZV3");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::WatchAdd(_))),
        "{fx:?}"
    );
    let toast = s.toasts.back().unwrap();
    assert!(
        toast.error && toast.text.contains("read-only"),
        "{}",
        toast.text
    );
    // Reading goes on as before.
    assert!(!keys(&mut s, "e").is_empty());
    let keymap = Keymap::load("default", None);
    let help = arbdesk::tui::ui::help_entries(&s, &keymap, "watch");
    assert!(
        help.iter()
            .all(|e| e.run != "watch" && !e.run.starts_with("watch ")),
        "{help:?}"
    );
    let screen = super::snapshots::draw(&s, "mono");
    let header: String = (0..200).map(|x| screen[(x, 0)].symbol()).collect();
    assert!(header.contains("READ-ONLY"), "{header}");
}

/// A console whose process does not ingest (`--role api`) has no stage to ask for a
/// refresh: neither help nor the hint bar offers one.
#[test]
fn a_console_that_does_not_fetch_offers_no_refresh() {
    let keymap = Keymap::load("default", None);
    let offered = |s: &UiState| {
        let help = arbdesk::tui::ui::help_entries(s, &keymap, "refresh");
        let discover = arbdesk::tui::ui::help_entries(s, &keymap, "discover");
        let screen = super::snapshots::draw(s, "mono");
        let footer: String = (0..200).map(|x| screen[(x, 59)].symbol()).collect();
        (
            help.iter().any(|e| e.run.starts_with("refresh")),
            footer.contains("refresh"),
            discover.iter().any(|e| e.run == "discover"),
        )
    };
    let mut s = fixtures::loaded(50, (200, 60));
    s.apply(Action::Goto(View::Products));
    assert_eq!(offered(&s), (true, true, true));
    assert_eq!(s.apply(Action::Discover), vec![Effect::Discover]);
    assert_eq!(
        arbdesk::tui::action::parse("discover"),
        Ok(Action::Discover)
    );
    assert!(arbdesk::tui::action::parse("discover now").is_err());
    s.session.fetches = false;
    assert_eq!(offered(&s), (false, false, false));
}

/// Marked rows are counted in the table's title, which says what `e` does with them where
/// there is room.
#[test]
fn marks_are_counted_in_the_title() {
    let mut s = fixtures::loaded(50, (200, 60));
    keys(&mut s, " j ");
    assert_eq!(s.marked.len(), 2);
    let screen = super::snapshots::draw(&s, "mono");
    let title: String = (0..200).map(|x| screen[(x, 4)].symbol()).collect();
    assert!(title.contains("2 marked (e exports them)"), "{title}");
    // At 80 columns the count alone, with zoom, leaves the title its other parts.
    s.on_resize(80, 24);
    keys(&mut s, "z");
    assert!(s.zoom);
    let screen = super::snapshots::draw(&s, "mono");
    let title: String = (0..80).map(|x| screen[(x, 0)].symbol()).collect();
    let title = if title.contains("Opportunities") {
        title
    } else {
        (0..24)
            .map(|y| (0..80).map(|x| screen[(x, y)].symbol()).collect::<String>())
            .find(|l| l.contains("Opportunities"))
            .unwrap_or_default()
    };
    assert!(title.contains("· 2 marked · zoomed "), "{title}");
}

#[test]
fn freeze_holds_new_data_until_unfrozen() {
    let mut s = fixtures::loaded(50, (200, 60));
    keys(&mut s, "f");
    let mut feed: Feed = (*s.feed).clone();
    feed.rows.truncate(10);
    s.on_feed(feed.clone());
    s.on_feed(feed);
    assert_eq!(s.view().len(), 50);
    assert_eq!(s.frozen_pending, 2);
    // The banner counts the time frozen as a clock; the hint bar offers to thaw it.
    let now = s.now;
    s.on_tick(now + Duration::seconds(74));
    let screen = super::snapshots::draw(&s, "mono");
    let text: String = screen.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("FROZEN 01:14 · 2 newer"), "{text}");
    assert!(text.contains("f unfreeze"), "{text}");
    keys(&mut s, "f");
    assert_eq!(s.view().len(), 10);
    assert!(s.frozen.is_none());
    let screen = super::snapshots::draw(&s, "mono");
    let text: String = screen.content().iter().map(|c| c.symbol()).collect();
    assert!(
        text.contains("f freeze") && !text.contains("FROZEN"),
        "{text}"
    );
}

#[test]
fn the_operators_own_changes_apply_while_frozen() {
    let mut s = fixtures::loaded(50, (200, 60));
    keys(&mut s, "f");
    // Incoming data for the query on screen is held…
    let mut refresh: Feed = (*s.feed).clone();
    refresh.rows.truncate(10);
    s.on_feed(refresh);
    assert_eq!(s.frozen_pending, 1);
    // …but the answer to a margin the operator changed is shown, and what was held for
    // the old query is dropped.
    let q = match keys(&mut s, "+").as_slice() {
        [Effect::Query(q)] => q.clone(),
        other => panic!("expected a query, got {other:?}"),
    };
    assert!(s.loading);
    let mut answer: Feed = (*s.feed).clone();
    answer.query = Some(q);
    answer.rows.truncate(30);
    s.on_feed(answer);
    assert!(!s.loading);
    assert_eq!(s.view().len(), 30);
    assert_eq!(s.frozen_pending, 0);
    assert!(s.frozen.is_some(), "still frozen");
    keys(&mut s, "f");
    assert_eq!(
        s.view().len(),
        30,
        "nothing stale replaces it on unfreezing"
    );
}

#[test]
fn slash_in_the_log_view_searches_the_log_not_the_table() {
    let mut s = fixtures::loaded(50, (200, 60));
    keys(&mut s, "gl");
    assert_eq!(s.view_kind, View::Logs);
    let fx = keys(&mut s, "/Pipeline");
    assert!(fx.is_empty(), "no store query: {fx:?}");
    assert_eq!(s.log_search, "Pipeline");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.overlay.is_none());
    assert_eq!(s.log_search, "Pipeline");
    assert_eq!(s.filter_text, "", "the opportunities filter is untouched");
    // With the prompt closed, Esc clears the search first, then leaves the view.
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.log_search, "");
    assert_eq!(s.view_kind, View::Logs);
    // Esc in the search prompt clears the search too.
    keys(&mut s, "/warn");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.log_search, "");
    // Back on the table, `/` filters opportunities again.
    keys(&mut s, "go");
    keys(&mut s, "/src=uk");
    assert!(matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.kind == PromptKind::Filter));
}

#[test]
fn enter_opens_the_detail_drawer_on_small_screens_and_esc_closes_it() {
    let mut s = fixtures::loaded(50, (80, 24));
    assert!(s.wanted_detail().is_none(), "no detail on screen yet");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.detail_open);
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(!s.detail_open);
}

/// Closing the drawer gives the table back as it was: the rows above the selected one
/// are not scrolled away (the drawer's few table rows scrolled it), also after a move
/// in the drawer's row that stays in view.
#[test]
fn the_table_scrolls_back_when_the_drawer_closes() {
    for inside in ["", "j"] {
        let mut s = fixtures::loaded(50, (80, 24));
        keys(&mut s, "jj");
        assert_eq!((s.selected, s.offset), (2, 0));
        key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        keys(&mut s, inside);
        key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
        assert!(!s.detail_open);
        assert_eq!(s.offset, 0, "after Enter, {inside:?}, Esc");
    }
    // A row further down than the first page keeps its scroll.
    let mut s = fixtures::loaded(50, (80, 24));
    keys(&mut s, &"j".repeat(30));
    let before = s.offset;
    assert!(before > 0);
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.offset, before);
}

/// A drawer opened on a small screen, then widened: the keys do what they do when the
/// detail is opened at the wider size (j moves the selection; the detail keeps the focus).
#[test]
fn a_drawer_widened_works_as_the_detail_opened_there() {
    let mut s = fixtures::loaded(50, (80, 24));
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.detail_open);
    s.on_resize(160, 45);
    let mut opened_there = fixtures::loaded(50, (160, 45));
    key(&mut opened_there, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.context(), opened_there.context());
    let before = s.selected;
    keys(&mut s, "j");
    keys(&mut opened_there, "j");
    assert_eq!(s.selected, opened_there.selected);
    assert_eq!(s.detail_scroll, opened_there.detail_scroll);
    assert_ne!(s.selected, before, "j moved the selection");
}

/// And narrowed again: the detail is the drawer once more, whose keys scroll it, and it
/// loads the row it shows.
#[test]
fn a_drawer_widened_and_narrowed_again_is_the_drawer() {
    let mut s = fixtures::loaded(50, (80, 24));
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let drawer = s.context();
    s.on_resize(250, 60);
    s.on_resize(80, 24);
    assert!(s.detail_open);
    assert_eq!(s.context(), drawer);
    assert!(s.detail_visible(), "so the detail of its row is loaded");
    let before = s.selected;
    keys(&mut s, "j");
    assert_eq!(
        s.selected, before,
        "j scrolls the drawer, not the table under it"
    );
}

#[test]
fn the_drawer_scrolls_and_a_recomputed_row_loads_its_detail_again() {
    let mut s = fixtures::loaded(50, (80, 24));
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let row = s.selected_row().unwrap().clone();
    let mut detail = fixtures::detail(&row);
    if let Some(o) = detail.opportunity.as_mut() {
        o.updated_at = row.fig.updated_at;
        // A P&L longer than the drawer (customs and per-kg lines make it so).
        let more = o.breakdown.lines.clone();
        o.breakdown.lines.extend(more);
    }
    s.on_detail(detail);
    assert_eq!(s.wanted_detail(), None, "loaded and current");
    // In the drawer, j and k scroll it as far as the drawn P&L goes; the selection under
    // it stays.
    // The drawing reports how far the detail's P&L can scroll.
    super::snapshots::draw(&s, "mono");
    let max = s.detail_scroll_max.get();
    assert!(max >= 1, "the P&L overflows the drawer");
    keys(&mut s, "j");
    assert_eq!((s.detail_scroll, s.selected), (1, 0));
    // Scrolling stops where the text ends, so the first k after it moves the text.
    keys(&mut s, &"j".repeat(usize::from(max) + 3));
    assert_eq!(s.detail_scroll, max);
    keys(&mut s, "k");
    assert_eq!(s.detail_scroll, max - 1);
    keys(&mut s, "G");
    assert_eq!(s.detail_scroll, max);
    keys(&mut s, "gg");
    assert_eq!(s.detail_scroll, 0);
    // PgDn moves by the P&L lines on screen (not the table's page), so no line is skipped.
    let page = s.detail_page.get();
    assert!(page >= 1 && page < max, "page {page}, max {max}");
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    assert_eq!(s.detail_scroll, page);
    key(&mut s, KeyCode::PageUp, KeyModifiers::NONE);
    assert_eq!(s.detail_scroll, 0);
    // A refresh that recomputed the row (new prices, a market added) asks for it again.
    let mut feed: Feed = (*s.feed).clone();
    let r = feed.rows.iter_mut().find(|r| r.key == row.key).unwrap();
    r.fig.updated_at += chrono::Duration::minutes(1);
    s.on_feed(feed);
    assert_eq!(s.wanted_detail(), Some(row.key));
}

/// With the detail beside or under the table, `G` and `g g` go to the bottom and top of
/// the P&L, not to the last and first row.
#[test]
fn top_and_bottom_scroll_the_detail_beside_the_table() {
    let mut s = fixtures::loaded(300, (120, 40));
    keys(&mut s, "jj");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.focus, arbdesk::tui::state::Focus::Detail);
    super::snapshots::draw(&s, "mono");
    let selected = s.selected;
    keys(&mut s, "G");
    assert_eq!(s.selected, selected, "the selection stays");
    assert_eq!(s.detail_scroll, s.detail_scroll_max.get());
    keys(&mut s, "gg");
    assert_eq!((s.selected, s.detail_scroll), (selected, 0));
}

#[test]
fn paging_keeps_the_selection_in_view() {
    let mut s = fixtures::loaded(500, (80, 24));
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    assert!(s.selected >= s.offset && s.selected < s.offset + s.page);
    keys(&mut s, "G");
    assert_eq!(s.selected, s.view().len() - 1);
    assert!(s.selected < s.offset + s.page);
    keys(&mut s, "gg");
    assert_eq!((s.selected, s.offset), (0, 0));
}

#[test]
fn a_bad_command_stays_open_with_the_error() {
    let mut s = fixtures::loaded(10, (120, 40));
    keys(&mut s, ":sort colour");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    match &s.overlay {
        Some(Overlay::Prompt(p)) => assert!(p.error.as_deref().unwrap().contains("'colour'")),
        other => panic!("prompt closed: {other:?}"),
    }
}

/// Backspace sent as ^H (Ctrl-H) deletes in a prompt as Backspace does.
#[test]
fn ctrl_h_is_backspace() {
    let mut s = fixtures::loaded(10, (120, 40));
    keys(&mut s, ":abc");
    key(&mut s, KeyCode::Char('h'), KeyModifiers::CONTROL);
    match &s.overlay {
        Some(Overlay::Prompt(p)) => assert_eq!(p.input, "ab"),
        other => panic!("prompt closed: {other:?}"),
    }
}

#[test]
fn sort_and_filters_are_saved_as_commands_and_restored() {
    let mut s = fixtures::loaded(50, (120, 40));
    for line in [
        "sort roi asc",
        "min-margin 0",
        "min-margin -5",
        "basis net",
        "limit all",
        "buy de,it",
        "sell uk",
        "filter profit>5",
    ] {
        s.apply(arbdesk::tui::action::parse(line).unwrap());
    }
    let saved = s.saved_commands();
    let mut t = fixtures::loaded(50, (120, 40));
    assert_eq!(t.restore(&saved), Vec::<String>::new(), "{saved:?}");
    let shape = |u: &UiState| {
        (
            u.sort,
            u.descending,
            u.min_margin,
            u.basis == arbdesk::tui::action::Basis::Net,
            u.limit,
            u.buy.clone(),
            u.sell.clone(),
            u.filter_text.clone(),
        )
    };
    assert_eq!(shape(&t), shape(&s));
    assert_eq!(t.min_margin, -5.0);
    // Only sort and filter commands are taken from the file; the rest is reported.
    let refused = t.restore(&["quit".to_string(), "sort colour".to_string()]);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(!t.quit);
}

/// Quitting while a `/` filter is half typed saves the filter in force before `/`: `roi>`
/// applies as the word `roi` while typing, which is not what anyone meant to keep.
#[test]
fn a_filter_still_being_typed_at_quit_is_not_saved() {
    let mut s = fixtures::loaded(50, (120, 40));
    keys(&mut s, "/profit>5");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.filter_text, "profit>5");
    keys(&mut s, "/");
    for _ in 0.."profit>5".len() {
        key(&mut s, KeyCode::Backspace, KeyModifiers::NONE);
    }
    keys(&mut s, "roi>");
    assert_eq!(
        s.filter_text, "",
        "no title search for a field name being typed"
    );
    key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(s.quit);
    let saved = s.saved_commands();
    assert!(saved.contains(&"filter profit>5".to_string()), "{saved:?}");
    assert!(!saved.iter().any(|c| c.contains("roi")), "{saved:?}");
    // Submitted with Enter, it is saved.
    let mut s = fixtures::loaded(50, (120, 40));
    keys(&mut s, "/roi>5");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(s.saved_commands().contains(&"filter roi>5".to_string()));
}

#[test]
fn expected_monthly_profit_puts_ranked_rows_first_and_breaks_ties_by_roi_then_profit() {
    let mut s = fixtures::loaded(4, (200, 60));
    let mut feed: Feed = (*s.feed).clone();
    // (ASIN, ranked, expected monthly profit, ROI, profit), in no particular order.
    let rows = [
        ("B0TIE00001", true, 5_000, 10.0, 300),
        ("B0TIE00002", false, 90_000, 50.0, 900),
        ("B0TIE00003", true, 5_000, 20.0, 100),
        ("B0TIE00004", true, 5_000, 10.0, 400),
    ];
    feed.rows = rows
        .iter()
        .map(|&(asin, ranked, emp, roi, profit)| {
            let mut r = fixtures::row(asin, "Tie", Market::DE, Market::FR, 20.0, profit);
            r.ranked = ranked;
            r.fig.emp = arbdesk::domain::Money::eur(emp);
            r.fig.roi = roi;
            r
        })
        .collect();
    feed.total = feed.rows.len() as u64;
    s.on_feed(feed);
    // The default order; `E` from another sort comes back to it.
    assert_eq!((s.sort, s.descending), (Column::Emp, true));
    keys(&mut s, "M");
    keys(&mut s, "E");
    assert_eq!((s.sort, s.descending), (Column::Emp, true));
    let order = |s: &UiState| -> Vec<String> {
        s.view()
            .iter()
            .map(|&i| s.feed.rows[i as usize].key.asin.to_string())
            .collect()
    };
    assert_eq!(
        order(&s),
        ["B0TIE00003", "B0TIE00004", "B0TIE00001", "B0TIE00002"],
        "ranked first; equal profits by ROI, then profit; the store's order"
    );
    keys(&mut s, "E");
    assert!(!s.descending);
    assert_eq!(
        order(&s),
        ["B0TIE00002", "B0TIE00001", "B0TIE00004", "B0TIE00003"]
    );
}

/// A row without net figures (no fee or VAT table in force) sorts after every row with
/// them on a net column, whichever way the sort runs, as both stores order it.
#[test]
fn rows_without_net_figures_sort_last_on_net_columns_both_ways() {
    let mut s = fixtures::loaded(4, (200, 60));
    let mut feed: Feed = (*s.feed).clone();
    let rows = [("B0NET00001", 300), ("B0NET00002", -900), ("B0NET00003", 0)];
    feed.rows = rows
        .iter()
        .map(|&(asin, profit)| {
            let mut r = fixtures::row(asin, "Net", Market::DE, Market::FR, 20.0, profit);
            r.fig.roi = profit as f64 / 100.0;
            r.fig.net_pct = profit as f64 / 50.0;
            r.fig.emp = arbdesk::domain::Money::eur(profit * 10);
            // Ranked rows lead an expected-profit sort; a row without net figures never is.
            r.ranked = false;
            r
        })
        .collect();
    // The third has unknown net figures, shown as zeros.
    feed.rows[2].fig.has_net = false;
    feed.total = feed.rows.len() as u64;
    s.on_feed(feed);
    let order = |s: &UiState| -> Vec<String> {
        s.view()
            .iter()
            .map(|&i| s.feed.rows[i as usize].key.asin.to_string())
            .collect()
    };
    // Each column twice: descending first, then ascending; the unknown row last both times.
    let ways = [
        (true, ["B0NET00001", "B0NET00002", "B0NET00003"]),
        (false, ["B0NET00002", "B0NET00001", "B0NET00003"]),
    ];
    for c in [Column::Profit, Column::Net, Column::Roi, Column::Emp] {
        for (descending, want) in ways {
            s.apply(Action::Sort(SortBy::Column(c, None)));
            assert_eq!((s.sort, s.descending), (c, descending));
            assert_eq!(order(&s), want, "{c:?} descending: {descending}");
        }
    }
}

#[test]
fn a_row_limit_that_is_not_offered_is_rounded_up_and_says_so() {
    let mut s = fixtures::loaded(300, (200, 60));
    s.apply(Action::Limit(Some(7)));
    assert_eq!(s.view().len(), 25);
    let last = s.toasts.back().map(|t| t.text.clone()).unwrap_or_default();
    assert!(last.contains("Rows 25") && last.contains("250"), "{last}");
    s.apply(Action::Limit(Some(100)));
    assert_eq!(s.view().len(), 100);
    assert_eq!(
        s.matching.len(),
        300,
        "the limit is of the screen, not of the matches"
    );
}

/// `Tab` cycles through the panels the terminal shows: on 80×24 the detail and health
/// panels are not on screen, so it goes table → filters → table; on 200×60 it visits all.
#[test]
fn tab_skips_panels_that_are_not_on_screen() {
    let mut s = fixtures::loaded(20, (80, 24));
    assert_eq!(s.focus, Focus::Table);
    let mut seen = Vec::new();
    for _ in 0..3 {
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
        seen.push(s.focus);
    }
    assert_eq!(seen, [Focus::Sidebar, Focus::Table, Focus::Sidebar]);

    let mut s = fixtures::loaded(20, (200, 60));
    let mut seen = Vec::new();
    for _ in 0..4 {
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
        seen.push(s.focus);
    }
    assert_eq!(
        seen,
        [Focus::Detail, Focus::Health, Focus::Sidebar, Focus::Table]
    );
}

/// A new sort or filter puts the selection on the top row, and it stays there while rows
/// arrive, until the operator moves it; then it follows its row across refreshes. The
/// title says how many rows are above the screen when it is scrolled.
#[test]
fn a_new_sort_shows_the_top_rows_and_the_selection_follows_only_after_a_move() {
    let mut s = fixtures::loaded(200, (200, 60));
    assert_eq!(s.selected, 0);
    keys(&mut s, "jjjjj");
    let chosen = selected_asin(&s);
    // A refresh with the same rows keeps the chosen row selected.
    let feed = (*s.feed).clone();
    s.on_feed(feed);
    assert_eq!(selected_asin(&s), chosen);
    // Scrolled far down, the sort moves the view back to the top.
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    key(&mut s, KeyCode::PageDown, KeyModifiers::NONE);
    assert!(s.offset > 0);
    keys(&mut s, "P");
    assert_eq!((s.selected, s.offset), (0, 0));
    let top = s.view()[0];
    let feed = (*s.feed).clone();
    s.on_feed(feed);
    assert_eq!(
        s.view()[s.selected],
        top,
        "pinned to the top across a refresh"
    );
}

/// From the filters sidebar, `/` opens the table's filter (and the table takes the focus,
/// so typed letters are the filter's), and `:goto opportunities` returns to the table.
#[test]
fn the_sidebar_opens_the_filter_and_goto_returns_to_the_table() {
    let mut s = fixtures::loaded(20, (160, 45));
    s.apply(Action::Focus(false));
    assert_eq!(s.focus, Focus::Sidebar);
    keys(&mut s, "/");
    assert_eq!(s.focus, Focus::Table);
    assert!(matches!(s.overlay, Some(Overlay::Prompt(_))));
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    s.apply(Action::Focus(false));
    assert_eq!(s.focus, Focus::Sidebar);
    s.apply(Action::Goto(View::Opportunities));
    assert_eq!(s.focus, Focus::Table);
}

#[test]
fn tab_lists_the_candidates_then_takes_each_in_turn() {
    let mut s = fixtures::loaded(20, (160, 45));
    keys(&mut s, ":so");
    let input = |s: &UiState| match &s.overlay {
        Some(Overlay::Prompt(p)) => p.input.clone(),
        other => panic!("no prompt: {other:?}"),
    };
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort ");
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(
        input(&s),
        "sort ",
        "the first Tab on many candidates lists them"
    );
    assert!(prompt_error(&s).is_some_and(|e| e.contains("sort profit") && e.contains("sort roi")));
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort profit");
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort roi");
    // Shift-Tab goes back one.
    key(&mut s, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(input(&s), "sort profit");
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort roi");
    // Typing ends the cycle: Tab completes from what is typed again.
    keys(&mut s, "x");
    assert_eq!(input(&s), "sort roix");
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort roix");
    // What the candidates agree on is one of them (`mar` → `mark`): the list shows it
    // taken, and the next Tab goes on to the other.
    let mut s = fixtures::loaded(20, (160, 45));
    keys(&mut s, ":mar");
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(input(&s), "mark");
    let listed = prompt_error(&s).unwrap_or_default();
    assert!(
        listed.contains("[mark]") && listed.contains("markets"),
        "{listed}"
    );
    key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
    assert!(input(&s).starts_with("markets"), "{}", input(&s));
}

/// The help explains what the screen shows without a key: the row markers and the filter's
/// language, found by a word like any binding.
#[test]
fn help_has_a_legend_of_row_markers_and_filter_terms() {
    let s = fixtures::loaded(20, (120, 40));
    let keymap = Keymap::load("default", None);
    let found = |q: &str| -> Vec<String> {
        arbdesk::tui::ui::help_entries(&s, &keymap, q)
            .into_iter()
            .map(|e| e.keys)
            .collect()
    };
    assert!(found("not ranked").contains(&"! (row)".to_string()));
    assert!(found("new").contains(&"+ (row)".to_string()));
    assert!(found("operator").contains(&"/roi>=25".to_string()));
    assert!(found("negates").iter().any(|k| k.starts_with("/!")));
    // A command's arguments are all in the help: beside it when they fit the keys column,
    // else in its description, never cut off.
    for e in arbdesk::tui::ui::help_entries(&s, &keymap, "") {
        let Some(spec) = arbdesk::tui::action::REGISTRY
            .iter()
            .find(|r| e.context == "command" && r.id == e.run)
        else {
            continue;
        };
        assert!(e.keys.chars().count() <= 22, "{}", e.keys);
        for arg in spec.args {
            assert!(
                e.keys.contains(arg) || e.desc.contains(arg),
                "{}: {arg} ({})",
                e.run,
                e.desc
            );
        }
    }
}

/// The command line walks its history with Up and Down, and Down past the newest entry
/// gives back what was typed before the walk began.
#[test]
fn command_history_keeps_the_typed_draft() {
    let mut s = fixtures::loaded(10, (160, 45));
    s.history = vec!["sort roi".into(), "min 12".into()];
    keys(&mut s, ":");
    keys(&mut s, "sor");
    let input = |s: &UiState| match &s.overlay {
        Some(Overlay::Prompt(p)) => p.input.clone(),
        other => panic!("no prompt: {other:?}"),
    };
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "min 12");
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "sort roi");
    key(&mut s, KeyCode::Down, KeyModifiers::NONE);
    assert_eq!(input(&s), "min 12");
    key(&mut s, KeyCode::Down, KeyModifiers::NONE);
    assert_eq!(input(&s), "sor", "the draft is back");
}

/// A filter set with Enter is kept in the command history as the command that sets it;
/// the `/` prompt's Up and Down walk those (applying each as it shows), and `:` recalls
/// them as commands.
#[test]
fn filters_are_kept_in_the_history_and_recalled_in_the_filter_prompt() {
    let mut s = fixtures::loaded(50, (160, 45));
    s.history = vec!["sort roi".into()];
    for filter in ["Sony", "roi>5"] {
        // `/` opens on the filter in force: Ctrl-U clears it.
        keys(&mut s, "/");
        key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
        keys(&mut s, filter);
        let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        assert!(
            fx.contains(&Effect::SaveHistory(format!("filter {filter}"))),
            "{fx:?}"
        );
    }
    assert_eq!(s.history, ["sort roi", "filter Sony", "filter roi>5"]);
    let input = |s: &UiState| match &s.overlay {
        Some(Overlay::Prompt(p)) => p.input.clone(),
        other => panic!("no prompt: {other:?}"),
    };
    keys(&mut s, "/");
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "roi>5");
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "Sony");
    assert_eq!(
        s.filter_text, "Sony",
        "a recalled filter applies as it shows"
    );
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "Sony", "commands are not filters");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, ":");
    key(&mut s, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(input(&s), "filter roi>5");
}

/// Clearing a `/` filter keeps the row the operator was on; a new filter starts at its
/// best match.
#[test]
fn clearing_the_filter_keeps_the_selected_row() {
    let mut s = fixtures::loaded(50, (160, 45));
    keys(&mut s, "/Sony");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    keys(&mut s, "j");
    let on = s.selected_row().unwrap().key;
    assert!(s.selected_row().unwrap().title().contains("Sony"));
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.filter_text.is_empty());
    assert_eq!(s.selected_row().unwrap().key, on);
}

/// A product refreshed with `r` is reported when its rows come back recomputed (after the
/// ask), once; rows computed before the ask do not count.
#[test]
fn a_refreshed_product_is_reported_when_its_rows_come_back() {
    let mut s = fixtures::loaded(12, (160, 45));
    let row = s.selected_row().unwrap().clone();
    let asin = row.key.asin;
    let asked = s.now;
    s.refresh_pending.insert(asin, asked);
    let feed_at = |s: &UiState, updated| {
        let mut feed = (*s.feed).clone();
        for r in &mut feed.rows {
            r.fig.updated_at = updated;
        }
        feed
    };
    let toasts = |s: &UiState| -> Vec<String> { s.toasts.iter().map(|t| t.text.clone()).collect() };
    // Rows computed before the ask: still pending.
    s.on_feed(feed_at(&s, asked - chrono::Duration::seconds(5)));
    assert!(s.refresh_pending.contains_key(&asin));
    assert!(
        !toasts(&s).iter().any(|t| t.starts_with("Refreshed")),
        "{:?}",
        toasts(&s)
    );
    s.on_feed(feed_at(&s, asked + chrono::Duration::seconds(2)));
    let routes = s.feed.rows.iter().filter(|r| r.key.asin == asin).count();
    let expected = format!(
        "Refreshed {asin}: {routes} route{} recomputed",
        if routes == 1 { "" } else { "s" }
    );
    assert!(toasts(&s).contains(&expected), "{:?}", toasts(&s));
    assert!(s.refresh_pending.is_empty());
}

/// What a `/` filter states that the store answers (lower bounds, markets) narrows the
/// store query, so the rows loaded for the filter to search are rows that can match, not
/// only the top of the sort; negated terms and other fields do not narrow it.
#[test]
fn a_filter_narrows_the_store_query() {
    let mut s = fixtures::loaded(300, (200, 60));
    keys(
        &mut s,
        "/roi>=25 profit>5 src=de,it route=de>fr,it>fr,it>es",
    );
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let q = s.query();
    assert_eq!(q.buy, [Market::DE, Market::IT]);
    assert_eq!(q.sell, [Market::FR, Market::ES]);
    assert_eq!(q.bounds.roi_pct, Some(25.0));
    assert_eq!(
        q.bounds.profit_cents,
        Some(499),
        "a cent below, never above"
    );
    let f = q.filter();
    assert_eq!(f.min_roi_pct, Some(25.0));
    let sidebar = Some(s.min_margin);
    assert!(
        f.min_gross_margin_pct == sidebar || f.min_net_margin_pct == sidebar,
        "the sidebar's minimum still holds: {f:?}"
    );
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "/!src=de roi<5 sold>=10");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let q = s.query();
    assert!(q.buy.is_empty() && q.sell.is_empty(), "{q:?}");
    assert_eq!(q.bounds, Default::default());
}

/// Sorted by age, which the store orders newest first only, the table loads the rows a
/// filter would search, as for any column sorted in memory: with a screenful, the oldest
/// rows were never loaded, and an export (which writes the loaded rows in table order)
/// wrote only a screenful.
#[test]
fn an_age_sort_loads_the_rows_it_sorts() {
    let mut s = fixtures::loaded(300, (200, 60));
    let screenful = s.query().limit;
    keys(&mut s, ":sort age asc");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let q = s.query();
    assert!(
        q.limit >= arbdesk::tui::model::FILTER_ROWS,
        "{} of {screenful}",
        q.limit
    );
    assert!(q.descending, "the store's own order for age: newest first");
}

/// An `age` filter follows the clock: rows drop out as they grow older, without new data.
#[test]
fn an_age_filter_follows_the_clock() {
    let mut s = fixtures::loaded(50, (200, 60));
    let newest = s.feed.rows.iter().map(|r| r.fig.updated_at).max().unwrap();
    let age = (s.now - newest).num_seconds() + 60;
    keys(&mut s, &format!("/age<{age}s"));
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(!s.view().is_empty());
    s.on_tick(s.now + Duration::seconds(120));
    assert!(s.view().is_empty(), "two minutes later every row is older");
}

/// Expected monthly profit multiplies out on screen: the units it counts times the net,
/// and the net before rounding where the rounded one would not give the figure shown.
#[test]
fn expected_monthly_profit_says_what_it_multiplies() {
    let copied = |net: i64, expected: i64| {
        let mut s = fixtures::loaded(5, (200, 60));
        let row = s.selected_row().unwrap().clone();
        let mut d = fixtures::detail(&row);
        let sell = row.key.sell;
        let t = d.product.as_mut().unwrap().markets.get_mut(&sell).unwrap();
        t.monthly_sold = Some(20);
        t.amazon = None;
        t.amazon_buy_box_share_pct = None;
        t.buy_box_is_amazon = Some(false);
        t.offers_new_fba = Some(0);
        let o = d.opportunity.as_mut().unwrap();
        o.net_profit = arbdesk::domain::Money::eur(net);
        o.expected_monthly_profit = arbdesk::domain::Money::eur(expected);
        s.on_detail(d);
        let fx = s.apply(Action::Copy(arbdesk::tui::action::CopyTarget::Breakdown));
        let [Effect::Copy { text, .. }] = fx.as_slice() else {
            panic!("expected a copy, got {fx:?}");
        };
        text.clone()
    };
    let text = copied(100, 2004);
    assert!(
        text.contains(
            "Expected €20.04/month (20.0 units × €1.0020 (the net before rounding): 20 sold/mo"
        ),
        "{text}"
    );
    let text = copied(100, 2000);
    assert!(
        text.contains("Expected €20.00/month (20.0 units × €1.00: 20 sold/mo"),
        "{text}"
    );
}

/// The products view (`g p`): every stored product by ASIN, loaded a page at a time around
/// the selection; `/` searches the store; Enter shows the product's routes in the table.
#[test]
fn the_products_view_pages_searches_and_opens_a_products_routes() {
    use arbdesk::tui::state::{PRODUCTS_PAGE, ProductsQuery};
    let mut s = fixtures::loaded(30, (120, 40));
    assert_eq!(s.wanted_products(), None, "not asked for off the view");
    let fx = keys(&mut s, "gp");
    assert_eq!(s.view_kind, View::Products);
    assert_eq!(fx, vec![Effect::LoadWatchlist]);
    let first = ProductsQuery {
        text: None,
        offset: 0,
        limit: PRODUCTS_PAGE,
        seek: None,
    };
    assert_eq!(s.wanted_products(), Some(first.clone()));
    s.on_products(fixtures::products_page(1_000, first));
    assert_eq!(s.wanted_products(), None, "the page holds the screen");
    assert_eq!(
        s.products.selected_line().unwrap().asin.to_string(),
        "B000000000"
    );

    // Moves stay within the loaded page until the screen passes its end.
    keys(&mut s, "jj");
    assert_eq!(s.products.selected, 2);
    assert_eq!(s.wanted_products(), None);
    keys(&mut s, "G");
    assert_eq!(s.products.selected, 999);
    let q = s.wanted_products().expect("the last page is not loaded");
    assert!(
        q.offset <= s.products.offset && q.offset + q.limit >= 1_000,
        "{q:?}"
    );
    assert_eq!(s.products.selected_line(), None, "not loaded yet");
    s.on_products(fixtures::products_page(1_000, q));
    assert_eq!(
        s.products.selected_line().unwrap().asin.to_string(),
        "B000000999"
    );
    assert_eq!(s.wanted_products(), None);

    // New data: the page is read again.
    s.products_changed();
    assert!(s.wanted_products().is_some());

    // `/` searches as typed, from the first product; an answer to an older search is
    // not shown for the new one.
    keys(&mut s, "/ket");
    assert_eq!(s.products.search, "ket");
    assert_eq!((s.products.selected, s.products.offset), (0, 0));
    let q = s.wanted_products().unwrap();
    assert_eq!((q.text.as_deref(), q.offset), (Some("ket"), 0));
    let stale = ProductsQuery {
        text: Some("ke".into()),
        ..q.clone()
    };
    s.on_products(fixtures::products_page(1_000, stale));
    assert_eq!(s.wanted_products(), Some(q.clone()));
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    s.on_products(fixtures::products_page(3, q));
    assert_eq!(s.products.page.total, 3);
    keys(&mut s, "j");
    let asin = s.products.selected_line().unwrap().asin;

    // Copy, refresh and unwatch act on the selected product.
    assert_eq!(
        keys(&mut s, "Y"),
        vec![Effect::Copy {
            text: asin.to_string(),
            what: "ASIN"
        }]
    );
    assert_eq!(
        keys(&mut s, "y"),
        vec![Effect::Copy {
            text: Market::UK.product_url(&asin),
            what: "product link"
        }]
    );
    assert_eq!(keys(&mut s, "r"), vec![Effect::Refresh(vec![asin])]);
    assert!(keys(&mut s, "d").is_empty());
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    assert_eq!(keys(&mut s, "y"), vec![Effect::WatchRemove(vec![asin])]);

    // Enter: the table filtered to the product.
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(s.view_kind, View::Opportunities);
    assert_eq!(s.filter_text, format!("asin={asin}"));
    assert!(fx.iter().any(|e| matches!(e, Effect::Query(_))), "{fx:?}");

    // Back in the view, Esc clears the search first, then leaves.
    keys(&mut s, "gp");
    assert_eq!(s.products.search, "ket");
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(
        (s.view_kind, s.products.search.as_str()),
        (View::Products, "")
    );
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.view_kind, View::Opportunities);
}

/// A product without a page loaded, or in a market that does not list it, is never
/// acted on by guess.
#[test]
fn the_products_view_says_when_nothing_is_selected() {
    let mut s = fixtures::loaded(30, (120, 40));
    keys(&mut s, "gp");
    assert!(keys(&mut s, "r").is_empty());
    assert!(keys(&mut s, "Y").is_empty());
    assert!(keys(&mut s, "d").is_empty());
    assert!(s.overlay.is_none(), "no question about nothing");
    assert!(
        s.toasts
            .iter()
            .any(|t| t.text == "Nothing selected to remove")
    );
    // A route's copy targets have no meaning for a product.
    let mut s = fixtures::products(10, (120, 40));
    assert!(s.apply(Action::Copy(CopyTarget::Row)).is_empty());
    assert!(
        s.toasts
            .back()
            .unwrap()
            .text
            .contains("copy link or copy asin")
    );
}

/// A smaller terminal keeps the selected product on screen.
#[test]
fn the_products_view_keeps_the_selection_in_view_across_a_resize() {
    let mut s = fixtures::products(1_000, (120, 40));
    keys(&mut s, "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjj");
    assert_eq!((s.products.selected, s.products.offset), (30, 0));
    s.on_resize(80, 24);
    let rows = s.products_rows();
    assert!(
        (s.products.offset..s.products.offset + rows).contains(&30),
        "offset {} with {rows} rows",
        s.products.offset
    );
}

/// The selection is a product, not a row: one stored above it moves it down a row, and
/// the selection (and the screen) go with it.
#[test]
fn the_products_view_selection_follows_its_product() {
    use arbdesk::tui::state::{ProductsPage, ProductsQuery};
    let mut s = fixtures::products(1_000, (120, 40));
    keys(&mut s, "jj");
    let chosen = s.products.selected_line().unwrap().asin;
    assert_eq!(chosen.to_string(), "B000000002");
    // A product sorting first is stored: the page read again has everything a row lower.
    let q = ProductsQuery {
        text: None,
        offset: 0,
        limit: 200,
        seek: None,
    };
    let mut lines = vec![fixtures::product_line(0)];
    lines[0].asin = "0000000001".parse().unwrap(); // an ISBN sorts before every B0…
    lines.extend((0..199).map(fixtures::product_line));
    lines.sort_by_key(|l| l.asin);
    s.on_products(ProductsPage {
        query: Some(q),
        total: 1_001,
        lines,
        error: None,
        found: None,
    });
    assert_eq!(s.products.selected_line().unwrap().asin, chosen);
    assert_eq!(s.products.selected, 3);
}

/// Enter shows a product's routes with the table filtered to it; Esc (or q) goes back to
/// the products view and puts back the filter that was in force.
#[test]
fn a_products_routes_go_back_to_the_products_view_with_the_filter_before() {
    let mut s = fixtures::products(100, (120, 40));
    // The table's own filter, set in the opportunities view.
    keys(&mut s, "go");
    s.apply(Action::Filter(Some("roi>=30".into())));
    keys(&mut s, "gp");
    let asin = s.products.selected_line().unwrap().asin;
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        (s.view_kind, s.filter_text.clone()),
        (View::Opportunities, format!("asin={asin}"))
    );
    // The minimum margin still holds, and the toast says so.
    let toast = &s.toasts.back().unwrap().text;
    assert!(
        toast.contains(&format!(
            "The routes of {asin} within the table's ≥0.0 % net ("
        )),
        "{toast}"
    );
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(
        (s.view_kind, s.filter_text.as_str()),
        (View::Products, "roi>=30")
    );
    // `q` does the same: below the top view it goes back, it does not quit.
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    keys(&mut s, "q");
    assert!(!s.quit);
    assert_eq!(
        (s.view_kind, s.filter_text.as_str()),
        (View::Products, "roi>=30")
    );
    // A filter of the operator's own ends the detour: Esc then clears it, as any filter.
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    s.apply(Action::Filter(Some("profit>5".into())));
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(
        (s.view_kind, s.filter_text.as_str()),
        (View::Opportunities, "")
    );
}

/// `d` on a product that is not watched says so instead of asking; `a` offers it.
#[test]
fn the_products_view_unwatches_only_watched_products_and_offers_the_others() {
    let mut s = fixtures::products(100, (120, 40));
    keys(&mut s, "j"); // B000000001: odd, not watched
    assert!(keys(&mut s, "d").is_empty());
    assert!(s.overlay.is_none(), "nothing to ask");
    assert!(
        s.toasts
            .back()
            .unwrap()
            .text
            .contains("is not on the watchlist")
    );
    keys(&mut s, "a");
    match &s.overlay {
        Some(Overlay::Prompt(p)) => assert_eq!(p.input, "watch add B000000001"),
        other => panic!("{other:?}"),
    }
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    keys(&mut s, "k"); // B000000000: watched
    // `a` on it says so, as on the opportunities table, rather than open an empty line.
    assert!(keys(&mut s, "a").is_empty());
    assert!(s.overlay.is_none(), "{:?}", s.overlay);
    let toast = &s.toasts.back().unwrap().text;
    assert!(
        toast.contains("B000000000 is on the watchlist already"),
        "{toast}"
    );
    keys(&mut s, "d");
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
}

/// A search edited and then put back with Esc returns to the product that was selected.
#[test]
fn the_products_view_returns_to_its_place_when_a_search_is_put_back() {
    let mut s = fixtures::products(1_000, (120, 40));
    keys(&mut s, "jjjjj");
    let before = s.products.selected_line().unwrap().asin;
    keys(&mut s, "/ket");
    assert_eq!(s.products.selected, 0);
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.products.search, "");
    assert_eq!(s.products.selected, 5);
    // The page of the search before is still the one loaded: nothing to read.
    assert_eq!(s.wanted_products(), None);
    assert_eq!(s.products.selected_line().unwrap().asin, before);
}

/// A search kept (Enter) and then cleared keeps the product selected in it, at its place
/// among all the products; one put back while it is typed returns to the place before.
#[test]
fn clearing_a_kept_search_keeps_the_product_found() {
    let mut s = fixtures::products(1_000, (120, 40));
    keys(&mut s, "jj");
    // The search's page: the products stored as `asin(700)` on (the fixture's products
    // sort by their number).
    keys(&mut s, "/ket");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let q = s.wanted_products().unwrap();
    assert_eq!(q.text.as_deref(), Some("ket"));
    let mut page = fixtures::products_page(1_000, q);
    page.total = 300;
    page.lines = (700..900).map(fixtures::product_line).collect();
    s.on_products(page);
    keys(&mut s, "jjj");
    let found = s.products.selected_line().unwrap().asin;
    assert_eq!(found, fixtures::asin(703));
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(s.products.search, "");
    let q = s.wanted_products().unwrap();
    assert_eq!(
        q.seek,
        Some(found),
        "the whole list is read where it holds the product"
    );
    s.on_products(fixtures::products_page(1_000, q));
    assert_eq!(s.products.selected, 703);
    assert_eq!(s.products.selected_line().unwrap().asin, found);
    assert!(
        s.products.offset <= 703 && 703 < s.products.offset + s.products_rows(),
        "on screen"
    );
    assert_eq!(s.wanted_products(), None, "read once");

    // Emptied in the prompt instead, letter by letter: the product selected when `/`
    // opened is kept, not the first hit of what is left of the word.
    keys(&mut s, "/ket");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let mut page = fixtures::products_page(1_000, s.wanted_products().unwrap());
    page.total = 300;
    page.lines = (700..900).map(fixtures::product_line).collect();
    s.on_products(page);
    keys(&mut s, "jjjjj");
    let found = s.products.selected_line().unwrap().asin;
    keys(&mut s, "/");
    for _ in 0..2 {
        key(&mut s, KeyCode::Backspace, KeyModifiers::NONE);
        // Each shorter word's page, its first hit selected meanwhile.
        let q = s.wanted_products().unwrap();
        s.on_products(fixtures::products_page(1_000, q));
        assert_ne!(s.products.selected_line().unwrap().asin, found);
    }
    key(&mut s, KeyCode::Backspace, KeyModifiers::NONE);
    assert_eq!(s.products.search, "");
    let q = s.wanted_products().unwrap();
    assert_eq!(q.seek, Some(found));
}

/// Tab on the `:` line completes only what this console offers: no refresh where nothing
/// fetches, no watchlist change where it is read-only.
#[test]
fn completion_offers_only_what_this_console_does() {
    let typed = |fetches: bool, read_only: bool, text: &str| {
        let mut s = fixtures::loaded(20, (120, 40));
        s.session.fetches = fetches;
        s.session.read_only = read_only;
        keys(&mut s, &format!(":{text}"));
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
        match &s.overlay {
            Some(Overlay::Prompt(p)) => p.input.clone(),
            other => panic!("no prompt: {other:?}"),
        }
    };
    assert_eq!(typed(true, false, "refr"), "refresh ");
    assert_eq!(typed(false, false, "refr"), "refr");
    assert_eq!(typed(true, false, "watc"), "watch ");
    assert_eq!(typed(true, true, "watc"), "watc");
}

/// A row that could not be explained (computed under other settings than this process
/// has) shows why in the detail, and its lines are not made up.
#[test]
fn an_unexplained_row_says_why_in_the_detail() {
    let mut s = fixtures::loaded(5, (200, 60));
    let row = s.selected_row().unwrap().clone();
    let mut d = fixtures::detail(&row);
    let o = d.opportunity.as_mut().unwrap();
    o.breakdown.lines.clear();
    o.breakdown.unexplained = Some(
        "Not explained: computed again here, its net profit is €3.80 where the row has €4.12."
            .into(),
    );
    s.on_detail(d);
    let fx = s.apply(Action::Copy(CopyTarget::Breakdown));
    let [Effect::Copy { text, .. }] = fx.as_slice() else {
        panic!("expected a copy, got {fx:?}");
    };
    assert!(
        text.contains("Not explained: computed again here, its net profit is €3.80"),
        "{text}"
    );
    assert!(!text.contains("Output VAT"), "{text}");
}

/// `d` on a row of a product the watchlist (read in the last 30 s) does not hold says so
/// instead of asking: the row of a product just removed stays in the table.
#[test]
fn removing_a_product_just_removed_says_so_instead_of_asking() {
    use arbdesk::store::{WatchEntry, WatchSource};
    let mut s = fixtures::loaded(50, (200, 60));
    let asin = s.selected_row().unwrap().key.asin;
    let entry = |a| WatchEntry {
        asin: a,
        source: WatchSource::User,
        added_at: s.now,
        oldest_fetch: Some(s.now),
        fetched: Market::ALL.to_vec(),
    };
    let watched = entry(asin);
    // Read with the product on it: `d` asks, and `a` says it is watched.
    let at = s.now;
    s.on_watchlist(std::slice::from_ref(&watched), at);
    keys(&mut s, "a");
    assert!(s.overlay.is_none());
    let toast = &s.toasts.back().unwrap().text;
    assert!(toast.contains("on the watchlist already"), "{toast}");
    assert_eq!(keys(&mut s, "d"), vec![Effect::LoadWatchlist]);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    assert_eq!(keys(&mut s, "y"), vec![Effect::WatchRemove(vec![asin])]);
    // The removal read the watchlist again: without it, nothing to ask.
    let at = s.now;
    s.on_watchlist(&[], at);
    assert!(keys(&mut s, "d").is_empty());
    assert!(s.overlay.is_none(), "nothing to ask");
    let toast = &s.toasts.back().unwrap().text;
    assert!(
        toast.contains(&format!("{asin} is not on the watchlist")),
        "{toast}"
    );
    // A read older than 30 s decides nothing (another process may have added it since):
    // `d` asks and reads it again, and the read takes the question back.
    let later = s.now + Duration::seconds(31);
    s.on_tick(later);
    assert_eq!(keys(&mut s, "d"), vec![Effect::LoadWatchlist]);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    let at = s.now;
    s.on_watchlist(&[], at);
    assert!(s.overlay.is_none(), "nothing left to ask");
    let toast = &s.toasts.back().unwrap().text;
    assert!(
        toast.contains("is not on the watchlist (a adds it)"),
        "{toast}"
    );
    // Read with it on again: the question stands.
    s.on_tick(later + Duration::seconds(31));
    keys(&mut s, "d");
    let at = s.now;
    s.on_watchlist(std::slice::from_ref(&watched), at);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    // A read that started before the one shown is older than it: dropped.
    s.on_watchlist(&[], at - Duration::seconds(1));
    assert!(
        matches!(s.overlay, Some(Overlay::Confirm(_))),
        "an older read"
    );
    keys(&mut s, "n");
    // ASINs named on the command line are asked about as named, whatever a read says.
    s.apply(Action::WatchRemove(vec![asin]));
    s.on_watchlist(&[], at);
    match &s.overlay {
        Some(Overlay::Confirm(c)) => assert!(c.question.contains(&asin.to_string())),
        other => panic!("{other:?}"),
    }
}

/// With rows marked, `d` asks about their products and a read narrows the question to
/// those watched; `a` offers those not watched, and says so when every mark is hidden.
#[test]
fn marked_rows_are_asked_about_and_offered_by_what_the_watchlist_holds() {
    use arbdesk::store::{WatchEntry, WatchSource};
    let mut s = fixtures::loaded(50, (200, 60));
    let marked = mark_first_and_third(&mut s);
    assert_eq!(marked.len(), 2, "two products marked");
    let entry = WatchEntry {
        asin: marked[1],
        source: WatchSource::User,
        added_at: s.now,
        oldest_fetch: Some(s.now),
        fetched: Market::ALL.to_vec(),
    };
    assert_eq!(keys(&mut s, "d"), vec![Effect::LoadWatchlist]);
    let at = s.now;
    s.on_watchlist(std::slice::from_ref(&entry), at);
    let Some(Overlay::Confirm(c)) = &s.overlay else {
        panic!("{:?}", s.overlay);
    };
    assert!(
        c.question.contains(&marked[1].to_string()) && !c.question.contains(&marked[0].to_string()),
        "{}",
        c.question
    );
    assert_eq!(
        keys(&mut s, "y"),
        vec![Effect::WatchRemove(vec![marked[1]])]
    );
    keys(&mut s, "a");
    match &s.overlay {
        Some(Overlay::Prompt(p)) => assert_eq!(p.input, format!("watch add {}", marked[0])),
        other => panic!("{other:?}"),
    }
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    // Every marked row hidden by a filter: nothing is offered.
    s.apply(Action::Filter(Some("asin=B0NOTHERE0".into())));
    keys(&mut s, "a");
    assert!(s.overlay.is_none());
    let toast = &s.toasts.back().unwrap().text;
    assert!(
        toast.starts_with("Nothing offered: the 2 marked rows are hidden"),
        "{toast}"
    );
}

/// `:toggle` away from the sidebar says where it works, instead of changing an item the
/// operator does not see; in the sidebar a side keeps one market, and says so.
#[test]
fn toggle_works_in_the_sidebar_only_and_a_side_keeps_a_market() {
    let mut s = fixtures::loaded(20, (120, 40));
    let before = (s.basis, s.buy.clone(), s.sell.clone(), s.limit);
    assert!(s.apply(Action::Toggle).is_empty());
    let toast = &s.toasts.back().unwrap().text;
    assert!(toast.contains("Tab focuses the sidebar"), "{toast}");
    assert_eq!((s.basis, s.buy.clone(), s.sell.clone(), s.limit), before);

    let _ = s.apply(Action::Markets(
        arbdesk::tui::action::Side::Buy,
        vec![Market::DE],
    ));
    s.focus = Focus::Sidebar;
    // The sidebar: margin, basis, then the buy markets in the tracked order.
    s.sidebar_cursor = 2 + Market::ALL.iter().position(|m| *m == Market::DE).unwrap();
    let _ = s.apply(Action::Toggle);
    assert_eq!(s.buy, [Market::DE], "kept");
    let toast = &s.toasts.back().unwrap().text;
    assert!(toast.contains("DE is the last market to buy in"), "{toast}");
}

/// Saved markets that are what a start has anyway (all tracked) are restored without a
/// word; others are said, since they narrow the table.
#[test]
fn restored_markets_are_said_only_when_they_narrow_the_table() {
    let mut s = fixtures::loaded(20, (120, 40));
    let toasts = s.toasts.len();
    let refused = s.restore(&["buy uk,de,fr,it,es".into(), "sell uk,de,fr,it,es".into()]);
    assert!(refused.is_empty());
    assert_eq!(s.toasts.len(), toasts, "nothing said");
    let _ = s.restore(&["sell de".into()]);
    assert_eq!(s.sell, [Market::DE]);
    let toast = &s.toasts.back().unwrap().text;
    assert!(toast.contains("Selling in DE"), "{toast}");
}

/// `a` with no recent read of the watchlist offers the row's product and reads the
/// watchlist; the read narrows the offer while it is untouched, and takes it back when
/// the product is watched already.
#[test]
fn a_without_a_recent_watchlist_read_reads_it_and_narrows_the_offer() {
    use arbdesk::store::{WatchEntry, WatchSource};
    let mut s = fixtures::loaded(50, (200, 60));
    let asin = s.selected_row().unwrap().key.asin;
    assert_eq!(keys(&mut s, "a"), vec![Effect::LoadWatchlist]);
    assert!(
        matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.input == format!("watch add {asin}"))
    );
    let at = s.now;
    let watched = WatchEntry {
        asin,
        source: WatchSource::User,
        added_at: at,
        oldest_fetch: Some(at),
        fetched: Market::ALL.to_vec(),
    };
    s.on_watchlist(std::slice::from_ref(&watched), at);
    assert!(s.overlay.is_none(), "nothing left to offer");
    let toast = &s.toasts.back().unwrap().text;
    assert!(toast.contains("on the watchlist already"), "{toast}");

    // A line edited since it opened is the operator's: a read leaves it alone.
    let mut s = fixtures::loaded(50, (200, 60));
    keys(&mut s, "a");
    keys(&mut s, " B0ZZZZZZZ1");
    s.on_watchlist(std::slice::from_ref(&watched), at);
    assert!(
        matches!(&s.overlay, Some(Overlay::Prompt(p)) if p.input == format!("watch add {asin} B0ZZZZZZZ1")),
        "{:?}",
        s.overlay
    );
}

/// Scrolled up in the log view, new lines do not move the text read: the distance from the
/// newest line grows by the lines added that the view shows (debug lines hidden at info do
/// not count). Following, it stays at the newest.
#[test]
fn the_log_view_scrolled_up_stays_on_its_lines() {
    let mut s = fixtures::loaded(5, (120, 40));
    let line = |n: u32, level: &str| format!("2026-12-06T15:00:{n:02}Z {level} arbdesk: line {n}");
    s.on_logs((0..40).map(|n| line(n, " INFO")).collect());
    assert_eq!(s.log_scroll, 0);
    s.log_scroll = 3;
    let mut more: Vec<String> = (0..40).map(|n| line(n, " INFO")).collect();
    more.extend([line(40, " INFO"), line(41, " DEBUG"), line(42, " WARN")]);
    s.on_logs(more.clone());
    assert_eq!(s.log_scroll, 5, "two of the three shown at info");
    s.log_scroll = 0;
    more.push(line(43, " INFO"));
    s.on_logs(more);
    assert_eq!(s.log_scroll, 0, "following");
}
