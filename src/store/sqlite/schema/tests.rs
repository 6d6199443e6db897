//! Migrations (each applied once, in order; a failed step rolls back alone) and the sort
//! indexes rebuilt after a bulk load.

use super::*;

const STEPS: &[Migration] = &[
    Migration {
        name: "one",
        sql: "CREATE TABLE a (x INTEGER);",
    },
    Migration {
        name: "two, broken halfway",
        sql: "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);",
    },
];

fn tables(conn: &Connection) -> Vec<String> {
    let mut st = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_failed_step_rolls_back_alone_and_names_itself() {
    let mut conn = Connection::open_in_memory().unwrap();
    let err = migrate(&mut conn, STEPS).unwrap_err();
    assert!(
        matches!(&err, Fail::Corrupt(m) if m.contains("migration 2 (two, broken halfway)")),
        "{err:?}"
    );
    assert_eq!(version(&conn).unwrap(), 1);
    assert_eq!(tables(&conn), vec!["a"]);
}

#[test]
fn migrations_are_applied_once() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    assert_eq!(version(&conn).unwrap(), latest_version());
    let before = tables(&conn);
    assert!(before.contains(&"opportunities".to_string()));
    migrate(&mut conn, MIGRATIONS).unwrap();
    assert_eq!(tables(&conn), before);
}

#[test]
fn newer_and_negative_versions_are_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    let err = migrate(&mut conn, MIGRATIONS).unwrap_err();
    assert!(matches!(&err, Fail::Unavailable(m) if m.contains("schema version 99 is newer")));
    conn.pragma_update(None, "user_version", -1).unwrap();
    assert!(matches!(
        migrate(&mut conn, MIGRATIONS),
        Err(Fail::Corrupt(_))
    ));
}

fn index_sql(conn: &Connection) -> Vec<(String, String)> {
    let mut st = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema
                 WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_version_1_file_gets_the_tie_breaking_profit_index_and_keeps_its_rows() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
    conn.execute_batch(
        "INSERT INTO opportunities (asin, buy, sell, gross_margin_pct, net_margin_pct,
                 net_profit, roi_pct, expected_monthly_profit, ranked, updated_at, search)
             VALUES ('B0MIGRATE1', 1, 2, 10.0, 5.0, 300, 20.0, 6000, 1, 0, 'b0migrate1')",
    )
    .unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    assert_eq!(version(&conn).unwrap(), latest_version());
    let emp = index_sql(&conn)
        .into_iter()
        .find(|(name, _)| name == "opp_emp")
        .unwrap()
        .1;
    assert_eq!(
        emp,
        format!("CREATE INDEX opp_emp ON {}", SORT_INDEXES[0].1)
    );
    assert!(emp.contains("roi_pct DESC, net_profit DESC"), "{emp}");
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM opportunities INDEXED BY opp_emp",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    // A row stored before first-seen times were kept has none.
    let first_seen: Option<i64> = conn
        .query_row("SELECT first_seen FROM opportunities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(first_seen, None);
}

#[test]
fn a_version_4_file_keeps_its_rows_and_forgets_the_zeros_of_rows_without_net_figures() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, &MIGRATIONS[..4]).unwrap();
    conn.execute_batch(
        "INSERT INTO opportunities (id, asin, buy, sell, gross_margin_pct, net_margin_pct,
                 net_profit, roi_pct, expected_monthly_profit, ranked, updated_at, search,
                 first_seen)
             VALUES (7, 'B0MIGRATE1', 1, 2, 10.0, 5.0, 300, 20.0, 6000, 1, 0, 'b0migrate1', 9),
                    (8, 'B0MIGRATE2', 1, 2, 12.0, 0.0, 0, 0.0, 0, 0, 0, 'b0migrate2', NULL);
             INSERT INTO opportunity_docs (id, body)
             VALUES (7, '{\"flags\":[]}'), (8, '{\"flags\":[\"NO_TABLE\"]}');",
    )
    .unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    // id, net profit, ROI, expected monthly profit, first seen
    type Stored = (i64, Option<i64>, Option<f64>, Option<i64>, Option<i64>);
    let rows: Vec<Stored> = conn
        .prepare(
            "SELECT id, net_profit, roi_pct, expected_monthly_profit, first_seen
                 FROM opportunities ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (7, Some(300), Some(20.0), Some(6000), Some(9)),
            (8, None, None, None, None)
        ]
    );
    // The sort indexes are the ones a bulk load builds.
    for (name, definition) in SORT_INDEXES {
        let sql = index_sql(&conn)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        assert_eq!(sql, format!("CREATE INDEX {name} ON {definition}"));
    }
}

#[test]
fn sort_indexes_rebuilt_after_a_bulk_load_are_the_migrated_ones() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    let migrated = index_sql(&conn);
    assert!(ensure_sort_indexes(&conn).unwrap().is_empty());
    drop_sort_indexes(&conn).unwrap();
    for (name, _) in SORT_INDEXES {
        assert!(!has_index(&conn, name).unwrap(), "{name}");
    }
    assert_eq!(
        ensure_sort_indexes(&conn).unwrap(),
        vec!["opp_emp", "opp_gross", "opp_net"]
    );
    // Same definitions, character for character, as the migration's.
    assert_eq!(index_sql(&conn), migrated);
}
