//! Frames drawn into ratatui's `TestBackend` and compared with reviewed snapshots
//! (`tests/it/console/snapshots/`). Fixtures use a fixed clock and no hyperlinks, so a frame
//! is the same on every machine. Text snapshots hold symbols; styles are asserted on cells.

use arbdesk::domain::Market;
use arbdesk::tui::action::{Action, Column, SortBy, View};
use arbdesk::tui::fixtures;
use arbdesk::tui::keymap::Keymap;
use arbdesk::tui::model::{Feed, ProductDetail};
use arbdesk::tui::state::{Effect, UiState};
use arbdesk::tui::theme::Theme;
use arbdesk::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;

/// One frame of `s` in `theme`, as the console draws it after each key.
pub(super) fn draw(s: &UiState, theme: &str) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    let keymap = Keymap::load("default", None);
    term.draw(|f| ui::render(f, s, &Theme::builtin(theme), &keymap))
        .unwrap();
    term.backend().buffer().clone()
}

fn text(s: &UiState) -> String {
    let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    let keymap = Keymap::load("default", None);
    term.draw(|f| ui::render(f, s, &Theme::builtin("mono"), &keymap))
        .unwrap();
    term.backend().to_string()
}

fn store_down(mut s: UiState) -> UiState {
    s.on_feed(Feed {
        error: Some("database is locked (SQLITE_BUSY); retrying".into()),
        at: Some(fixtures::now()),
        ..Feed::default()
    });
    s.store_health = Some(arbdesk::component::ComponentHealth::down(
        "sqlite",
        "database is locked (SQLITE_BUSY)",
    ));
    s.status.keepa.errors = 4;
    s.status.keepa.last_success = None;
    s.status.keepa.last_error = Some("/product: HTTP 502 Bad Gateway".into());
    s
}

#[test]
fn dashboard_loaded_wide() {
    insta::assert_snapshot!(text(&fixtures::loaded(300, (200, 60))));
}

#[test]
fn dashboard_loaded_medium() {
    insta::assert_snapshot!(text(&fixtures::loaded(300, (120, 40))));
}

#[test]
fn dashboard_loaded_narrow() {
    insta::assert_snapshot!(text(&fixtures::loaded(300, (80, 24))));
}

#[test]
fn dashboard_empty_narrow_and_wide() {
    insta::assert_snapshot!("empty_80x24", text(&fixtures::empty((80, 24))));
    insta::assert_snapshot!("empty_200x60", text(&fixtures::empty((200, 60))));
}

#[test]
fn dashboard_error_narrow_and_wide() {
    insta::assert_snapshot!("error_80x24", text(&store_down(fixtures::empty((80, 24)))));
    // With rows on screen, a failed refresh keeps them and says so.
    insta::assert_snapshot!(
        "error_kept_rows_200x60",
        text(&store_down(fixtures::loaded(300, (200, 60))))
    );
}

#[test]
fn detail_drawer_narrow() {
    let mut s = fixtures::loaded(300, (80, 24));
    s.apply(Action::Open);
    insta::assert_snapshot!(text(&s));
}

/// Under a `/` filter the Opportunities and Best gross tiles describe the rows it matches,
/// whichever kind of term matched them (a field term is matched in the console, a word
/// goes to the store too): the same rows, the same tiles.
#[test]
fn tiles_describe_the_rows_a_filter_matches() {
    let tiles = |s: &UiState| -> Vec<String> {
        let t = text(s);
        let line = t.lines().nth(2).unwrap().to_string();
        // A line of the text form is quoted.
        line.split('│')
            .map(|v| v.trim_matches(|c: char| c == '"' || c.is_whitespace()))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut s = fixtures::loaded(50, (160, 45));
    assert_eq!(tiles(&s)[1], "50");
    // Rows 0 to 2 are the first product's routes, 5.00, 8.70 and 12.40 % gross.
    let asin = s.feed.rows[0].key.asin;
    let query = match s
        .apply(Action::Filter(Some(format!("asin={asin}"))))
        .as_slice()
    {
        [Effect::Query(q)] => q.clone(),
        other => panic!("expected a query, got {other:?}"),
    };
    // While the store answers, the loaded rows give a lower bound, as the title says.
    assert_eq!(tiles(&s)[1], "3+");
    let mut answer: Feed = (*s.feed).clone();
    answer.query = Some(query);
    s.on_feed(answer);
    let filtered = tiles(&s);
    assert_eq!(filtered[1], "3", "{filtered:?}");
    assert_eq!(filtered[3], "12.40 %", "{filtered:?}");
    s.apply(Action::Filter(Some(String::new())));
    assert_eq!(tiles(&s)[1], "50");
}

/// With a row limit and a filter, the title reads as a sentence: the count, the filter it
/// counts, how many of them are ranked, then (at the last row) what the limit holds back.
#[test]
fn the_title_says_the_filter_before_what_the_limit_holds_back() {
    let mut s = fixtures::loaded(300, (160, 45));
    s.apply(Action::Limit(Some(50)));
    // The filter, and the store's answer to the query it sends (the rows loaded).
    let filter = |s: &mut UiState, text: &str| {
        let query = match s.apply(Action::Filter(Some(text.into()))).as_slice() {
            [Effect::Query(q)] => q.clone(),
            other => panic!("expected a query, got {other:?}"),
        };
        let mut answer: Feed = (*s.feed).clone();
        answer.query = Some(query);
        s.on_feed(answer);
    };
    filter(&mut s, "src=uk");
    s.apply(Action::Move(arbdesk::tui::action::Motion::Bottom));
    let t = text(&s);
    let title = t.lines().nth(4).unwrap();
    assert!(
        title.contains("matching /src=uk · 46 ranked · :limit all shows"),
        "{title}"
    );
    // Every row it matches ranked: said so, not left out (which read as unknown).
    filter(&mut s, "ranked");
    let t = text(&s);
    let title = t.lines().nth(4).unwrap();
    assert!(title.contains("matching /ranked · all ranked"), "{title}");
}

/// A sort the store cannot make covers the rows loaded: with more in the store, the title
/// says so, whole where it fits and shortened where it does not (cut at the border,
/// "sorted" would read as its opposite).
#[test]
fn a_sort_over_the_loaded_rows_says_so() {
    for (size, says) in [
        ((200, 45), "· sorted within the 300 loaded"),
        ((64, 20), "· partly sorted"),
    ] {
        let mut s = fixtures::loaded(300, size);
        let query = s
            .apply(Action::Sort(SortBy::Column(Column::Title, None)))
            .into_iter()
            .find_map(|e| match e {
                Effect::Query(q) => Some(q),
                _ => None,
            })
            .expect("a sort asks the store");
        let mut answer: Feed = (*s.feed).clone();
        answer.query = Some(query);
        answer.total = 148_448;
        s.on_feed(answer);
        let t = text(&s);
        let title = t
            .lines()
            .find(|l| l.contains("Opportunities 300 of 148,448"))
            .unwrap_or_else(|| panic!("{t}"));
        assert!(title.contains(says), "{size:?}: {title}");
    }
}

/// A toast over the open drawer goes over the tiles (three rows, so three lines at most):
/// the P&L being read stays in view.
#[test]
fn toasts_over_the_detail_drawer_leave_it_in_view() {
    let mut s = fixtures::loaded(300, (80, 24));
    s.apply(Action::Open);
    let before = text(&s);
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    s.toast_info("Refreshed B0D1XD1ZV3: 3 routes recomputed");
    let one = text(&s);
    let (b, a) = (lines(&before), lines(&one));
    assert!(
        a[2].contains("Refreshed B0D1XD1ZV3: 3 routes recomputed"),
        "{one}"
    );
    assert_eq!(a[4..], b[4..], "every row under the tiles as it was: {one}");
    // A long one wraps onto the three rows, cut at the third.
    s.toast_error(format!(
        "Could not copy the P&L: {}",
        "the terminal drops it; ".repeat(12)
    ));
    let long = text(&s);
    let a = lines(&long);
    assert!(a[1].contains("Could not copy the P&L:"), "{long}");
    assert!(a[3].contains('…'), "cut at the third line: {long}");
    assert_eq!(a[4..], b[4..], "{long}");
}

#[test]
fn sidebar_focused_narrow() {
    let mut s = fixtures::loaded(300, (80, 24));
    s.apply(Action::Focus(false));
    insta::assert_snapshot!(text(&s));
}

/// On a short screen the sidebar scrolls to keep its cursor in view: the last entry
/// (Rows) is on screen, selected, when the cursor is on it.
#[test]
fn sidebar_cursor_stays_in_view_on_a_short_screen() {
    let mut s = fixtures::loaded(300, (60, 20));
    s.apply(Action::Focus(false));
    assert_eq!(s.focus, arbdesk::tui::state::Focus::Sidebar);
    let before = text(&s);
    assert!(
        !before.contains("Rows"),
        "Rows starts below the edge: {before}"
    );
    for _ in 0..20 {
        s.apply(Action::Move(arbdesk::tui::action::Motion::By(1)));
    }
    let buf = draw(&s, "mono");
    let row = (0..buf.area.height)
        .find(|&y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .contains("Rows")
        })
        .expect("Rows is on screen");
    let x = (0..buf.area.width)
        .find(|&x| buf[(x, row)].symbol() == "R")
        .unwrap();
    assert!(
        buf[(x, row)].modifier.contains(Modifier::REVERSED),
        "Rows is the selected line"
    );
}

#[test]
fn help_overlay() {
    let mut s = fixtures::loaded(300, (120, 40));
    s.apply(Action::Help);
    insta::assert_snapshot!(text(&s));
}

#[test]
fn health_view_and_faults_only() {
    let mut s = store_down(fixtures::loaded(300, (120, 30)));
    s.apply(Action::Goto(View::Health));
    insta::assert_snapshot!("health_view", text(&s));
    s.apply(Action::FaultsOnly);
    insta::assert_snapshot!("health_faults_only", text(&s));
}

/// The health view has a row per market: listed products, the oldest Keepa update and how
/// many are stale; a market with stale data is degraded, and the dashboard's panel shows
/// it too (fresh markets only in the health view).
#[test]
fn the_health_view_says_how_current_each_market_is() {
    use arbdesk::store::MarketFreshness;
    let mut s = fixtures::loaded(300, (160, 45));
    let now = fixtures::now();
    s.freshness = Market::ALL
        .iter()
        .map(|&market| MarketFreshness {
            market,
            listed: if market == Market::ES { 0 } else { 1200 },
            oldest: (market != Market::ES).then(|| now - chrono::Duration::minutes(95)),
            stale: if market == Market::IT { 7 } else { 0 },
        })
        .collect();
    let dashboard = text(&s);
    assert!(dashboard.contains("market IT"), "{dashboard}");
    assert!(!dashboard.contains("market DE"), "{dashboard}");
    s.apply(Action::Goto(View::Health));
    let screen = text(&s);
    let row = |m: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!("market {m}")))
            .unwrap_or_else(|| panic!("no row for {m}:\n{screen}"))
            .to_string()
    };
    assert!(row("IT").contains("degraded"), "{}", row("IT"));
    assert!(
        row("IT")
            .contains("1,200 listed · oldest Keepa update 1h 35m ago · 7 stale (older than 24h)"),
        "{}",
        row("IT")
    );
    assert!(row("DE").contains(" ok "), "{}", row("DE"));
    assert!(row("ES").contains("nothing listed yet"), "{}", row("ES"));
}

/// A console beside the workers (`--role api`) shows a row per process whose report its
/// pipeline row merges, with that process's own verdict: a stalled one is degraded, and
/// the dashboard's panel shows it too (healthy ones only in the health view).
#[test]
fn the_health_view_has_a_row_per_reporting_process() {
    use arbdesk::component::ComponentHealth;
    use arbdesk::pipeline::peers::Peer;
    let mut s = fixtures::loaded(300, (160, 45));
    let now = fixtures::now();
    let peer = |id: &str, roles: &str, health: ComponentHealth| Peer {
        id: id.into(),
        roles: roles.into(),
        updated_at: now - chrono::Duration::seconds(4),
        pipeline: health,
    };
    s.status.peers = vec![
        peer(
            "ingest-1:7",
            "ingest",
            ComponentHealth::ok("pipeline", "running; ingest 8.0/s"),
        ),
        peer(
            "worker-2:9",
            "process",
            ComponentHealth::degraded("pipeline", "stalled: 40 message(s) waiting"),
        ),
    ];
    // A process's row starts with its id (other rows may name it in their detail).
    let row_of = |screen: &str, id: &str| {
        screen
            .lines()
            .find(|l| l.split(['│', '┃']).any(|cell| cell.starts_with(id)))
            .map(str::to_string)
    };
    let dashboard = text(&s);
    assert!(row_of(&dashboard, "worker-2:9").is_some(), "{dashboard}");
    assert!(row_of(&dashboard, "ingest-1:7").is_none(), "{dashboard}");
    s.apply(Action::Goto(View::Health));
    let screen = text(&s);
    let row =
        |id: &str| row_of(&screen, id).unwrap_or_else(|| panic!("no row for {id}:\n{screen}"));
    assert!(
        row("worker-2:9").contains("degraded") && row("worker-2:9").contains("stalled: 40"),
        "{}",
        row("worker-2:9")
    );
    assert!(
        row("ingest-1:7").contains(" ok ") && row("ingest-1:7").contains("ingest"),
        "{}",
        row("ingest-1:7")
    );
}

/// A health view taller than the terminal scrolls, and its title says what is above and
/// below; the dashboard's panel says where to see the rest.
#[test]
fn the_health_view_scrolls_on_a_small_terminal() {
    use arbdesk::store::MarketFreshness;
    use arbdesk::tui::action::Motion;
    let mut s = fixtures::loaded(300, (80, 24));
    s.freshness = Market::ALL
        .iter()
        .map(|&market| MarketFreshness {
            market,
            listed: 10,
            oldest: Some(fixtures::now()),
            stale: 0,
        })
        .collect();
    s.apply(Action::Goto(View::Health));
    let top = text(&s);
    assert!(top.contains("more (j/k scroll)"), "{top}");
    assert!(!top.contains("market ES"), "{top}");
    s.apply(Action::Move(Motion::Bottom));
    let bottom = text(&s);
    assert!(bottom.contains("market ES"), "{bottom}");
    assert!(bottom.contains("above"), "{bottom}");
    assert!(!bottom.contains("more (j/k"), "{bottom}");
    s.apply(Action::Move(Motion::Top));
    assert_eq!(text(&s), top);
}

/// The health view says how fast the console draws on this terminal, once it has drawn.
#[test]
fn the_health_view_shows_frame_times() {
    let mut s = fixtures::loaded(300, (120, 30));
    s.apply(Action::Goto(View::Health));
    assert!(!text(&s).contains("frame time"), "no frames drawn yet");
    for ms in [2, 1, 3, 1, 9] {
        s.frames.record(std::time::Duration::from_millis(ms));
    }
    let console = |s: &UiState| {
        let screen = text(s);
        screen
            .lines()
            .find(|l| l.contains("console"))
            .unwrap()
            .to_string()
    };
    let line = console(&s);
    assert!(
        line.contains("120×30 · frame time p50 2.0 ms, p99 9.0 ms of the last 5"),
        "{line}"
    );
    // Over the 120 kept, one slow frame is past the 99th percentile.
    for ms in std::iter::repeat_n(1, 100)
        .chain(std::iter::repeat_n(2, 19))
        .chain([50])
    {
        s.frames.record(std::time::Duration::from_millis(ms));
    }
    let line = console(&s);
    assert!(
        line.contains("frame time p50 1.0 ms, p99 2.0 ms of the last 120"),
        "{line}"
    );
}

/// The health view draws the token balance of the last hour, one bar a minute; a minute
/// without a sample holds the balance before it, and older minutes drop off.
#[test]
fn the_health_view_shows_the_token_balance_of_the_last_hour() {
    use arbdesk::tui::state::TokenTrail;
    let t0 = fixtures::now();
    let mut trail = TokenTrail::default();
    trail.record(t0, 300);
    trail.record(t0 + chrono::Duration::seconds(30), 280); // same minute: the last one counts
    trail.record(t0 + chrono::Duration::minutes(3), 100);
    assert_eq!(trail.per_minute(), vec![280, 280, 280, 100]);
    for m in 4..90 {
        trail.record(t0 + chrono::Duration::minutes(m), m);
    }
    let v = trail.per_minute();
    assert_eq!(v.len(), TokenTrail::MINUTES);
    assert_eq!((v[0], v[59]), (30, 89));

    let mut s = fixtures::loaded(300, (120, 40));
    s.tokens = TokenTrail::default();
    for m in 0..10 {
        s.tokens
            .record(t0 + chrono::Duration::minutes(m), 100 + 10 * m);
    }
    s.apply(Action::Goto(View::Health));
    let screen = text(&s);
    assert!(
        screen.contains("Tokens · since 14:30 · now 190 · low 100 · high 190 · +20/min"),
        "{screen}"
    );
    // Ten bars, the newest (the highest) at the right edge.
    let bars = screen.lines().nth(4).unwrap();
    assert!(
        bars.trim_end_matches(['"', '│', ' ']).ends_with('█'),
        "{bars}"
    );
}

/// A watched market where the product is not listed, and one not fetched yet, have their
/// rows in the detail's market table, told apart; the route's links say how old Keepa's
/// data is.
#[test]
fn the_detail_lists_unlisted_markets_and_the_age_of_keepa_data() {
    let mut s = fixtures::loaded(30, (200, 60));
    let mut d = s.detail.clone().unwrap();
    let key = d.key;
    let mut others = arbdesk::domain::Market::ALL
        .into_iter()
        .filter(|m| *m != key.buy && *m != key.sell);
    let (gone, pending) = (others.next().unwrap(), others.next().unwrap());
    let p = d.product.as_mut().unwrap();
    p.markets.remove(&gone);
    p.markets.remove(&pending);
    p.not_listed = Some(vec![gone]);
    s.on_detail(d);
    let screen = text(&s);
    let row = |what: &str| {
        screen
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no '{what}' row:\n{screen}"))
    };
    assert!(
        row("not listed").contains(&format!("│{} ", gone.code())),
        "{screen}"
    );
    assert!(
        row("not fetched yet").contains(&format!("│{} ", pending.code())),
        "{screen}"
    );
    assert!(screen.contains("· Keepa 0s ago"), "{screen}");
    // A store that cannot tell the two apart (an older Elasticsearch document) says
    // "not listed" for both, as before.
    let mut d = s.detail.clone().unwrap();
    d.product.as_mut().unwrap().not_listed = None;
    s.on_detail(d);
    let older = text(&s);
    assert!(!older.contains("not fetched yet"), "{older}");
    assert_eq!(older.matches("not listed").count(), 2, "{older}");
}

#[test]
fn log_view() {
    let mut s = fixtures::loaded(30, (100, 20));
    s.logs = (0..40)
        .map(|i| {
            let level = ["INFO", "WARN", "ERROR", "DEBUG"][i % 4];
            format!(
                "2026-03-02T14:29:{:02}Z {level} arbdesk::pipeline: line {i}",
                i % 60
            )
        })
        .collect();
    s.apply(Action::Goto(View::Logs));
    s.apply(Action::LogLevel(1));
    insta::assert_snapshot!(text(&s));
}

/// Tile titles take shorter labels where the short ones would be cut mid-word.
#[test]
fn narrow_tiles_take_labels_that_fit() {
    let screen = text(&fixtures::loaded(30, (60, 20)));
    let top: String = screen.lines().take(3).collect();
    for label in ["ASINs", "Opps", "Mkts", "Best", "Tokens", "Rate"] {
        assert!(top.contains(&format!(" {label} ")), "{label}: {screen}");
    }
    assert!(
        !top.contains("Product") && !top.contains("Top gro"),
        "{screen}"
    );
}

/// The throughput tile says over what span its rate runs: since start in the first minute
/// (a start-up burst over a second is no per-minute rate), the last minute after that.
#[test]
fn the_rate_tile_says_its_span() {
    let mut s = fixtures::loaded(30, (200, 40));
    s.status.started_at = Some(s.now - chrono::Duration::seconds(5));
    let screen = text(&s);
    assert!(screen.contains("updates/s, since start"), "{screen}");
    s.status.started_at = Some(s.now - chrono::Duration::seconds(61));
    let screen = text(&s);
    assert!(screen.contains("updates/s, 1 min"), "{screen}");
    // Narrow tiles keep the span in short.
    s.on_resize(80, 24);
    let screen = text(&s);
    assert!(screen.contains("/s 1m"), "{screen}");
    s.status.started_at = Some(s.now - chrono::Duration::seconds(5));
    let screen = text(&s);
    assert!(screen.contains("/s avg"), "{screen}");
}

/// Without the sidebar, markets switched off (restored from a saved session, say) show in
/// the table's title beside the minimum margin; with all of them on, nothing is said.
#[test]
fn narrow_screens_say_which_markets_are_off() {
    use arbdesk::domain::Market::{DE, IT};
    let mut s = fixtures::loaded(30, (80, 24));
    let title = |s: &arbdesk::tui::state::UiState| {
        let screen = text(s);
        let line = screen.lines().find(|l| l.contains(" Opportunities "));
        line.unwrap_or_default().to_string()
    };
    assert!(
        !title(&s).contains("· buy") && !title(&s).contains("· sell"),
        "{}",
        text(&s)
    );
    s.buy = vec![DE, IT];
    let t = title(&s);
    assert!(
        t.contains("· buy DE,IT") && !t.contains("· sell"),
        "{}",
        text(&s)
    );
}

/// A live start with an empty watchlist and discovery off fetches nothing: the table says
/// so and what to do, instead of "fetching".
#[test]
fn an_empty_watchlist_without_discovery_says_what_to_do() {
    let mut s = fixtures::empty((100, 24));
    s.on_feed(Feed {
        at: Some(fixtures::now()),
        ..Feed::default()
    });
    let plan = |discovery| arbdesk::pipeline::RefreshPlan {
        tokens_per_product: 1,
        interval_secs: 3600,
        discovery,
        ..Default::default()
    };
    s.status.refresh = Some(plan(true));
    assert!(text(&s).contains("fetching the watchlist"), "{}", text(&s));
    s.status.refresh = Some(plan(false));
    let screen = text(&s);
    assert!(
        screen.contains("the watchlist is empty and discovery is off"),
        "{screen}"
    );
}

/// A store that is down shows in the header of every screen, not only in the health panel.
#[test]
fn a_store_that_is_down_shows_in_the_header() {
    let mut s = fixtures::loaded(30, (100, 24));
    assert!(!text(&s).contains("STORE DOWN"));
    s.store_health = Some(arbdesk::component::ComponentHealth::down(
        "sqlite",
        "disk I/O error",
    ));
    let top: String = text(&s).lines().take(1).collect();
    assert!(top.contains(" STORE DOWN · g h "), "{top}");
    // One probe past its deadline is a busy store; two in a row, a dead one.
    let slow = || {
        arbdesk::component::ComponentHealth::down("store", arbdesk::tui::state::STORE_PROBE_TIMEOUT)
    };
    s.on_store_health(arbdesk::component::ComponentHealth::ok("sqlite", "WAL"));
    s.on_store_health(slow());
    assert!(!text(&s).contains("STORE DOWN"), "{}", text(&s));
    s.on_store_health(slow());
    assert!(text(&s).contains("STORE DOWN"), "{}", text(&s));
}

/// Keepa requests waiting for tokens show in the header on every screen, not only in the
/// health panel.
#[test]
fn requests_waiting_for_tokens_show_in_the_header() {
    let mut s = fixtures::loaded(30, (120, 24));
    s.status.keepa.tokens_left = Some(44);
    let top: String = text(&s).lines().take(1).collect();
    assert!(
        top.contains("tokens 44 ") && !top.contains("waiting"),
        "{top}"
    );
    s.status.keepa.waiting_until = Some(s.now + chrono::Duration::seconds(32));
    let top: String = text(&s).lines().take(1).collect();
    assert!(
        top.contains("tokens 44 ") && top.contains(" · waiting 32s"),
        "{top}"
    );
}

/// The header's balance is the one a refresh's confirmation counts: refilled by the minute
/// since Keepa last told it, and marked as reckoned once that was long ago.
#[test]
fn the_header_counts_the_token_refills_since_the_balance_was_seen() {
    let mut s = fixtures::loaded(30, (120, 24));
    let k = &mut s.status.keepa;
    k.tokens_left = Some(44);
    k.refill_rate = Some(20);
    k.refill_in_ms = Some(0);
    k.tokens_seen_at = Some(s.now - chrono::Duration::seconds(30));
    let expected = k.tokens_at(s.now);
    assert_eq!(expected, Some(64), "one refill since");
    let top: String = text(&s).lines().take(1).collect();
    assert!(top.contains("tokens 64 "), "{top}");
    s.status.keepa.tokens_seen_at = Some(s.now - chrono::Duration::minutes(5));
    let top: String = text(&s).lines().take(1).collect();
    assert!(top.contains("tokens ~164 (seen 5m ago)"), "{top}");
}

/// An empty store says why when Keepa is the reason nothing comes, instead of "fetching".
#[test]
fn an_empty_store_says_when_keepa_is_why() {
    let mut s = fixtures::empty((100, 24));
    s.on_feed(Feed {
        at: Some(fixtures::now()),
        ..Feed::default()
    });
    assert!(text(&s).contains("fetching the watchlist"), "{}", text(&s));
    s.status.keepa.errors = 3;
    s.status.keepa.last_error = Some("/product: connection refused".into());
    let screen = text(&s);
    assert!(
        screen.contains("Keepa has not answered (/product: connection refused)"),
        "{screen}"
    );
    s.status.keepa.stopped = Some("Keepa rejected the API key".into());
    let screen = text(&s);
    assert!(
        screen.contains("Keepa requests are stopped: Keepa rejected the API key"),
        "{screen}"
    );
}

/// Scrolled to the top, the log view shows its oldest page whole (not an empty pane), and
/// a line down from there moves the view.
#[test]
fn the_top_of_the_log_is_its_oldest_page() {
    let mut s = fixtures::loaded(30, (100, 20));
    s.logs = (0..200)
        .map(|i| format!("2026-03-02T14:29:00Z INFO arbdesk::pipeline: line {i}"))
        .collect();
    s.apply(Action::Goto(View::Logs));
    s.apply(Action::Move(arbdesk::tui::action::Motion::Top));
    let screen = text(&s);
    assert!(
        screen.contains("line 0\n") || screen.contains("line 0 "),
        "{screen}"
    );
    assert!(!screen.contains("line 199"), "{screen}");
    s.apply(Action::Move(arbdesk::tui::action::Motion::By(1)));
    let screen = text(&s);
    assert!(
        !screen.contains("line 0 ") && screen.contains("line 1 "),
        "{screen}"
    );
    s.apply(Action::Move(arbdesk::tui::action::Motion::Bottom));
    assert!(text(&s).contains("line 199"));

    // Lines that wrap to two rows and one level hidden: the top is still the first line
    // shown, and one step down leaves it.
    let long = "x".repeat(120);
    s.logs = (0..200)
        .map(|i| match i % 3 {
            0 => format!("2026-03-02T14:29:00Z DEBUG arbdesk::pipeline: hidden {i}"),
            _ => format!("2026-03-02T14:29:00Z INFO arbdesk::pipeline: line {i} {long}"),
        })
        .collect();
    s.apply(Action::Move(arbdesk::tui::action::Motion::Top));
    let screen = text(&s);
    assert!(screen.contains("line 1 "), "{screen}");
    s.apply(Action::Move(arbdesk::tui::action::Motion::By(1)));
    let screen = text(&s);
    assert!(
        !screen.contains("line 1 ") && screen.contains("line 2 "),
        "{screen}"
    );
}

/// A line wider than the view wraps under itself instead of being cut; a level the file
/// does not record says so in the title.
#[test]
fn long_log_lines_wrap_and_unrecorded_levels_say_so() {
    let mut s = fixtures::loaded(30, (80, 20));
    let long = "2026-03-02T14:29:01Z WARN arbdesk::keepa: /product answered HTTP 429 Too Many \
                Requests; waiting 60 s for tokens before the next refresh of the watchlist ends here";
    s.logs = vec![
        "2026-03-02T14:29:00Z INFO arbdesk::pipeline: started".to_string(),
        long.to_string(),
    ];
    s.log_recorded = 2;
    s.apply(Action::Goto(View::Logs));
    let screen = text(&s);
    assert!(screen.contains("started"), "{screen}");
    assert!(screen.contains("watchlist ends here"), "{screen}");
    assert!(!screen.contains("file:"), "{screen}");
    s.apply(Action::LogLevel(3));
    let screen = text(&s);
    assert!(
        screen.contains("debug and above (file: info+; --log debug for more)"),
        "{screen}"
    );
}

/// An error or a completion list too long for the prompt's line is shown whole, wrapped
/// in a box above it.
#[test]
fn a_long_prompt_message_wraps_above_the_prompt() {
    let keymap = Keymap::load("default", None);
    let mut s = fixtures::loaded(30, (80, 24));
    s.apply(Action::Command("sort bogus".into()));
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter),
        &keymap,
    );
    let Some(arbdesk::tui::state::Overlay::Prompt(p)) = &s.overlay else {
        panic!("the prompt stays open with its error");
    };
    let message = p.error.clone().unwrap();
    assert!(message.chars().count() > 60, "{message}");
    let screen = text(&s);
    let flat: String = screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' ' || c == '"'))
        .collect::<Vec<_>>()
        .join(" ");
    for word in message.split_whitespace() {
        assert!(flat.contains(word), "'{word}' missing from:\n{screen}");
    }
    // Tab on an empty command line lists every action; none is cut.
    s.apply(Action::Command(String::new()));
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Tab),
        &keymap,
    );
    let screen = text(&s);
    for id in ["help", "quit", "watch", "theme"] {
        assert!(screen.contains(id), "{id} missing from:\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn command_line_with_an_error() {
    let mut s = fixtures::loaded(30, (100, 20));
    s.apply(Action::Command("srot roi".into()));
    let keymap = Keymap::load("default", None);
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter),
        &keymap,
    );
    insta::assert_snapshot!(text(&s));
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [
        (1, 1),
        (20, 5),
        (59, 15),
        (60, 15),
        (0, 0),
        (300, 2),
        (2, 200),
    ] {
        let mut s = fixtures::loaded(50, (w.max(1), h.max(1)));
        s.apply(Action::Help);
        let _ = draw(&s, "dark");
        s.apply(Action::Back);
        s.apply(Action::Open);
        let _ = draw(&s, "dark");
    }
    insta::assert_snapshot!("too_small_20x5", text(&fixtures::loaded(50, (20, 5))));
}

#[test]
fn every_theme_draws_and_the_selection_stays_visible() {
    for name in Theme::builtin_names() {
        let s = fixtures::loaded(100, (120, 40));
        let buf = draw(&s, name);
        // The selected row is the first data row of the table: its ASIN cell is reversed.
        let a = ui::layout(&s).table.unwrap();
        let cell = &buf[(a.x + 3, a.y + 2)];
        assert!(
            cell.modifier.contains(Modifier::REVERSED),
            "{name}: selection not reversed ({cell:?})"
        );
    }
}

/// Opening the detail takes rows from the table: the table scrolls so that the row the
/// detail shows is still the highlighted one, at every size.
#[test]
fn opening_the_detail_keeps_the_selected_row_in_view() {
    use arbdesk::tui::action::Motion;
    for size in [(120, 40), (200, 50), (80, 24), (100, 30)] {
        let mut s = fixtures::loaded(100, size);
        let before = ui::table_rows(&s);
        s.apply(Action::Move(Motion::By(before as i64 - 1)));
        s.apply(Action::Open);
        let page = ui::table_rows(&s);
        assert!(
            s.offset <= s.selected && s.selected < s.offset + page,
            "{size:?}: offset {} selected {} page {page}",
            s.offset,
            s.selected
        );
        if let Some(a) = ui::layout(&s).table {
            let buf = draw(&s, "dark");
            let row_y = a.y + 2 + (s.selected - s.offset) as u16;
            let cell = &buf[(a.x + 3, row_y)];
            assert!(
                cell.modifier.contains(Modifier::REVERSED),
                "{size:?}: the selected row is not the highlighted one ({cell:?})"
            );
            let asin: String = (0..10)
                .map(|i| buf[(a.x + 4 + i, row_y)].symbol().to_string())
                .collect();
            assert_eq!(
                asin,
                s.selected_row().unwrap().key.asin.as_str(),
                "{size:?}"
            );
        }
        s.apply(Action::Back);
    }
}

/// High contrast paints every cell: the dashboard, the detail's chart, and what is drawn
/// over them (help, the prompt's box, toasts) — none is left to the terminal's background.
#[test]
fn high_contrast_leaves_no_cell_on_the_terminal_background() {
    use ratatui::style::Color;
    let keymap = Keymap::load("default", None);
    let mut s = fixtures::loaded(100, (200, 60));
    s.toast_info("Theme high-contrast");
    let unpainted = |buf: &Buffer| {
        buf.content()
            .iter()
            .filter(|c| matches!(c.bg, Color::Reset))
            .count()
    };
    assert_eq!(unpainted(&draw(&s, "high-contrast")), 0, "dashboard");
    s.apply(Action::Command(String::new()));
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Tab),
        &keymap,
    );
    assert_eq!(unpainted(&draw(&s, "high-contrast")), 0, "completion box");
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Esc),
        &keymap,
    );
    s.apply(Action::Help);
    assert_eq!(unpainted(&draw(&s, "high-contrast")), 0, "help");
}

#[test]
fn titles_with_escape_sequences_render_inert() {
    let mut s = fixtures::loaded(3, (200, 60));
    let evil = "Evil\x1b]52;c;cm0gLXJmIH4=\x07 title\x1b[2J\x1b[31m red \u{9b}6n\r\nnext";
    let mut feed = (*s.feed).clone();
    for r in &mut feed.rows {
        let o = fixtures::opportunity(
            r.key.asin,
            evil,
            r.key.buy,
            r.key.sell,
            40.0,
            900,
            fixtures::now(),
        );
        *r = arbdesk::tui::model::Row::from_opportunity(&o);
    }
    s.on_feed(feed);
    let buf = draw(&s, "dark");
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "a control character reached the screen: {:?}",
            cell.symbol()
        );
    }
    let screen = text(&s);
    assert!(screen.contains("Evil title red next"), "{screen}");
}

/// Why a row is not ranked is on the detail's first lines, pinned under the figures, with
/// what makes the two sides different items; its net is not green.
#[test]
fn the_detail_says_why_a_row_is_not_ranked_without_scrolling() {
    let mut s = fixtures::loaded(3, (80, 24));
    s.apply(Action::Open);
    let mut d = s.detail.clone().expect("the fixture shows a detail");
    let o = d.opportunity.as_mut().expect("with its opportunity");
    let (buy, sell) = (o.buy_market, o.sell_market);
    o.flags.insert(arbdesk::domain::Flag::Identity);
    o.ranked = false;
    o.net_profit = arbdesk::domain::Money::eur(500);
    let p = d.product.as_mut().expect("with its product");
    p.markets.get_mut(&buy).unwrap().package_quantity = Some(1);
    p.markets.get_mut(&sell).unwrap().package_quantity = Some(2);
    s.on_detail(d);
    let screen = text(&s);
    assert!(
        screen.contains("Not ranked: failed")
            && screen.contains(&format!("IDENTITY (pack of 1 in {buy}, 2 in {sell})")),
        "{screen}"
    );
    // Net in the status colour of a row that fails a gate, as in the table.
    let buf = draw(&s, "dark");
    let theme = Theme::builtin("dark");
    let a = ui::layout(&s).detail.expect("the detail is open");
    let figure = (a.y..a.y + a.height)
        .find_map(|y| {
            let row: Vec<&str> = (a.x..a.x + a.width).map(|x| buf[(x, y)].symbol()).collect();
            let at = row.windows(4).position(|w| w.concat() == "Net ")?;
            Some(buf[(a.x + at as u16 + 4, y)].clone())
        })
        .expect("the Net figure is in the detail");
    assert_eq!(Some(figure.fg), theme.style("profit_low").fg, "{figure:?}");
}

/// A UK↔EU row without customs in the config says in the detail what its net leaves out.
#[test]
fn a_route_without_customs_says_what_its_net_leaves_out() {
    let mut s = fixtures::loaded(3, (200, 60));
    let mut d = s.detail.clone().expect("the fixture shows a detail");
    let o = d.opportunity.as_mut().expect("with its opportunity");
    o.flags.insert(arbdesk::domain::Flag::RouteDisabled);
    o.ranked = false;
    s.on_detail(d);
    let screen = text(&s);
    assert!(
        screen.contains("UK↔EU without")
            && screen.contains("customs in the config: the net leaves out"),
        "{screen}"
    );
    // The table says so too: its net cells are marked approximate.
    let mut o = fixtures::opportunity(
        "B0NOCUSTOM".parse().unwrap(),
        "Kettle",
        arbdesk::domain::Market::UK,
        arbdesk::domain::Market::DE,
        40.0,
        1_234,
        fixtures::now(),
    );
    let plain = arbdesk::tui::model::Row::from_opportunity(&o);
    o.flags.insert(arbdesk::domain::Flag::RouteDisabled);
    let marked = arbdesk::tui::model::Row::from_opportunity(&o);
    for c in [Column::Profit, Column::Net, Column::Roi, Column::Emp] {
        assert_eq!(marked.cell(c), format!("≈{}", plain.cell(c)), "{c:?}");
    }
    assert_eq!(marked.cell(Column::Gross), plain.cell(Column::Gross));
}

/// A marked row keeps its `!` (or `+`) beside the mark: the state is a glyph, never only a
/// colour, so it reads the same without colour.
#[test]
fn a_marked_row_still_says_it_is_not_ranked() {
    let mut s = fixtures::loaded(300, (80, 24));
    // By gross margin, so rows that fail a gate lead (the default puts ranked rows first).
    s.apply(Action::Sort(SortBy::Column(Column::Margin, Some(true))));
    let first = s.selected_row().unwrap().clone();
    assert!(!first.ranked, "the fixture's first row fails a gate");
    s.apply(Action::Mark);
    let screen = text(&s);
    assert!(
        screen.contains(&format!("┃*! {}", first.key.asin)),
        "{screen}"
    );
}

/// A filter longer than the footer keeps its end, where the typing is, in view; the table's
/// title and the empty-table message echo only its start.
#[test]
fn a_long_filter_shows_its_end_in_the_prompt_and_its_start_elsewhere() {
    let mut s = fixtures::loaded(300, (80, 24));
    s.apply(Action::Filter(None));
    s.on_paste(&"kettle ".repeat(100));
    s.on_paste("ZZZ");
    let screen = text(&s);
    let footer = screen.lines().last().unwrap();
    assert!(
        footer.contains("/…") && footer.contains("kettle ZZZ█"),
        "{footer}"
    );
    let title = screen
        .lines()
        .find(|l| l.contains("Opportunities"))
        .unwrap();
    assert!(
        title.contains("/kettle kettle") && title.contains("kett…"),
        "{title}"
    );
}

/// A detail read beside the table stays on screen when the terminal shrinks below the
/// width that has room for both: it takes the table's place, as `Enter` there would.
#[test]
fn a_detail_in_focus_survives_a_shrinking_terminal() {
    let mut s = fixtures::loaded(300, (160, 45));
    s.apply(Action::Open);
    assert_eq!(s.focus, arbdesk::tui::state::Focus::Detail);
    for (w, h) in [(80, 24), (100, 30), (60, 15)] {
        s.on_resize(w, h);
        let a = ui::layout(&s);
        assert!(a.detail.is_some(), "{w}×{h}: {a:?}");
        assert!(text(&s).contains("Gross"), "{w}×{h}");
    }
    s.apply(Action::Back);
    let a = ui::layout(&s);
    assert!(a.detail.is_none() && a.table.is_some(), "{a:?}");
}

/// With the detail under the table (120×40) and in focus, it takes the health panel's
/// rows and a fifth of the table's, so the P&L shows rather than one or two of its lines.
#[test]
fn an_open_detail_under_the_table_gets_the_room() {
    let mut s = fixtures::loaded(300, (120, 40));
    // By gross margin, so rows that fail a gate lead (the default puts ranked rows first).
    s.apply(Action::Sort(SortBy::Column(Column::Margin, Some(true))));
    let top = s.selected_row().cloned().unwrap();
    s.on_detail(fixtures::detail(&top));
    let before = ui::layout(&s);
    assert!(before.health.is_some());
    s.apply(Action::Open);
    let after = ui::layout(&s);
    assert!(after.health.is_none(), "{after:?}");
    let (d0, d1) = (before.detail.unwrap(), after.detail.unwrap());
    assert!(d1.height >= d0.height + 10, "{d0:?} → {d1:?}");
    let screen = text(&s);
    assert!(
        screen.contains("Landed cost") && screen.contains("Not ranked: failed"),
        "{screen}"
    );
    // Leaving the detail gives the health panel back.
    s.apply(Action::Back);
    assert!(ui::layout(&s).health.is_some());
}

/// The gutter: a new route that fails a gate shows `!`, not `+`; a new ranked one `+`.
#[test]
fn an_unranked_new_row_is_marked_unranked() {
    let mut s = fixtures::loaded(300, (200, 60));
    // By gross margin, so rows that fail a gate lead (the default puts ranked rows first).
    s.apply(Action::Sort(SortBy::Column(Column::Margin, Some(true))));
    // A row of each kind among the first on screen, the only one of its ASIN there (the
    // line is found by the ASIN).
    let on_screen = |s: &UiState, ranked: bool| {
        let rows: Vec<_> = s
            .view()
            .iter()
            .take(20)
            .map(|&i| &s.feed.rows[i as usize])
            .collect();
        rows.iter()
            .find(|r| {
                r.ranked == ranked && rows.iter().filter(|o| o.key.asin == r.key.asin).count() == 1
            })
            .unwrap()
            .key
    };
    let (unranked, ranked) = (on_screen(&s, false), on_screen(&s, true));
    let mut marked = |key: arbdesk::domain::OpportunityKey| -> String {
        let asin = key.asin.to_string();
        s.deltas.insert(
            key,
            arbdesk::tui::state::RowDelta {
                new: true,
                cells: Vec::new(),
                at: s.now,
            },
        );
        let screen = text(&s);
        let line = screen.lines().find(|l| l.contains(&asin)).unwrap();
        let at = line.find(&asin).unwrap();
        line[..at].trim_end().chars().last().unwrap().to_string()
    };
    assert_eq!(marked(unranked), "!");
    assert_eq!(marked(ranked), "+");
}

/// A filter the loaded rows cannot answer goes to the store: until it answers, the title
/// says the count is not known yet rather than "0 matching".
#[test]
fn a_filter_in_flight_has_no_count_yet() {
    let keymap = Keymap::load("default", None);
    let mut s = fixtures::loaded(30, (160, 45));
    // More rows in the store than loaded: a filter is answered by the store.
    let mut feed: Feed = (*s.feed).clone();
    feed.total = 5_000;
    s.on_feed(feed);
    for c in "/zzzz".chars() {
        s.on_key(
            &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)),
            &keymap,
        );
    }
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter),
        &keymap,
    );
    assert!(s.loading, "the filter went to the store");
    let screen = text(&s);
    assert!(screen.contains("… matching /zzzz"), "{screen}");
    assert!(!screen.contains("0 matching"), "{screen}");
}

/// A confirmation on a narrow screen wraps: its `y/N` shows, not cut off at the edge.
#[test]
fn a_confirmation_wraps_on_a_narrow_screen() {
    let mut s = fixtures::loaded(20, (60, 15));
    let keymap = Keymap::load("default", None);
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('d')),
        &keymap,
    );
    let frame = text(&s);
    assert!(frame.contains("Confirm"), "{frame}");
    assert!(frame.contains("y/N"), "{frame}");
}

/// Short of room, the detail's price grid keeps the route's two markets (the column
/// header goes before either of them does).
#[test]
fn a_short_detail_keeps_the_buy_and_sell_rows() {
    let mut short = 0;
    for (w, h) in (80..160)
        .step_by(16)
        .flat_map(|w| (24..=60).map(move |h| (w, h)))
    {
        let mut s = fixtures::loaded(30, (w, h));
        // Listed in all five markets, the route's two last in the grid's order.
        let mut d = s.detail.clone().expect("the fixture shows a detail");
        let key = d.key;
        let p = d.product.as_mut().expect("with its product");
        let snap = p.markets[&key.buy].clone();
        for m in Market::ALL {
            p.markets.entry(m).or_insert_with(|| {
                let mut other = snap.clone();
                other.market = m;
                other
            });
        }
        // A row that fails gates pins why under its figures, which leaves the grid less.
        let o = d.opportunity.as_mut().expect("with its opportunity");
        for f in [
            arbdesk::domain::Flag::Identity,
            arbdesk::domain::Flag::Roi,
            arbdesk::domain::Flag::Profit,
            arbdesk::domain::Flag::RouteDisabled,
        ] {
            o.flags.insert(f);
        }
        o.ranked = false;
        s.on_detail(d);
        let Some(a) = ui::layout(&s).detail else {
            continue;
        };
        let buf = draw(&s, "mono");
        let lines: Vec<String> = (a.y..a.y + a.height)
            .map(|y| (a.x..a.x + a.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect();
        let tagged = |code: &str, tag: &str| {
            lines.iter().any(|l| {
                l.starts_with(&format!("│{code} "))
                    && l.trim_end_matches('│').trim_end().ends_with(tag)
            })
        };
        let header = lines.iter().any(|l| l.starts_with("│Mkt "));
        short += usize::from(!header);
        if header || tagged(key.buy.code(), "buy") || tagged(key.sell.code(), "sell") {
            assert!(
                tagged(key.buy.code(), "buy") && tagged(key.sell.code(), "sell"),
                "at {w}×{h}:\n{}",
                lines.join("\n")
            );
        }
    }
    assert!(short > 0, "no size left the grid without its header");
}

/// The keys that may follow a chord's first key are drawn over a toast, not under it.
#[test]
fn the_chord_popup_is_drawn_over_toasts() {
    let mut s = fixtures::loaded(30, (160, 45));
    s.toast_info(
        "Exported 13 rows to /tmp/exports/opportunities-20261205.json (y copies the path)",
    );
    let keymap = Keymap::load("default", None);
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('g')),
        &keymap,
    );
    assert!(!s.pending_keys.is_empty(), "g starts a chord");
    let screen = text(&s);
    assert!(
        ["Top", "Go to opportunities", "Go to health", "Go to logs"]
            .iter()
            .all(|k| screen.contains(k)),
        "the toast covers the pop-up:\n{screen}"
    );
}

/// Without colours the chart keeps only lines that can be named: the route's two (in
/// glyphs of their own), the others left out and counted in its title.
#[test]
fn a_mono_chart_draws_only_lines_it_can_name() {
    let mut s = fixtures::loaded(30, (200, 60));
    let mut d = s.detail.clone().expect("the fixture shows a detail");
    let key = d.key;
    let series = d
        .history
        .iter()
        .find(|h| h.market == key.buy)
        .expect("history")
        .clone();
    for m in Market::ALL {
        if !d.history.iter().any(|h| h.market == m) {
            let mut other = series.clone();
            other.market = m;
            d.history.push(other);
        }
    }
    s.on_detail(d);
    let legend = |theme: &str| -> String {
        let buf = draw(&s, theme);
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .find(|l| l.contains("Lowest New €, 90d"))
            .expect("the chart's title")
    };
    let mono = legend("mono");
    assert!(mono.contains("• ") && mono.contains("▄ "), "{mono}");
    assert!(
        !mono.contains('⠒') && mono.contains("3 others hidden"),
        "{mono}"
    );
    // Every theme with colours gives the five markets five colours.
    for theme in Theme::builtin_names().filter(|t| *t != "mono") {
        let title = legend(theme);
        assert_eq!(title.matches('⠒').count(), 3, "{theme}: {title}");
        assert!(!title.contains("hidden"), "{theme}: {title}");
    }
}

/// A `title=` that matches nothing says `=` compares the whole title, and how to find a
/// word in it.
#[test]
fn an_empty_whole_title_filter_says_how_to_find_a_word() {
    let mut s = fixtures::loaded(30, (120, 40));
    s.apply(Action::Filter(Some("title=kindle".into())));
    s.loading = false;
    let screen = text(&s);
    assert!(screen.contains("title~kindle"), "{screen}");
    s.apply(Action::Filter(Some("title~kindle".into())));
    assert!(!s.view().is_empty(), "a word of the title matches");
}

#[test]
fn products_view_narrow_and_medium() {
    insta::assert_snapshot!("products_80x24", text(&fixtures::products(1_000, (80, 24))));
    let mut s = fixtures::products(1_000, (120, 40));
    s.apply(Action::Move(arbdesk::tui::action::Motion::By(3)));
    insta::assert_snapshot!("products_120x40", text(&s));
    // Searching, then nothing found.
    s.apply(Action::Filter(Some("nichts".into())));
    let q = s.wanted_products().unwrap();
    s.on_products(fixtures::products_page(0, q));
    insta::assert_snapshot!("products_none_found_80x24", {
        s.on_resize(80, 24);
        text(&s)
    });
}

/// From 150 columns the products view shows the selected product whole beside the table:
/// its prices, its routes with the table's figures (a failed gate named), the chart and
/// its pages; while it is read, and once it is gone, the pane says so.
#[test]
fn products_view_wide_shows_the_product_whole() {
    let mut s = fixtures::products(1_000, (200, 50));
    let (asin, changes) = s.wanted_product_detail().expect("asked for at once");
    assert!(text(&s).contains(&format!("Loading {asin}…")));
    let title = s.products.selected_line().unwrap().title.clone();
    let best = fixtures::row(asin.as_str(), &title, Market::DE, Market::IT, 30.0, 1_234);
    let d = fixtures::detail(&best);
    let mut weak = fixtures::opportunity(
        asin,
        &title,
        Market::UK,
        Market::FR,
        12.0,
        -250,
        fixtures::now(),
    );
    weak.ranked = false;
    weak.flags.insert(arbdesk::domain::Flag::Profit);
    s.on_product_detail(ProductDetail {
        asin,
        changes,
        product: d.product,
        history: d.history,
        routes: Some(vec![d.opportunity.unwrap(), weak]),
        error: None,
    });
    let screen = text(&s);
    insta::assert_snapshot!("products_200x50_detail", screen);
    for part in [
        "Routes 2",
        "DE→IT",
        "UK→FR",
        "! PROFIT",
        "sell",
        "90d",
        "amazon.it/dp/",
    ] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    // No size panics with the detail loaded.
    for w in (150..=230).step_by(8) {
        for h in (15..=60).step_by(5) {
            s.on_resize(w, h);
            let _ = text(&s);
        }
    }
    for (w, h) in [(1, 1), (20, 5), (200, 50)] {
        s.on_resize(w, h);
        let _ = text(&s);
    }
    // Routes that could not be read say so; what was read shows.
    let mut partly = s.products.detail.clone().unwrap();
    partly.routes = None;
    partly.error = Some("database is locked".into());
    s.on_product_detail(partly);
    let screen = text(&s);
    for part in [
        "Partly read: database is locked",
        "Not read: the store did not answer.",
        "amazon.it/dp/",
    ] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    // New data reads it again; a product no longer stored says so.
    s.products_changed();
    let (asin, changes) = s.wanted_product_detail().expect("read again");
    s.on_product_detail(ProductDetail {
        asin,
        changes,
        product: None,
        history: Vec::new(),
        routes: None,
        error: None,
    });
    assert!(text(&s).contains("is no longer stored"));
    // Below 150 columns the table has the width.
    s.on_resize(149, 50);
    assert!(!text(&s).contains("Product ─"));
}

/// At the smallest size the console draws, markets are left out whole (and named), never
/// cut inside a price; read-only hides unwatch from the hints; help explains this view.
#[test]
fn products_view_small_read_only_and_its_help() {
    let mut s = fixtures::products(1_000, (60, 15));
    s.session.read_only = true;
    insta::assert_snapshot!("products_60x15_read_only", text(&s));
    let keymap = Keymap::load("default", None);
    let help: Vec<String> = ui::help_entries(&s, &keymap, "")
        .into_iter()
        .map(|e| e.desc)
        .collect();
    assert!(help.iter().any(|d| d == "not listed there"), "{help:?}");
    assert!(
        !help.iter().any(|d| d.contains("negates")),
        "the table's filter grammar: {help:?}"
    );
}

/// A product's routes opened from the products view say how to go back, and how to see
/// routes the net margin floor, or the sidebar's markets, hide.
#[test]
fn a_products_routes_say_how_to_go_back() {
    let mut s = fixtures::products(1_000, (120, 40));
    s.apply(Action::Move(arbdesk::tui::action::Motion::Bottom));
    let q = s.wanted_products().unwrap();
    s.on_products(fixtures::products_page(1_000, q));
    s.apply(Action::Open);
    // The last product has no row among the fixture's: the store answers none.
    let answer_none = |s: &mut UiState| {
        s.on_feed(Feed {
            query: Some(s.query()),
            at: Some(fixtures::now()),
            stats: s.feed.stats.clone(),
            ..Feed::default()
        })
    };
    answer_none(&mut s);
    let screen = text(&s);
    assert!(screen.contains("No routes of this product"), "{screen}");
    assert!(screen.contains("Esc goes back to the products"), "{screen}");
    assert!(screen.contains(":basis gross"), "{screen}");
    // With the sidebar's markets narrowed, those are what hide the routes, and it says so.
    s.apply(Action::Markets(
        arbdesk::tui::action::Side::Buy,
        vec![Market::IT, Market::ES],
    ));
    answer_none(&mut s);
    let screen = text(&s);
    assert!(
        screen.contains("buying in IT ES and selling in UK DE FR IT ES"),
        "{screen}"
    );
    assert!(screen.contains(":markets takes every market"), "{screen}");
}

/// A number column's label ends where its figures end (the cell after them is kept for
/// the change arrow), whatever the column sorted by and the width: an operator reads a
/// figure off by the label above it.
#[test]
fn number_labels_end_over_their_figures() {
    // Every column but the ASIN, the title and the two markets holds a figure.
    let numbers: Vec<Column> = Column::ALL
        .into_iter()
        .filter(|c| !matches!(c, Column::Asin | Column::Title | Column::Buy | Column::Sell))
        .collect();
    for width in [80, 120, 160, 200] {
        for sort in [
            Column::Emp,
            Column::Roi,
            Column::Gross,
            Column::Age,
            Column::Title,
        ] {
            let mut s = fixtures::loaded(300, (width, 40));
            s.apply(Action::Sort(SortBy::Column(sort, Some(true))));
            let screen = text(&s);
            let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
            let at = lines
                .iter()
                .position(|l| l.iter().collect::<String>().contains("ASIN"))
                .expect("a header row");
            let (header, first): (String, &Vec<char>) =
                (lines[at].iter().collect(), &lines[at + 1]);
            let mut checked = 0;
            for &c in &numbers {
                let Some(byte) = header.find(&format!(" {}", c.label())) else {
                    continue;
                };
                let start = header[..byte].chars().count() + 1;
                let end = start + c.label().chars().count() - 1;
                let under = first[end];
                let after = first.get(end + 1).copied().unwrap_or(' ');
                assert!(
                    under.is_ascii_alphanumeric() && !after.is_ascii_alphanumeric(),
                    "{width} columns sorted by {sort:?}: {:?} ends at cell {end}, over {under:?} \
                     followed by {after:?}:\n{}\n{}",
                    c.label(),
                    header,
                    first.iter().collect::<String>()
                );
                checked += 1;
            }
            assert!(
                checked >= 3,
                "{width} columns: only {checked} number columns in {header}"
            );
        }
    }
}

/// A filter with `ranked` that leaves nothing says how many rows it matches without it and
/// which gates they fail: a route without customs is not "no deals".
#[test]
fn an_empty_ranked_filter_names_the_gates_its_rows_fail() {
    // Zoomed on a wide screen: the message is on one line.
    let mut s = fixtures::loaded(300, (400, 40));
    let _ = s.apply(Action::Zoom);
    let unranked = s.feed.rows.iter().filter(|r| !r.ranked).count();
    assert!(unranked > 0, "the fixture has unranked rows");
    let _ = s.apply(Action::Filter(Some("ranked !ranked".into())));
    // The store's answer to the filter's query: the same rows (`ranked` is not the store's).
    let mut feed = (*s.feed).clone();
    feed.query = Some(s.query());
    s.on_feed(feed);
    assert!(s.view().is_empty());
    let (n, gates) = s.unranked.clone().unwrap();
    assert_eq!(n, unranked);
    assert!(!gates.is_empty());
    let t = text(&s);
    let says = format!(
        "{n} rows match without `ranked`, none passing every gate (failed: {}",
        gates[0].0
    );
    assert!(t.contains(&says), "{t}");
    // Without `ranked`, nothing to explain.
    let _ = s.apply(Action::Filter(Some("asin=B0NOTHERE1".into())));
    let mut feed = (*s.feed).clone();
    feed.query = Some(s.query());
    s.on_feed(feed);
    assert!(s.view().is_empty());
    assert_eq!(s.unranked, None);
}

/// With one market to buy and sell in, no route can be: the empty table says so, rather
/// than blaming the minimum margin.
#[test]
fn one_market_on_both_sides_is_why_the_table_is_empty() {
    let mut s = fixtures::loaded(20, (120, 35));
    let _ = s.apply(Action::Markets(
        arbdesk::tui::action::Side::Both,
        vec![Market::DE],
    ));
    let stats = s.feed.stats.clone();
    s.on_feed(Feed {
        query: Some(s.query()),
        stats,
        at: Some(fixtures::now()),
        ..Feed::default()
    });
    let t = text(&s);
    assert!(t.contains("No route buys and sells in DE alone"), "{t}");
    assert!(!t.contains("No opportunities at"), "{t}");
}

/// A last word that may be becoming a field name (`pro` of `profit>5`) is held back from
/// the table while typed: the prompt line says so, and how to search for it as a word.
#[test]
fn a_held_back_filter_word_is_named_under_the_prompt() {
    let keymap = Keymap::load("default", None);
    let mut s = fixtures::loaded(30, (120, 30));
    for c in "/kettle pro".chars() {
        s.on_key(
            &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)),
            &keymap,
        );
    }
    let screen = text(&s);
    let prompt = screen.lines().last().unwrap();
    assert!(
        prompt.contains("/kettle pro") && prompt.contains("'pro' waits for a field's > = ~"),
        "{prompt}"
    );
    s.on_key(
        &crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(' ')),
        &keymap,
    );
    let screen = text(&s);
    assert!(
        !screen.lines().last().unwrap().contains("waits"),
        "{screen}"
    );
}

/// The symbols of line `y` of `frame`, as one string.
fn line_of(frame: &Buffer, y: u16) -> String {
    (0..frame.area.width)
        .map(|x| frame[(x, y)].symbol().to_string())
        .collect()
}

/// The line of the opportunities table's header in `frame`: the first with both ASIN and
/// ROI on it.
fn table_header(frame: &Buffer) -> u16 {
    (0..frame.area.height)
        .find(|&y| {
            let line = line_of(frame, y);
            line.contains(" ASIN") && line.contains("ROI %")
        })
        .unwrap_or_else(|| panic!("no table header in the frame"))
}

/// With `mouse = true`: a click on a header, where the frame shows it, sorts by that column
/// (again: the other way); a click on a row, where the frame shows it, selects that row; the
/// wheel moves three rows a notch. An open overlay takes no clicks.
#[test]
fn clicks_sort_by_the_header_and_select_the_row_drawn_there() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let at = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let click = |x, y| at(MouseEventKind::Down(MouseButton::Left), x, y);
    for size in [(200, 50), (100, 30), (70, 20)] {
        let mut s = fixtures::loaded(40, size);
        let frame = draw(&s, "mono");
        let header_y = table_header(&frame);
        let header = line_of(&frame, header_y);
        let roi_x = header.chars().collect::<Vec<_>>();
        let roi_x = (0..roi_x.len())
            .find(|&i| roi_x[i..].iter().collect::<String>().starts_with("ROI %"))
            .unwrap() as u16;
        assert_ne!(s.sort, Column::Roi);
        s.on_mouse(&click(roi_x + 1, header_y));
        assert_eq!(s.sort, Column::Roi, "{size:?}");
        let first = s.descending;
        s.on_mouse(&click(roi_x, header_y));
        assert_eq!((s.sort, s.descending), (Column::Roi, !first), "{size:?}");
        // The fifth row drawn, clicked on its title or figures, is the one selected, and it
        // is the ASIN drawn on that line.
        let y = header_y + 5;
        let row_text = line_of(&draw(&s, "mono"), y);
        s.on_mouse(&click(size.0 / 3, y));
        let asin = s.selected_row().unwrap().key.asin.to_string();
        assert!(
            row_text.contains(&asin),
            "{size:?}: {asin} not on {row_text}"
        );
        assert_eq!(s.selected, s.offset + 4);
        // The wheel.
        let before = s.selected;
        s.on_mouse(&at(MouseEventKind::ScrollDown, 5, y));
        assert_eq!(s.selected, before + 3);
        s.on_mouse(&at(MouseEventKind::ScrollUp, 5, y));
        assert_eq!(s.selected, before);
        // Behind the help, nothing moves.
        s.apply(Action::Help);
        s.on_mouse(&click(roi_x, header_y + 2));
        assert_eq!(s.selected, before);
    }
}

/// With `mouse = true` in the products view: a click on a product's line selects the product
/// drawn there; a click on the detail beside the table, or on the header, selects nothing.
#[test]
fn a_click_selects_the_product_drawn_there() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    for size in [(200, 50), (100, 30)] {
        let mut s = fixtures::products(1_000, size);
        let frame = draw(&s, "mono");
        let header_y = (0..size.1)
            .find(|y| line_of(&frame, *y).contains("ASIN "))
            .unwrap();
        let y = header_y + 6;
        let drawn = line_of(&frame, y);
        s.on_mouse(&click(20, y));
        let asin = s.products.selected_line().unwrap().asin.to_string();
        assert!(drawn.contains(&asin), "{size:?}: {asin} not on {drawn}");
        assert_eq!(s.products.selected, s.products.offset + 5, "{size:?}");
        s.on_mouse(&click(20, header_y));
        assert_eq!(s.products.selected, s.products.offset + 5, "{size:?}");
        // The detail (from 150 columns) is not the table.
        s.on_mouse(&click(size.0 - 3, y + 2));
        let expected = if size.0 >= 150 { 5 } else { 7 };
        assert_eq!(
            s.products.selected,
            s.products.offset + expected,
            "{size:?}"
        );
    }
}

/// With hyperlinks on, the ASIN cell of each row is an OSC 8 link to the product's page in
/// the row's sell market (the page `y` copies); the cells still show the ASIN.
#[test]
fn each_asin_in_the_table_links_to_its_sell_market_page() {
    // No detail pane on screen at this size: its links are the detail's tests'.
    let mut s = fixtures::loaded(10, (120, 30));
    s.session.hyperlinks = true;
    let frame = draw(&s, "mono");
    let row = s.selected_row().unwrap();
    let (url, asin) = (row.sell_url(), row.key.asin.to_string());
    let linked = |y: u16| -> Vec<String> {
        (0..frame.area.width)
            .map(|x| frame[(x, y)].symbol().to_string())
            .filter(|c| c.starts_with("\x1b]8;;"))
            .collect()
    };
    let y = (0..frame.area.height)
        .find(|&y| linked(y).iter().any(|c| c.contains(&format!("/dp/{asin}"))))
        .expect("a row links its ASIN");
    let cells = linked(y);
    assert_eq!(cells.len(), 5, "ten cells, two a sequence: {cells:?}");
    let shown: String = cells
        .iter()
        .map(|c| {
            let text = c.trim_start_matches(&format!("\x1b]8;;{url}\x1b\\"));
            text.trim_end_matches("\x1b]8;;\x1b\\").to_string()
        })
        .collect();
    assert_eq!(shown, asin, "every cell links to {url}: {cells:?}");
    // Scrolled down, each line drawn links its own row's page: the linked lines, top to
    // bottom, are the rows from the scroll offset on.
    let mut s = fixtures::loaded(80, (120, 30));
    s.session.hyperlinks = true;
    s.apply(Action::Move(arbdesk::tui::action::Motion::Bottom));
    assert!(s.offset > 0, "scrolled");
    let frame = draw(&s, "mono");
    let urls: Vec<String> = (0..frame.area.height)
        .filter_map(|y| {
            let first = (0..frame.area.width)
                .map(|x| frame[(x, y)].symbol().to_string())
                .find(|c| c.starts_with("\x1b]8;;"))?;
            let url = first.trim_start_matches("\x1b]8;;");
            Some(url[..url.find('\x1b').unwrap()].to_string())
        })
        .collect();
    let expected: Vec<String> = s.view()[s.offset..s.offset + urls.len()]
        .iter()
        .map(|&i| s.feed.rows[i as usize].sell_url())
        .collect();
    assert!(urls.len() > 5, "{urls:?}");
    assert_eq!(urls, expected);
    // Off, nothing is linked.
    s.session.hyperlinks = false;
    let plain = draw(&s, "mono");
    assert!(
        (0..plain.area.height)
            .flat_map(|y| (0..plain.area.width).map(move |x| (x, y)))
            .all(|p| !plain[p].symbol().contains("\x1b]8;;")),
    );
}

/// Rows read before the store went down stay on screen, and the table's title says that
/// they are as last read (the header's badge says the store is down, not which rows are old).
#[test]
fn rows_read_before_the_store_went_down_say_so_in_the_title() {
    let mut s = fixtures::loaded(20, (160, 40));
    assert!(!text(&s).contains("as last read"));
    s.store_health = Some(arbdesk::component::ComponentHealth::down(
        "sqlite",
        "unable to open database file",
    ));
    let shown = text(&s);
    let title = shown
        .lines()
        .find(|l| l.contains("Opportunities 20"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        title.contains("· as last read, the store is down"),
        "{title}"
    );
}

/// `hyperlinks = "auto"`: on, except on a dumb terminal and under screen, and under tmux
/// only when its user enabled them (tmux asked only then).
#[test]
fn auto_hyperlinks_follow_the_terminal_and_asks_tmux_only_under_tmux() {
    use arbdesk::tui::app::hyperlinks_enabled;
    use arbdesk::tui::theme::TermEnv;
    let env = |term: &str, tmux: Option<&str>| TermEnv {
        term: Some(term.to_string()),
        tmux: tmux.map(str::to_string),
        ..TermEnv::default()
    };
    let never = || -> bool { panic!("tmux asked outside tmux") };
    assert!(hyperlinks_enabled(
        "auto",
        &env("xterm-256color", None),
        never
    ));
    assert!(!hyperlinks_enabled("auto", &env("dumb", None), never));
    assert!(!hyperlinks_enabled(
        "auto",
        &env("screen-256color", None),
        never
    ));
    // Inside tmux, tmux is asked; known only by TERM (ssh from inside it), it cannot be.
    for term in ["tmux-256color", "xterm-256color"] {
        let inside = env(term, Some("/tmp/tmux-0/default,1,0"));
        assert!(hyperlinks_enabled("auto", &inside, || true));
        assert!(!hyperlinks_enabled("auto", &inside, || false));
    }
    assert!(!hyperlinks_enabled(
        "auto",
        &env("tmux-256color", None),
        never
    ));
    assert!(hyperlinks_enabled("on", &env("dumb", None), never));
    assert!(!hyperlinks_enabled("off", &env("xterm", None), never));
}

/// What tmux answers to `#{version} #{client_termfeatures}`: links pass from 3.4 on, with
/// the `hyperlinks` feature on for this client.
#[test]
fn tmux_passes_links_from_3_4_with_the_feature_on() {
    use arbdesk::tui::app::tmux_passes_links_by;
    assert!(tmux_passes_links_by(
        "3.4 256,RGB,clipboard,hyperlinks,title\n"
    ));
    assert!(tmux_passes_links_by("3.5a hyperlinks"));
    assert!(tmux_passes_links_by("next-3.6 bpaste,hyperlinks"));
    assert!(
        !tmux_passes_links_by("3.3a 256,RGB,hyperlinks"),
        "too old to pass them"
    );
    assert!(
        !tmux_passes_links_by("3.4 256,RGB,clipboard,title"),
        "not enabled"
    );
    assert!(!tmux_passes_links_by(""));
    assert!(!tmux_passes_links_by("3.4 nohyperlinks"));
}

/// A click on a row while the detail under the table has the focus (and most of the
/// table's rows) gives the table the focus back and its rows with it, even on the row
/// already selected.
#[test]
fn a_click_on_the_table_takes_the_focus_from_the_detail_under_it() {
    use arbdesk::tui::state::Focus;
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut s = fixtures::loaded(40, (120, 40));
    s.focus = Focus::Detail;
    s.on_resize(120, 40);
    let reading = s.page;
    let header_y = table_header(&draw(&s, "mono"));
    s.on_mouse(&MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 40,
        row: header_y + 1,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!((s.focus, s.selected), (Focus::Table, 0));
    assert!(s.page > reading, "{} rows, {reading} while reading", s.page);
}
