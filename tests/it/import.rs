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

/// The simulated lines here: no history, 90 days of stats, Buy Box data.
const LINE_OPTIONS: Options = Options::new().with_stats(90).with_buybox();

/// The line of simulated product `n` in `market`, as `write_file` writes it.
fn product_line(n: u64, market: Market) -> String {
    let asin = asin_from(n).parse().unwrap();
    serde_json::to_string(&Catalog::new(7).product(&asin, market, T0, LINE_OPTIONS)).unwrap()
}

/// A JSON-lines file of simulated Keepa products with four bad lines, one not UTF-8.
fn write_file(dir: &Path, lines: u64) -> PathBuf {
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
            _ => product_line((n - 1) / 4, markets[((n - 1) % 4) as usize]),
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

/// Waits until the import into `data` has committed its first batches of the file `key`
/// names (of `size` bytes), but not all of them.
async fn first_batch_committed(data: &Path, key: &str, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Read with a bare connection: opening the store would end the bulk load.
        let db = data.join("arbdesk.sqlite");
        let mut done = 0;
        if db.exists()
            && let Ok(c) = rusqlite::Connection::open(&db)
        {
            done = c
                .query_row(
                    "SELECT byte_offset FROM checkpoints WHERE key = ?1",
                    [key],
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
    let err = String::from_utf8_lossy(&out.stderr);
    // Done, with lines skipped: neither success (0) nor failure (1).
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("warning: 4 bad lines of ") && err.contains("skipped (listed above)"),
        "{err}"
    );
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
    let modified = std::fs::metadata(&file)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let key = format!(
        "import:{}:{size}:{modified}",
        std::fs::canonicalize(&file).unwrap().display()
    );
    first_batch_committed(&crashed, &key, size).await;
    child.kill().unwrap(); // SIGKILL: no destructors, no rollback.
    child.wait().unwrap();
    assert_eq!(integrity(&crashed.join("arbdesk.sqlite")), "ok");
    // A fresh store loads in bulk, without its sort indexes until the end.
    assert_eq!(sort_indexes(&crashed.join("arbdesk.sqlite")), 0);

    // The killed run had no --rejects: the resumed run's file holds only the bad lines it
    // read itself, and says which it lacks.
    let rejects = dir.path().join("resumed-rejects.tsv");
    let out = import(&file, &crashed)
        .arg("--rejects")
        .arg(&rejects)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Resuming"), "the second run resumes: {err}");
    let listed = std::fs::read_to_string(&rejects).unwrap().lines().count();
    assert!(listed < 4, "line 7 was read by the killed run: {listed}");
    assert!(
        err.contains(&format!(
            "resumed-rejects.tsv lacks {}",
            if listed == 3 {
                "1 bad line".to_string()
            } else {
                format!("{} bad lines", 4 - listed)
            }
        )) && err.contains("`arbdesk import /")
            && err.contains("resumed-rejects.tsv`, with this run's other options"),
        "{err}"
    );
    // Line 7, bad, was in the batches the killed run committed: the file's bad lines are
    // still counted whole, and the exit status says so.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("; 4 bad lines skipped."),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains("by the interrupted run this one resumed"),
        "{err}"
    );
    assert_eq!(integrity(&crashed.join("arbdesk.sqlite")), "ok");
    assert_eq!(sort_indexes(&crashed.join("arbdesk.sqlite")), 3);
    assert_eq!(
        counts(&crashed).await,
        expected,
        "(products, listings, opportunities) equal a clean import"
    );

    // Running it once more says there is nothing to do; with --restart it imports the
    // whole file again, which changes nothing: idempotent.
    let out = import(&file, &crashed).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the last run's skipped lines still count"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("imported completely before"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A run killed after its last batch, before it recorded its outcome: the counts kept
    // beside its last checkpoint still say so.
    let c = rusqlite::Connection::open(crashed.join("arbdesk.sqlite")).unwrap();
    let removed = c
        .execute(
            "DELETE FROM checkpoints WHERE key IN (?1 || ':bad', ?1 || ':imported')",
            [&key],
        )
        .unwrap();
    assert_eq!(removed, 2);
    drop(c);
    let out = import(&file, &crashed).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("skipped 4 bad lines"), "{err}");
    let out = import(&file, &crashed).arg("--restart").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Imported 2,396 product lines"));
    assert_eq!(counts(&crashed).await, expected);

    // Stopped by SIGTERM (a service manager, `kill`): it says how to go on, exits 143,
    // and the next run resumes to the same store.
    #[cfg(unix)]
    {
        let termed = dir.path().join("termed");
        let child = import(&file, &termed)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        first_batch_committed(&termed, &key, size).await;
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(143), "{err}");
        assert!(
            err.contains("Interrupted: run the same command again to resume"),
            "{err}"
        );
        assert_eq!(integrity(&termed.join("arbdesk.sqlite")), "ok");
        let out = import(&file, &termed).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("Resuming"));
        assert_eq!(counts(&termed).await, expected);
    }
}

/// A file rewritten with other lines of the same length and its modification time set
/// back (`touch -r`) is no longer the file its checkpoint was for: its first bytes differ,
/// so it is imported from the start instead of taken as read.
#[tokio::test]
async fn a_file_rewritten_with_its_time_set_back_is_imported_again() {
    let dir = tempfile::tempdir().unwrap();
    let (file, data) = (dir.path().join("same.jsonl"), dir.path().join("data"));
    let first = product_line(1, Market::DE);
    // Another product's line of the same length.
    let second = first.replace(&asin_from(1), &asin_from(2));
    assert_eq!(first.len(), second.len());
    std::fs::write(&file, format!("{first}\n")).unwrap();
    let out = import(&file, &data).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, format!("{second}\n")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = import(&file, &data).output().unwrap();
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout} {err}");
    assert!(
        err.contains("same.jsonl starts with other lines than when it was last imported"),
        "{err}"
    );
    assert!(stdout.contains("Imported 1 product line"), "{stdout}");
    assert_eq!(counts(&data).await.1, 2, "both listings are stored");
    // Run again unchanged, it is the file just read.
    let out = import(&file, &data).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("other lines"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bad line fixed in place, the file keeping its length, is imported by the next run: the
/// file changed, so it is not the one the checkpoint says was read to its end.
#[tokio::test]
async fn a_line_fixed_in_place_is_imported_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (file, data) = (dir.path().join("fix.jsonl"), dir.path().join("data"));
    let good = product_line(1, Market::DE);
    // Domain 3 (DE) mistyped as 6 (Canada), a market arbdesk does not cover: same length.
    let bad = good.replacen("\"domainId\":3", "\"domainId\":6", 1);
    assert!(bad != good && bad.len() == good.len());
    std::fs::write(&file, format!("{bad}\n")).unwrap();
    let out = import(&file, &data).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The fix, written a moment later so that the modification time moves on any file
    // system.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, format!("{good}\n")).unwrap();
    let out = import(&file, &data).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout} {err}");
    assert!(stdout.contains("Imported 1 product line"), "{stdout}");
    assert!(
        err.contains("fix.jsonl has changed since it was last imported"),
        "it says why it starts over: {err}"
    );
    assert_eq!(counts(&data).await.1, 1, "the listing is stored");

    // A listing Keepa marks as no standard product (productType 4: an invalid ASIN) is
    // stored for scheduling, and the summary says it makes no product.
    let gone = product_line(2, Market::DE).replacen("\"productType\":0", "\"productType\":4", 1);
    assert!(gone.contains("\"productType\":4"), "{gone}");
    let other = dir.path().join("gone.jsonl");
    std::fs::write(&other, format!("{good}\n{gone}\n")).unwrap();
    let out = import(&other, &data).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "Of the 2 product lines imported, 1 is a listing that Keepa marks as no standard product"
        ),
        "{err}"
    );
}

/// A file with no good line is an error, not a successful import of nothing.
#[test]
fn a_file_of_bad_lines_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "not json\n{\"asin\": 3}\n").unwrap();
    let out = import(&file, &dir.path().join("data")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 1: ") && err.contains("line 2: "),
        "{err}"
    );
    assert!(err.contains("all 2 are bad"), "{err}");
    // Run again on the unchanged file: still a failure, so a retrying script does not pass.
    let again = import(&file, &dir.path().join("data")).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains("found all 2 bad"), "{err}");
}

/// Past the first 20 shown on standard error, `--rejects FILE` has every bad line's number
/// and why; without it, the summary says how to get them.
#[test]
fn rejects_has_every_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let mut text: String = (1..=25).map(|n| format!("not json {n}\n")).collect();
    text.push_str(&product_line(1, Market::DE));
    text.push('\n');
    std::fs::write(&file, text).unwrap();
    let out = import(&file, &dir.path().join("data")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("… and 5 bad lines more (the first 20 are shown; --restart --rejects FILE imports it again"),
        "{err}"
    );
    let rejects = dir.path().join("rejects.tsv");
    let out = import(&file, &dir.path().join("data2"))
        .arg("--rejects")
        .arg(&rejects)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("every one is in"), "{err}");
    let written = std::fs::read_to_string(&rejects).unwrap();
    let numbers: Vec<u64> = written
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=25).collect::<Vec<u64>>(), "{written}");
    assert!(
        written
            .lines()
            .all(|l| l.split('\t').nth(1).is_some_and(|r| !r.is_empty()))
    );
    // Never the store's own file: refused before anything is written.
    let data2 = dir.path().join("data2");
    let db = data2.join("arbdesk.sqlite");
    let out = import(&file, &data2)
        .arg("--restart")
        .arg("--rejects")
        .arg(&db)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a bad argument: {err}");
    assert!(
        err.contains("is the store's database file") && err.contains("give --rejects another"),
        "{err}"
    );
    assert_eq!(integrity(&db), "ok");
    // A rejects file in a directory that does not exist is a bad argument, said before a
    // store is made.
    let out = import(&file, &dir.path().join("data6"))
        .arg("--rejects")
        .arg(dir.path().join("no such dir").join("r.tsv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no such dir does not exist") && err.contains("mkdir -p"),
        "{err}"
    );
    assert!(!dir.path().join("data6").join("arbdesk.sqlite").exists());
    // One that cannot be created (its "directory" is a file) stops the run before its bulk
    // load begins.
    let out = import(&file, &dir.path().join("data5"))
        .arg("--rejects")
        .arg(file.join("r.tsv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        sort_indexes(&dir.path().join("data5").join("arbdesk.sqlite")),
        3
    );
    // A file that is not there is a bad argument, and leaves no new store behind.
    let data = dir.path().join("data4");
    let out = import(&dir.path().join("missing.jsonl"), &data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!data.join("arbdesk.sqlite").exists());
    // Never the input itself.
    let out = import(&file, &dir.path().join("data3"))
        .arg("--rejects")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad argument");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the file being imported"));
}

/// A line whose `lastUpdate` lies days after the import reads it is a bad line, named with
/// its number and the field; the others are imported.
#[test]
fn a_line_updated_in_the_future_is_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.jsonl");
    let mut future: serde_json::Value = serde_json::from_str(&product_line(2, Market::DE)).unwrap();
    // Three days from now, in Keepa minutes.
    let minute = chrono::Utc::now().timestamp() / 60 + 3 * 24 * 60 - 21_564_000;
    future["lastUpdate"] = serde_json::json!(minute);
    let text = format!(
        "{}\n{future}\n{}\n",
        product_line(1, Market::DE),
        product_line(3, Market::DE)
    );
    std::fs::write(&file, text).unwrap();
    let out = import(&file, &dir.path().join("data")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("line 2")
            && err.contains("lastUpdate")
            && err.contains("is after the product was read"),
        "{err}"
    );
}

/// A gzip file is named as such, not read as thousands of bad lines.
#[test]
fn a_gzip_file_is_refused_with_how_to_read_it() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my products.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{}\n").unwrap();
    std::fs::write(&file, gz.finish().unwrap()).unwrap();
    let out = import(&file, &dir.path().join("data")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a bad argument: {err}");
    assert!(
        err.contains("is gzip-compressed") && err.contains("products.jsonl.gz' | arbdesk import -"),
        "the path is quoted for the shell: {err}"
    );
    assert!(!err.contains("line 1"), "{err}");
    // The same on standard input.
    let mut child = import(Path::new("-"), &dir.path().join("data"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&file).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "plainly not JSON lines: {err}");
    assert!(err.contains("standard input is gzip-compressed"), "{err}");
}

/// Standard input (`-`) imports like a file, from the start and without a checkpoint; a
/// byte-order mark before the first line is not part of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_input_imports_and_a_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 120);
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend(std::fs::read(&file).unwrap());
    let data = dir.path().join("data");
    let mut child = import(Path::new("-"), &data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    // Line 7 is the only bad line of the first 120: line 1, after the mark, is good.
    assert!(
        stderr.contains("line 7: ") && !stderr.contains("line 1: "),
        "{stderr}"
    );
    assert!(
        stdout.contains("Imported 119 product lines from standard input"),
        "{stdout}"
    );
    // The same file by its path imports the same products.
    let by_path = dir.path().join("by-path");
    let out = import(&file, &by_path).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(counts(&data).await, counts(&by_path).await);
}

/// Splits one CSV line into fields (quoted fields may hold commas and doubled quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn export(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .arg("export")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap()
}

/// `export -o` refuses the store's own files (the database, its WAL), which creating the
/// output would have truncated, and the store stays whole.
#[tokio::test]
async fn export_refuses_to_overwrite_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 100);
    let data = dir.path().join("data");
    import(&file, &data).output().unwrap();
    let before = counts(&data).await;
    assert!(before.2 > 0);
    let db = data.join("arbdesk.sqlite");
    // The same file by another spelling, through a hard link, and the companion WAL
    // that does not exist while no process has the store open (SQLite would delete the
    // export with it).
    let other = data.join(".").join("arbdesk.sqlite");
    let linked = dir.path().join("hard.sqlite");
    std::fs::hard_link(&db, &linked).unwrap();
    let wal = data.join("arbdesk.sqlite-wal");
    assert!(!wal.exists());
    for (target, says) in [
        (&db, "database file"),
        (&other, "database file"),
        (&linked, "database file"),
        (&wal, "-wal companion"),
    ] {
        let out = export(&data, &["--format", "csv", "-o", target.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a bad argument: {err}");
        assert!(
            err.contains(says) && err.contains("give -o another"),
            "{err}"
        );
    }
    assert_eq!(counts(&data).await, before, "the store is untouched");
    // A directory, or a file in a directory that is not there, is a bad argument too.
    let missing = dir.path().join("nowhere").join("rows.csv");
    for (target, says) in [
        (dir.path().to_path_buf(), "is a directory"),
        (missing, "nowhere does not exist"),
    ] {
        let out = export(&data, &["--format", "csv", "-o", target.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a bad argument: {err}");
        assert!(err.contains(says), "{err}");
    }
    // Any other existing file is overwritten as asked.
    let elsewhere = dir.path().join("rows.csv");
    std::fs::write(&elsewhere, "old").unwrap();
    let out = export(
        &data,
        &["--format", "csv", "-o", elsewhere.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&elsewhere)
            .unwrap()
            .starts_with("asin,")
    );
    // `-o -` is standard output, not a file named `-`.
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["export", "--format", "csv", "-o", "-", "--data-dir"])
        .arg(&data)
        .env_remove("ARBDESK_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("asin,"));
    assert!(!dir.path().join("-").exists());
}

/// `export` writes every stored row as CSV (prices in their market's currency) or JSON,
/// filters as the API does, and refuses a bad filter naming the flag.
#[tokio::test]
async fn export_writes_the_stored_rows_as_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 400);
    let data = dir.path().join("data");
    assert_eq!(
        import(&file, &data).output().unwrap().status.code(),
        Some(3)
    );
    let (_, _, rows) = counts(&data).await;
    assert!(rows > 0);

    let out = export(&data, &["--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header = csv_fields(lines.next().unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let lines: Vec<Vec<String>> = lines.map(csv_fields).collect();
    assert_eq!(lines.len() as u64, rows, "every stored row");
    for f in &lines {
        assert_eq!(f.len(), header.len(), "{f:?}");
        for (market, currency) in [
            ("buy_market", "buy_currency"),
            ("sell_market", "sell_currency"),
        ] {
            let want = if f[col(market)] == "UK" { "GBP" } else { "EUR" };
            assert_eq!(f[col(currency)], want, "{f:?}");
        }
        for price in [
            "buy_price",
            "sell_price",
            "max_buy_price",
            "target_sell_price",
        ] {
            let v = &f[col(price)];
            assert!(v.is_empty() || v.parse::<f64>().is_ok(), "{price} {v:?}");
        }
        // A store only ever imported into is marked by no source.
        assert_eq!(f[col("source")], "", "{f:?}");
        // Where the figures came from: both sides' Keepa times, the rate and the tables.
        for time in ["buy_observed_at", "sell_observed_at"] {
            assert!(
                chrono::DateTime::parse_from_rfc3339(&f[col(time)]).is_ok(),
                "{time}: {f:?}"
            );
        }
        assert!(
            f[col("fx_rate")].contains("GBP") && f[col("fx_rate")].contains(&f[col("fx_date")]),
            "{f:?}"
        );
        for table in ["vat_table", "fee_table"] {
            assert!(
                chrono::NaiveDate::parse_from_str(&f[col(table)], "%Y-%m-%d").is_ok(),
                "{table}: {f:?}"
            );
        }
        // The sell market's demand, as whole numbers where Keepa gave them.
        for n in ["sales_rank", "monthly_sold", "rank_drops30"] {
            let v = &f[col(n)];
            assert!(v.is_empty() || v.parse::<i64>().is_ok(), "{n} {v:?}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|f| !f[col("sales_rank")].is_empty() && !f[col("brand")].is_empty()),
        "the simulator's products have a rank and a brand"
    );
    // A limit of no rows (or fewer) is refused, as the API's is.
    for bad in ["0", "-1", "x"] {
        let out = export(&data, &["--limit", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("expected a whole number ≥ 1"), "{err}");
    }
    // Cut by --limit on standard output: the rows there, the cut said on standard error.
    let out = export(&data, &["--format", "csv", "--limit", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "Wrote 2 of {} opportunities: the first by expected monthly profit (--limit 2); \
             --limit {rows} exports them all.",
            arbdesk::domain::text::thousands(rows)
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // In another order, as the API's `sort` and `order` spell it.
    let out = export(&data, &["--sort", "roi_pct", "--order", "asc"]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let rois: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| csv_fields(l)[col("roi_pct")].clone())
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(rois.len() > 1 && rois.is_sorted(), "{rois:?}");
    let out = export(
        &data,
        &[
            "--format",
            "json",
            "--sort",
            "gross_margin_pct",
            "--limit",
            "3",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["meta"]["sort"], "gross_margin_pct desc");
    let gross: Vec<f64> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["gross_margin_pct"].as_f64().unwrap())
        .collect();
    assert!(
        gross.len() == 3 && gross.is_sorted_by(|a, b| a >= b),
        "{gross:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the first by gross margin (--limit 3)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = export(&data, &["--sort", "margin"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("roi_pct") && err.contains("expected_monthly_profit"),
        "{err}"
    );

    let out = export(
        &data,
        &[
            "--format",
            "json",
            "--buy",
            "de,it",
            "--min-profit",
            "-0.5",
            "--min-margin",
            "-5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let picked = doc["rows"].as_array().unwrap();
    let want = lines
        .iter()
        .filter(|f| ["DE", "IT"].contains(&f[col("buy_market")].as_str()))
        .filter(|f| f[col("net_profit_eur")].parse::<f64>().unwrap() >= -0.5)
        .filter(|f| f[col("gross_margin_pct")].parse::<f64>().unwrap() >= -5.0)
        .count();
    assert_eq!(picked.len(), want);
    for r in picked {
        assert!(
            ["DE", "IT"].contains(&r["buy_market"].as_str().unwrap()),
            "{r}"
        );
        assert!(r["net_profit"]["amount"].as_i64().unwrap() >= -50, "{r}");
        // Shaped as the API's items, breakdown included.
        let o = r.as_object().unwrap();
        for key in [
            "brand",
            "sales_rank",
            "buy_url",
            "sell_url",
            "flags",
            "breakdown",
        ] {
            assert!(o.contains_key(key), "{key}: {r}");
        }
        assert!(!o.contains_key("sell_facts"), "{r}");
        assert!(
            !r["breakdown"]["lines"].as_array().unwrap().is_empty(),
            "{r}"
        );
    }
    // The filter as it was given: euros, and nothing that was not asked for.
    assert_eq!(
        doc["meta"]["filter"],
        serde_json::json!({"min_margin": -5.0, "min_profit": -0.5, "buy": ["DE", "IT"]})
    );
    // The same rows explained as stored: no warning. With a config whose VAT differs from
    // the one the rows were computed with, the figures move, and the export says so.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("other-vat.toml");
    std::fs::write(
        &config,
        "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.20, DE = 0.25, FR = 0.20, IT = 0.22, ES = 0.21 }\nreduced = { books = { UK = 0.0, DE = 0.07, FR = 0.055, IT = 0.04, ES = 0.04 } }\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let plain = export(&data, &["--format", "json"]);
    let out = export(&data, &["--format", "json", "--config", config]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("rows are exported without breakdown lines"),
        "{err}"
    );
    // The stored figures, not recomputed ones: the file matches the server's answer.
    let rows_of = |out: &std::process::Output| -> Vec<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["rows"].as_array().unwrap().clone()
    };
    let (stored, other) = (rows_of(&plain), rows_of(&out));
    assert_eq!(stored.len(), other.len());
    for (a, b) in stored.iter().zip(&other) {
        assert_eq!(a["net_profit"], b["net_profit"], "{b}");
    }
    assert!(
        other
            .iter()
            .any(|r| r["breakdown"]["unexplained"].is_string())
    );

    // The tracked markets keep the routes between them, as the console shows them; one
    // market alone has no route, and says so.
    let out = export(&data, &["--markets", "de,it,fr"]);
    let between = String::from_utf8(out.stdout).unwrap().lines().count() - 1;
    let want = lines
        .iter()
        .filter(|f| ["DE", "IT", "FR"].contains(&f[col("buy_market")].as_str()))
        .filter(|f| ["DE", "IT", "FR"].contains(&f[col("sell_market")].as_str()))
        .count();
    assert!(want > 0 && want < lines.len());
    assert_eq!(between, want);
    let out = export(&data, &["--markets", "uk"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--markets names one market (UK)"), "{err}");

    // --filter takes the console's grammar: the same rows as filtering the full CSV.
    let out = export(&data, &["--filter", "src=de,it !dst=uk margin>5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let filtered = String::from_utf8(out.stdout).unwrap().lines().count() - 1;
    let want = lines
        .iter()
        .filter(|f| ["DE", "IT"].contains(&f[col("buy_market")].as_str()))
        .filter(|f| f[col("sell_market")] != "UK")
        .filter(|f| f[col("gross_margin_pct")].parse::<f64>().unwrap() > 5.0)
        .count();
    assert!(want > 0 && want < lines.len());
    assert_eq!(filtered, want);

    for (args, says) in [
        (["--filter", "rio>5"], "unknown field 'rio'"),
        (["--min-margin", "NaN"], "'NaN' is not a number"),
        (["--min-roi", "inf"], "'inf' is not a number"),
        (["--min-profit", "1.234"], "has more than 2 decimals"),
        (
            ["--min-profit", "1e20"],
            "has an exponent: write the amount in digits",
        ),
        (["--min-profit", "3.5x"], "is not an amount of euros"),
    ] {
        let out = export(&data, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[0]) && err.contains(says),
            "{args:?}: {err}"
        );
    }
}

/// A filter over the store selects exactly the rows that match it, in the store's order,
/// whatever part of it the store answers itself (bounds, markets) and however the rows are
/// read: the same as matching every stored row one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_selects_exactly_the_rows_that_match_it() {
    use arbdesk::filter::{Filter, select_in_chunks};
    use arbdesk::store::OpportunityFilter;

    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 400);
    let data = dir.path().join("data");
    import(&file, &data).output().unwrap();
    let store = SqliteStore::open(&data.join("arbdesk.sqlite")).unwrap();
    let all = store
        .opportunities(OpportunityFilter {
            limit: 1_000_000,
            ..OpportunityFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert!(all.len() > 100, "{} rows", all.len());
    let now = chrono::Utc::now();
    // Thresholds at the data's medians, so each bound splits the rows.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let with_net: Vec<_> = all.iter().filter(|o| o.has_net()).collect();
    let roi = median(with_net.iter().map(|o| o.roi_pct).collect());
    let net = median(with_net.iter().map(|o| o.net_margin_pct).collect());
    let profit = median(
        with_net
            .iter()
            .map(|o| o.net_profit.minor as f64 / 100.0)
            .collect(),
    );
    let margin = median(all.iter().map(|o| o.gross_margin_pct).collect());
    let some = all[all.len() / 3].gross_margin_pct;
    for q in [
        format!("roi>={roi}"),
        format!("roi>{roi} src=de,it"),
        format!("margin>={margin} !src=uk"),
        format!("margin={}", some + 0.003),
        format!("net>{net} dst=fr,de"),
        format!("profit>={profit}"),
        format!("profit>{profit} route=it>de,es>de,de>fr,fr>de"),
        "src=de src=it".to_string(),
        "route=uk>de dst=fr".to_string(),
        format!("!roi>={roi} margin>{margin}"),
        format!("profit<{profit} margin>{margin}"),
        format!("profit={profit}"),
    ] {
        let q = q.as_str();
        let filter = Filter::parse(q).unwrap();
        let want: Vec<_> = all
            .iter()
            .filter(|o| filter.matches(*o, now))
            .map(|o| o.key())
            .collect();
        for (chunk, offset) in [(10_000, 0), (7, 0), (7, 3)] {
            let page = select_in_chunks(
                &store,
                OpportunityFilter {
                    limit: 1_000_000,
                    offset,
                    ..OpportunityFilter::default()
                },
                &filter,
                now,
                chunk,
            )
            .await
            .unwrap();
            let got: Vec<_> = page.items.iter().map(|o| o.key()).collect();
            assert_eq!(page.total as usize, want.len(), "{q}");
            assert_eq!(got, want[offset.min(want.len())..], "{q}, chunk {chunk}");
        }
    }
}

/// A store of demo prices takes no imported lines (Keepa's product objects would be shown
/// beside the simulator's, as simulated); a store fed by Keepa, or only imported into,
/// takes them.
#[tokio::test]
async fn a_store_of_demo_prices_refuses_an_import() {
    use arbdesk::commands::data_source::claim;
    use arbdesk::pipeline::Source;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 40);
    for (mark, imported) in [
        (Some(Source::Demo), false),
        (Some(Source::Live), true),
        (None, true),
    ] {
        let data = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&data.path().join("arbdesk.sqlite")).unwrap();
        if let Some(mark) = mark {
            claim(&store, mark, "here", None).await.unwrap();
        }
        drop(store);
        let out = import(&file, data.path()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if imported {
            // The file has a bad line on purpose: code 3, the rest imported.
            assert_eq!(out.status.code(), Some(3), "{mark:?}: {err}");
            assert!(counts(data.path()).await.0 > 0);
        } else {
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(
                err.contains("holds demo (simulated) prices") && err.contains("--data-dir"),
                "{err}"
            );
            assert_eq!(counts(data.path()).await.0, 0, "nothing imported");
        }
    }
}

/// A store only imported into holds Keepa's lines: a process with no key (the simulator)
/// refuses to fetch into it, saying what to do instead, and leaves it unmarked; serving it
/// without fetching works, and a process with a key marks it live.
#[tokio::test]
async fn a_store_only_imported_into_is_not_fed_simulated_prices() {
    use arbdesk::commands::data_source::{claim, of};
    use arbdesk::pipeline::Source;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 40);
    let out = import(&file, dir.path()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = counts(dir.path()).await;
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["--serve", "--api-addr", "off", "--data-dir"])
        .arg(dir.path())
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no record of their source")
            && err.contains("KEEPA_API_KEY")
            && err.contains("--role api"),
        "{err}"
    );
    assert_eq!(counts(dir.path()).await, before, "nothing fetched into it");
    let store = SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    assert_eq!(of(&store).await.unwrap(), None, "left unmarked");
    claim(&store, Source::Live, "here", None).await.unwrap();
    assert_eq!(of(&store).await.unwrap(), Some(Source::Live));
}

/// Holds the import lock of the store in `data`, as a running import would, naming
/// `holder` in it.
fn hold_import_lock(data: &Path, holder: &str) -> std::fs::File {
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join("arbdesk.sqlite.import"))
        .unwrap();
    held.try_lock().unwrap();
    (&held).write_all(holder.as_bytes()).unwrap();
    held
}

/// A process with no Keepa key refuses a new store that an import is writing Keepa's lines
/// into (it would price the same ASINs beside them), and marks it demo once none is.
#[tokio::test]
async fn a_demo_process_does_not_claim_a_store_an_import_is_writing() {
    use arbdesk::commands::data_source::{claim, of};
    use arbdesk::pipeline::Source;
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("arbdesk.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    let held = hold_import_lock(data.path(), "4242 keepa.jsonl");
    let refused = claim(&store, Source::Demo, "here", Some(&db))
        .await
        .expect_err("an import is writing")
        .to_string();
    assert!(
        refused.contains(
            "Another arbdesk import (pid 4242, of keepa.jsonl) is importing Keepa's product \
             lines into here"
        ) && refused.contains("--data-dir"),
        "{refused}"
    );
    assert_eq!(of(&store).await.unwrap(), None, "left unmarked");
    // A process with a key takes imported lines: an import is no reason to refuse it.
    claim(&store, Source::Live, "here", Some(&db))
        .await
        .unwrap();
    drop(held);
    let fresh = tempfile::tempdir().unwrap();
    let db = fresh.path().join("arbdesk.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    claim(&store, Source::Demo, "here", Some(&db))
        .await
        .unwrap();
    assert_eq!(of(&store).await.unwrap(), Some(Source::Demo));
}

/// An import reads the store's source only once it holds the import lock, which a demo
/// process holds while it marks a new store: an import that waited for the lock meanwhile
/// then finds the store demo, and imports nothing into it.
#[tokio::test]
async fn an_import_that_waited_for_a_demo_process_finds_its_mark() {
    use arbdesk::commands::data_source::claim;
    use arbdesk::pipeline::Source;
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 40);
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("arbdesk.sqlite");
    drop(SqliteStore::open(&db).unwrap());
    let held = hold_import_lock(data.path(), "4243 (a demo process marking the store)");
    let mut child = import(&file, data.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("is importing into"), "{first}");
    // The demo process marks the store while the import waits, then lets go.
    let store = SqliteStore::open(&db).unwrap();
    claim(&store, Source::Demo, "here", None).await.unwrap();
    drop(store);
    drop(held);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{rest}");
    assert!(rest.contains("holds demo (simulated) prices"), "{rest}");
    assert_eq!(counts(data.path()).await.0, 0, "nothing imported");
}

/// Two imports of one file into one store at once: the one that comes second waits for the
/// first, naming it, and then finds the file imported rather than importing it again. The
/// test holds the store's import lock first, as a running import would, until both have
/// said they wait; which of the two goes first is then theirs to settle.
#[test]
fn a_second_import_into_a_store_waits_for_the_first_and_does_not_do_its_work_again() {
    use std::io::BufRead;
    use std::os::unix::fs::DirBuilderExt;
    use std::sync::mpsc;

    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), 1_200);
    let data = dir.path().join("data");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&data)
        .unwrap();
    let held = hold_import_lock(&data, "4242 earlier.jsonl");

    // Each import's standard error, line by line, as it comes.
    let start = || {
        let mut child = import(&file, &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        (child, rx)
    };
    let waits = |rx: &mpsc::Receiver<String>| -> String {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the import said nothing while the lock was held");
        assert!(line.contains("is importing into"), "{line}");
        line
    };
    let (mut a, a_err) = start();
    let said = waits(&a_err);
    assert!(
        said.contains("Another arbdesk import (pid 4242, of earlier.jsonl)"),
        "{said}"
    );
    let (mut b, b_err) = start();
    waits(&b_err);
    assert!(a.try_wait().unwrap().is_none() && b.try_wait().unwrap().is_none());
    drop(held);

    // Exit status, then standard output and the rest of standard error.
    let rest = |child: &mut std::process::Child, rx: mpsc::Receiver<String>| {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        let status = child.wait().unwrap();
        let err = rx.iter().collect::<Vec<_>>().join("\n");
        (status.code(), format!("{out}\n{err}"))
    };
    let (a, b) = (rest(&mut a, a_err), rest(&mut b, b_err));
    let (first, second) = if a.1.contains("was imported completely before") {
        (b, a)
    } else {
        (a, b)
    };
    // One imported the file (exit 3: it has bad lines); the other, which had waited too,
    // read the checkpoint that one left and found nothing left to do.
    assert_eq!(first.0, Some(3), "{}", first.1);
    assert!(
        first.1.contains("Imported 1,197 product lines"),
        "{}",
        first.1
    );
    assert!(
        second.1.contains("was imported completely before"),
        "{}",
        second.1
    );
    assert!(!second.1.contains("Imported 1,197"), "{}", second.1);
}
