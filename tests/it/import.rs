//! `arbdesk import`: bad lines reported and skipped; killed with SIGKILL mid-file and run
//! again, the store is intact and holds exactly what a clean import holds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbdesk::domain::Market;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use arbdesk::store::Store;
use arbdesk::store::sqlite::SqliteStore;

const T0: i64 = 1_795_586_400_000;
const BAD_LINES: [u64; 4] = [7, 500, 900, 1201];

/// A JSON-lines file of simulated Keepa products with four bad lines, one not UTF-8.
fn write_file(dir: &Path, lines: u64) -> PathBuf {
    let cat = Catalog::new(7);
    let opts = Options {
        history: false,
        days: 0,
        stats_days: Some(90),
        buybox: true,
    };
    let path = dir.join("products.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let markets = [Market::DE, Market::IT, Market::FR, Market::UK];
    for n in 1..=lines {
        if n == 900 {
            f.write_all(b"{\"asin\":\"B0\xff\xfe\", \"domainId\": 3}\n")
                .unwrap();
            continue;
        }
        let line = match n {
            7 => "{\"asin\": \"B0TRUNCATED\", \"domainId\": 3, \"csv\": [[1,".to_string(),
            500 => {
                r#"{"asin":"B0ODDCSV01","domainId":3,"csv":[[8300000,1999,8300001]]}"#.to_string()
            }
            1201 => "not json at all".to_string(),
            _ => {
                let asin = asin_from((n - 1) / 4).parse().unwrap();
                let m = markets[((n - 1) % 4) as usize];
                serde_json::to_string(&cat.product(&asin, m, T0, opts)).unwrap()
            }
        };
        writeln!(f, "{line}").unwrap();
    }
    f.flush().unwrap();
    path
}

fn import(file: &Path, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arbdesk"));
    c.args(["import", "--batch", "40", "--quiet"])
        .arg(file)
        .arg("--data-dir")
        .arg(data)
        .env_remove("ARBDESK_CONFIG");
    c
}

fn integrity(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// How many of the three opportunity sort indexes exist.
fn sort_indexes(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT count(*) FROM sqlite_schema
         WHERE type = 'index' AND name IN ('opp_emp', 'opp_gross', 'opp_net')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

async fn counts(data: &Path) -> (u64, u64, u64) {
    let store = SqliteStore::open(&data.join("arbdesk.sqlite")).unwrap();
    let s = store.stats().await.unwrap();
    let listings: u64 = s.products_per_market.values().sum();
    (s.total_products, listings, s.opportunities)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_import_resumes_to_the_same_store_as_a_clean_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 2_400);
    let size = std::fs::metadata(&file).unwrap().len();

    // A clean import: bad lines named by number, the rest imported.
    let clean = dir.path().join("clean");
    let out = import(&file, &clean).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for n in BAD_LINES {
        assert!(
            err.contains(&format!("line {n}: ")),
            "line {n} is reported: {err}"
        );
    }
    assert!(
        err.contains("B0ODDCSV01") && err.contains("csv[0]"),
        "{err}"
    );
    assert!(
        err.contains("line 900: not UTF-8 text (invalid byte at column 12)"),
        "{err}"
    );
    let expected = counts(&clean).await;
    assert_eq!(expected.0, 600, "every ASIN has good lines");
    assert!(expected.2 > 0, "the import ran detection");

    // The same import, killed once the first batches are committed.
    let crashed = dir.path().join("crashed");
    let mut child = import(&file, &crashed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let key = format!(
        "import:{}:{size}",
        std::fs::canonicalize(&file).unwrap().display()
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Read with a bare connection: opening the store would end the bulk load.
        let db = crashed.join("arbdesk.sqlite");
        let mut done = 0;
        if db.exists()
            && let Ok(c) = rusqlite::Connection::open(&db)
        {
            done = c
                .query_row(
                    "SELECT byte_offset FROM checkpoints WHERE key = ?1",
                    [&key],
                    |r| r.get::<_, i64>(0),
                )
                .map_or(0, |v| v as u64);
        }
        if done > 0 {
            assert!(
                done < size,
                "the import finished before it could be killed; make the file larger"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the import made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no rollback.
    child.wait().unwrap();
    assert_eq!(integrity(&crashed.join("arbdesk.sqlite")), "ok");
    // A fresh store loads in bulk, without its sort indexes until the end.
    assert_eq!(sort_indexes(&crashed.join("arbdesk.sqlite")), 0);

    let out = import(&file, &crashed).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Resuming"),
        "the second run resumes"
    );
    assert_eq!(integrity(&crashed.join("arbdesk.sqlite")), "ok");
    assert_eq!(sort_indexes(&crashed.join("arbdesk.sqlite")), 3);
    assert_eq!(
        counts(&crashed).await,
        expected,
        "(products, listings, opportunities) equal a clean import"
    );

    // Running it once more changes nothing: idempotent.
    let out = import(&file, &crashed).output().unwrap();
    assert!(out.status.success());
    assert_eq!(counts(&crashed).await, expected);
}
