//! Actions: parsing the command line of the console and the registry's names.

use super::*;

#[test]
fn every_registry_id_parses_with_its_hints() {
    for s in REGISTRY {
        let line = match s.args.first() {
            Some(a) => format!("{} {a}", s.id),
            None => s.id.to_string(),
        };
        let line = if s.id == "watch" {
            "watch add B0D1XD1ZV3".to_string()
        } else {
            line
        };
        assert!(parse(&line).is_ok(), "{line}: {:?}", parse(&line));
    }
}

/// `dangerous` in the registry and `changes_stored_data` name the same actions.
#[test]
fn dangerous_actions_are_the_ones_that_change_stored_data() {
    for s in REGISTRY {
        for arg in s
            .args
            .iter()
            .copied()
            .chain(s.args.is_empty().then_some(""))
        {
            let line = match (s.id, arg) {
                ("watch", a) => format!("watch {a} B0D1XD1ZV3"),
                (id, "") => id.to_string(),
                (id, a) => format!("{id} {a}"),
            };
            if let Ok(action) = parse(&line) {
                assert_eq!(action.changes_stored_data(), s.dangerous, "{line}");
            }
        }
    }
}

#[test]
fn commands_parse_to_actions() {
    assert_eq!(
        parse("sort roi desc"),
        Ok(Action::Sort(SortBy::Column(Column::Roi, Some(true))))
    );
    assert_eq!(
        parse("min 12"),
        Ok(Action::MinMargin(MarginChange::To(12.0)))
    );
    assert_eq!(
        parse("min-margin -1"),
        Ok(Action::MinMargin(MarginChange::By(-1.0)))
    );
    // `=` sets, so a negative minimum can be set as well as moved to.
    assert_eq!(
        parse("min =-5"),
        Ok(Action::MinMargin(MarginChange::To(-5.0)))
    );
    assert_eq!(
        parse("min =7.5%"),
        Ok(Action::MinMargin(MarginChange::To(7.5)))
    );
    assert!(parse("min =x").unwrap_err().0.contains("=-5"));
    assert!(parse("min 12%%").is_err(), "one % at most");
    assert_eq!(
        parse("markets de,it"),
        Ok(Action::Markets(Side::Both, vec![Market::DE, Market::IT]))
    );
    assert_eq!(parse(":q".trim_start_matches(':')), Ok(Action::Quit));
    assert_eq!(parse("logs"), Ok(Action::Goto(View::Logs)));
    assert_eq!(
        parse("opportunities"),
        Ok(Action::Goto(View::Opportunities))
    );
    // `all` and `selected` in any case, as ASINs are.
    assert_eq!(parse("refresh ALL"), Ok(Action::RefreshAll));
    assert_eq!(parse("refresh Selected"), Ok(Action::Refresh));
    assert_eq!(parse("limit all"), Ok(Action::Limit(None)));
    assert!(matches!(parse("watch add B0D1XD1ZV3"), Ok(Action::WatchAdd(v)) if v.len() == 1));
    // Actions without arguments refuse them rather than run anyway.
    for typed in ["q extra", "quit now", "freeze 5", "help me", "logs x"] {
        let e = parse(typed).unwrap_err().0;
        assert!(e.contains("takes no arguments"), "{typed}: {e}");
    }
    for typed in [
        "export json extra",
        "goto health extra",
        "theme dark x",
        "min 12 13",
        "sort profit asc extra",
    ] {
        let e = parse(typed).unwrap_err().0;
        assert!(e.contains("one too many"), "{typed}: {e}");
    }
    assert!(parse("sort profit asc").is_ok());
    assert!(parse("markets de it").is_ok());
    assert!(parse("watch add B0D1XD1ZV3 B07XJ8C8F5").is_ok());
    assert!(parse("filter roi>5 src=de").is_ok());
    assert_eq!(parse("set"), Ok(Action::SetRefresh(None)));
    assert_eq!(parse("set refresh"), Ok(Action::SetRefresh(None)));
    assert_eq!(parse("set refresh 20m"), Ok(Action::SetRefresh(Some(1200))));
    assert_eq!(parse("set refresh 90s"), Ok(Action::SetRefresh(Some(90))));
    assert_eq!(parse("set refresh 45"), Ok(Action::SetRefresh(Some(2700))));
    for (typed, named) in [
        ("set refresh 0s", "'0s'"),
        ("set refresh 400d", "'400d'"),
        ("set refresh soon", "'soon'"),
        ("set colour red", "'colour'"),
    ] {
        let e = parse(typed).unwrap_err().0;
        assert!(e.contains(named), "{typed}: {e}");
    }
    assert!(
        parse("set refresh 20m 5")
            .unwrap_err()
            .0
            .contains("one too many")
    );
}

#[test]
fn bad_commands_name_the_value_and_suggest() {
    assert_eq!(
        parse("srot roi").unwrap_err().0,
        "unknown action 'srot'; did you mean 'sort'?"
    );
    // A swap of neighbours is one edit: nearer 'sort' than 'goto'.
    assert_eq!(
        parse("sotr roi").unwrap_err().0,
        "unknown action 'sotr'; did you mean 'sort'?"
    );
    assert!(parse("sort colour").unwrap_err().0.contains("'colour'"));
    assert!(parse("min lots").unwrap_err().0.contains("'lots'"));
    assert!(parse("watch add nope").is_err());
    assert!(matches!(
        parse("watch add https://www.amazon.de/Pan/dp/B0D1XD1ZV3/ref=sr_1_1?th=1"),
        Ok(Action::WatchAdd(v)) if v.len() == 1 && v[0].as_str() == "B0D1XD1ZV3"
    ));
    assert!(parse("markets xx").unwrap_err().0.contains("xx"));
}

#[test]
fn completion_offers_ids_then_arguments() {
    assert_eq!(complete("so"), vec!["sort".to_string()]);
    assert!(complete("sort r").contains(&"sort roi".to_string()));
    assert!(complete("theme ").contains(&"theme mono".to_string()));
    // The order after a sort column, as the help says it takes one.
    assert_eq!(complete("sort roi "), ["sort roi asc", "sort roi desc"]);
    assert_eq!(complete("sort roi d"), ["sort roi desc"]);
    assert!(complete("sort next ").is_empty());
    // Market codes, one at a time, leaving out those in the list already.
    assert_eq!(complete("markets d"), ["markets de"]);
    assert_eq!(
        complete("buy it,"),
        ["buy it,uk", "buy it,de", "buy it,fr", "buy it,es"]
    );
    assert_eq!(complete("sell uk,de,fr,it,e"), ["sell uk,de,fr,it,es"]);
    // Every completion parses.
    for line in complete("markets ")
        .into_iter()
        .chain(complete("sort margin "))
    {
        assert!(parse(&line).is_ok(), "{line}");
    }
}
