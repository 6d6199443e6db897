//! The real binary's command line: every flag is documented in `--help`.

use std::process::Command;

use arbdesk::cli::Cli;
use clap::CommandFactory;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_documents_every_flag_of_every_command() {
    let cmd = Cli::command();
    let mut checked = 0;
    let mut check = |path: &[&str], c: &clap::Command| {
        let text = help(path);
        for arg in c.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    text.contains(&format!("--{long}")),
                    "`arbdesk {} --help` lacks --{long}",
                    path.join(" ")
                );
                let doc = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(!doc.is_empty(), "--{long} has no description");
                checked += 1;
            }
        }
    };
    check(&[], &cmd);
    for sub in cmd.get_subcommands() {
        check(&[sub.get_name()], sub);
    }
    assert!(checked > 10);
}

/// A fetch shows what arrived: products that come back unusable are a partial result
/// (exit 3); the rest is printed. (A market that fails: `client::a_failed_market_...`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_shows_what_arrived_and_says_what_did_not() {
    use super::util::spawn_sim;
    use arbdesk::keepa::sim::{Faults, SimConfig};
    let (sim, addr) = spawn_sim(SimConfig::default()).await;
    let fetch = |markets: &'static str| {
        let url = format!("http://{addr}/");
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_arbdesk"))
                .args(["fetch", "B0E0000004", "B0E0000005", "--markets", markets])
                .args(["--keepa-url", &url, "--keepa-key", "K"])
                .env_remove("KEEPA_API_KEY")
                .env_remove("ARBDESK_CONFIG")
                .output()
                .unwrap()
        })
    };
    sim.set_faults(Faults {
        malformed_product_rate: 1.0,
        ..Faults::default()
    });
    let out = fetch("de,fr").await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("4 listings of the products"), "{err}");
    assert!(
        !err.contains("left out"),
        "malformed is not also left out: {err}"
    );
    sim.set_faults(Faults::default());
    let out = fetch("de,fr").await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("B0E0000005  FR"), "{text}");
}

#[test]
fn fetch_prints_demo_prices_without_a_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args([
            "fetch",
            "B0D1XD1ZV3",
            "B0DEMO0001",
            "B0DEMO0002",
            "B0DEMO0003",
            "B0DEMO0004",
            "B0DEMO0005",
            "B0DEMO0006",
            "B0DEMO0007",
            "--markets",
            "de,uk",
        ])
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_KEEPA_URL")
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Source: DEMO"), "{text}");
    assert!(
        text.contains("B0D1XD1ZV3  DE") && text.contains("B0D1XD1ZV3  UK"),
        "{text}"
    );
    // Prices in each market's currency. The simulator's stock moves with the clock, so a
    // product may be out of stock in a market at the moment; over eight, each currency shows.
    let lines = |m: &'static str| -> Vec<&str> {
        text.lines().filter(|l| l.get(12..14) == Some(m)).collect()
    };
    let (de, uk) = (lines("DE"), lines("UK"));
    assert!(de.len() == 8 && uk.len() == 8, "{text}");
    assert!(de.iter().all(|l| !l.contains('£')), "{text}");
    assert!(uk.iter().all(|l| !l.contains('€')), "{text}");
    assert!(de.iter().any(|l| l.contains('€')), "{text}");
    assert!(uk.iter().any(|l| l.contains('£')), "{text}");
}

#[test]
fn a_bad_market_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["fetch", "--markets", "xx", "B0D1XD1ZV3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("invalid market 'xx': expected one of UK, DE, FR, IT, ES"),
        "{err}"
    );
}

/// The simulator's fault and bucket options refuse values out of range by name, negative
/// ones included (read as values, not as flags).
#[test]
fn simulator_options_out_of_range_are_named() {
    for (args, says) in [
        (
            &["--error-rate", "-0.1"][..],
            "'-0.1' is not between 0.0 and 1.0",
        ),
        (
            &["--malformed-rate", "1.5"],
            "'1.5' is not between 0.0 and 1.0",
        ),
        (&["--refill-rate", "0"], "0 is not in 1.."),
        (&["--refill-rate", "-5"], "-5 is not in 1.."),
        (&["--accept-key", ""], "--accept-key"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .arg("keepa-sim")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Shell completions offer the market codes for the market lists, not file names (any
/// case still parses: `fetch_prints_demo_prices_without_a_key` gives `de,uk`).
#[test]
fn completions_offer_the_markets() {
    // They need no settings: a broken config file does not stop them.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "bogus = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["completions", "bash"])
        .env("ARBDESK_CONFIG", &broken)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    for flag in ["--markets", "--buy", "--sell"] {
        let case = script
            .split(&format!("{flag})"))
            .nth(1)
            .unwrap_or_else(|| panic!("no completion for {flag}"));
        let reply = case.lines().nth(1).unwrap_or_default();
        assert!(
            reply.contains(r#"compgen -W "UK DE FR IT ES""#),
            "{flag}: {reply}"
        );
    }
}

fn arbdesk(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("ARBDESK_CONFIG")
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_MARKETS")
        .output()
        .unwrap()
}

/// What `arbdesk args` prints on `data_dir`, which must succeed.
fn stdout_of(args: &[&str], data_dir: &std::path::Path) -> String {
    let out = arbdesk(args, data_dir);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One process fetches into a data dir: a second `--serve` (or console) that would fetch
/// too is refused with exit code 2, naming the first by its process id and what to do;
/// once the first has stopped, a new one starts.
#[test]
fn a_second_process_fetching_into_one_data_dir_is_refused() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(["--serve", "--api-addr", "off", "--data-dir"])
            .arg(dir.path())
            .env_remove("ARBDESK_CONFIG")
            .env_remove("KEEPA_API_KEY")
            .env_remove("ARBDESK_MARKETS")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let running = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("arbdesk is running"));
        assert!(running, "the first process did not start");
        // Keep reading its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        child
    };
    let stop = |mut child: std::process::Child| {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        child.wait().unwrap();
    };
    let first = start();
    let out = arbdesk(&["--serve", "--api-addr", "off"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("(pid {}) is fetching into", first.id()))
            && err.contains("arbdesk.sqlite")
            && err.contains("--role api"),
        "{err}"
    );
    stop(first);
    stop(start());
}

/// A console theme that is neither shipped nor a file is a bad value (exit code 2, naming
/// what exists), said before the console needs a terminal.
#[test]
fn a_console_theme_that_does_not_exist_is_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbdesk(&["--theme", "darkk"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("console.theme = 'darkk'") && err.contains("dark, light"),
        "{err}"
    );
}

/// An import file that is not there is a bad argument: exit code 2, saying what to give.
#[test]
fn importing_a_file_that_is_not_there_is_a_bad_argument() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let out = arbdesk(&["import", missing.to_str().unwrap()], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Cannot open") && err.contains("missing.jsonl") && err.contains("JSON-lines"),
        "{err}"
    );
}

/// A data dir arbdesk creates is its owner's only (it holds the store, logs and exports);
/// one that exists keeps its permissions.
#[cfg(unix)]
#[test]
fn a_new_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    stdout_of(&["watch", "add", "B07XJ8C8F5"], &data);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
    stdout_of(&["watch", "add", "B07XJ8C8F5"], &shared);
    assert_eq!(mode(&shared), 0o750);
}

/// `watch add` takes Amazon product links as a browser gives them, as well as ASINs.
#[test]
fn watch_add_takes_product_links() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbdesk(
        &[
            "watch",
            "add",
            "https://www.amazon.de/Zentro-Skillet/dp/B0D1XD1ZV3/ref=sr_1_1?th=1",
            "b07xj8c8f5",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = stdout_of(&["watch", "ls"], dir.path());
    assert!(
        listed.contains("B0D1XD1ZV3") && listed.contains("B07XJ8C8F5"),
        "{listed}"
    );
    let out = arbdesk(
        &["watch", "add", "https://www.amazon.de/s?k=pan"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not to a product page"));
}

/// A watched product fetched in some tracked markets only is not "fetched": `watch ls`
/// names the markets it has never been fetched in.
#[test]
fn watch_ls_names_the_markets_not_fetched_yet() {
    let dir = tempfile::tempdir().unwrap();
    let body = super::util::fixture("product_de.json");
    let product = &arbdesk::keepa::decode::product_list(body.as_bytes()).unwrap()[0];
    let lines = dir.path().join("one.jsonl");
    let line: serde_json::Value = serde_json::from_str(product).unwrap();
    std::fs::write(&lines, format!("{line}\n")).unwrap();
    stdout_of(
        &["import", lines.to_str().unwrap(), "--watch", "--quiet"],
        dir.path(),
    );
    let listed = stdout_of(&["watch", "ls"], dir.path());
    assert!(listed.contains("never in UK, FR, IT, ES"), "{listed}");
    let listed = stdout_of(&["--markets", "DE", "watch", "ls"], dir.path());
    assert!(!listed.contains("never"), "{listed}");
    // Filters as `GET /watchlist` takes them; the count says how many of all.
    let asin = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    stdout_of(&["watch", "add", "B0NEWNEW01"], dir.path());
    let pending = stdout_of(
        &["--markets", "DE,FR", "watch", "ls", "--pending"],
        dir.path(),
    );
    assert!(
        pending.contains(&asin) && pending.contains("B0NEWNEW01"),
        "{pending}"
    );
    assert!(pending.contains("2 ASINs watched."), "{pending}");
    let done = stdout_of(&["--markets", "DE", "watch", "ls", "--pending"], dir.path());
    assert!(
        !done.contains(&asin) && done.contains("1 ASIN shown, of 2 watched."),
        "{done}"
    );
    let users = stdout_of(&["watch", "ls", "--source", "user"], dir.path());
    assert!(
        users.contains("B0NEWNEW01") && !users.contains(&asin),
        "{users}"
    );
    let out = arbdesk(&["watch", "ls", "--source", "robot"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("user, discovery, import"));
}

/// Commands that read the store refuse a data dir without one, naming where they looked,
/// instead of creating an empty store that looks like an empty catalogue.
#[test]
fn reading_a_data_dir_without_a_store_is_an_error_not_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("typo");
    for args in [
        &["export"][..],
        &["watch", "ls"],
        &["watch", "rm", "B0D1XD1ZV3"],
        &["--serve", "--role", "api", "--api-addr", "127.0.0.1:0"],
    ] {
        let out = arbdesk(args, &empty);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a bad value: {args:?}: {err}");
        assert!(
            err.contains("No arbdesk store at") && err.contains("typo"),
            "{args:?}: {err}"
        );
        assert!(
            !empty.join("arbdesk.sqlite").exists(),
            "{args:?} created a store"
        );
    }
    // Adding to the watchlist is how a store starts; then reading it works.
    assert!(
        arbdesk(&["watch", "add", "B0D1XD1ZV3"], &empty)
            .status
            .success()
    );
    let out = arbdesk(&["watch", "ls"], &empty);
    assert!(String::from_utf8_lossy(&out.stdout).contains("B0D1XD1ZV3"));
    // An ASIN named twice is one ASIN.
    let out = arbdesk(&["watch", "add", "B0D1XD1ZV5", "B0D1XD1ZV5"], &empty);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("1 added to the watchlist; no process fetches for this store now"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = arbdesk(&["watch", "rm", "B0D1XD1ZV3", "B0D1XD1ZV4"], &empty);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "1 of 2 removed from the watchlist (B0D1XD1ZV4 was not on it); the removed product's data stays"
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A data dir that is a file is named as one, whatever the command.
    let file = empty.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    for args in [
        &["watch", "ls"][..],
        &["watch", "add", "B0D1XD1ZV3"],
        &["export"],
    ] {
        let out = arbdesk(args, &file);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "a bad argument: {args:?}: {err}"
        );
        assert!(
            err.contains("is a file, not a directory"),
            "{args:?}: {err}"
        );
    }
    // So is one that would have to be made inside a file.
    let out = arbdesk(&["watch", "add", "B0D1XD1ZV3"], &file.join("sub/dir"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a bad argument: {err}");
    assert!(
        err.contains("cannot be made") && err.contains("not-a-dir is a file, not a directory"),
        "{err}"
    );
}

/// `--api-addr` takes `localhost:PORT`, and says what is wrong with a bad address.
#[test]
fn api_addresses_are_read_or_refused_with_the_reason() {
    use arbdesk::cli::parse_api_addr;
    assert_eq!(
        parse_api_addr("localhost:8000"),
        Ok(Some("127.0.0.1:8000".parse().unwrap()))
    );
    assert_eq!(
        parse_api_addr("[::1]:80"),
        Ok(Some("[::1]:80".parse().unwrap()))
    );
    assert_eq!(parse_api_addr(" OFF "), Ok(None));
    for (bad, says) in [
        ("127.0.0.1:99999", "'99999' is not a port number"),
        ("example.com:80", "'example.com' is not an IP address"),
        ("127.0.0.1", "has no port"),
        ("18651", "has no IP address (e.g. 127.0.0.1:18651)"),
        ("::1", "has no port (e.g. [::1]:8000)"),
        ("[::1]", "has no port (e.g. [::1]:8000)"),
        ("", "empty"),
    ] {
        let e = parse_api_addr(bad).unwrap_err();
        assert!(e.contains(says) && e.contains("IP:PORT"), "{bad}: {e}");
    }
}

/// Detection needs two markets: `--markets DE` alone is refused for the pipeline (with the
/// reason), while `fetch` still looks up one market; `DE,de` is one market; `config show`
/// says so.
#[test]
fn one_market_is_refused_where_routes_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbdesk(
        &["--serve", "--markets", "DE,de", "--api-addr", "off"],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Markets DE:") && err.contains("at least two"),
        "{err}"
    );
    let out = arbdesk(&["fetch", "--markets", "de", "B0D1XD1ZV3"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `config show` shows such a setting as it is, and notes that the pipeline refuses it.
    let out = arbdesk(&["config", "show", "--markets", "de"], dir.path());
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    assert!(text.contains("markets = [\"DE\"]"), "{text}");
    assert!(err.contains("one market is enough for fetch"), "{err}");
    let out = arbdesk(&["config", "show", "--markets", "de,it"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("one market"), "{err}");
}

/// Role sets that would run and do nothing are refused with exit code 2: half a pipeline on
/// the in-process queue (no other process can reach it, and ingest would spend Keepa tokens
/// for nothing), a headless API-only process with the API off, and an API address given
/// to a process that serves none.
#[test]
fn role_sets_that_would_do_nothing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["--serve", "--role", "ingest", "--api-addr", "off"][..],
            "--role ingest without process",
        ),
        (
            &["--serve", "--role", "process,api", "--api-addr", "off"][..],
            "--role process without ingest",
        ),
        (
            &["--serve", "--role", "api", "--api-addr", "off"][..],
            "--role api with --api-addr off",
        ),
        (
            &[
                "--serve",
                "--role",
                "process",
                "--queue",
                "kafka",
                "--kafka-brokers",
                "127.0.0.1:9",
                "--api-addr",
                "127.0.0.1:0",
            ][..],
            "'127.0.0.1:0' with --role process: this process serves no API",
        ),
    ] {
        let out = arbdesk(args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Nothing was started: no store was created for the refused pipelines.
    assert!(!dir.path().join("arbdesk.sqlite").exists());
}

/// `docs/keys.md` is what `arbdesk keys --markdown` prints: the key reference cannot drift
/// from the registry and the shipped keymap. Regenerate it with
/// `cargo run -- keys --markdown > docs/keys.md`.
#[test]
fn the_key_reference_is_generated_from_the_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["keys", "--markdown"])
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/keys.md");
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == stored,
        "docs/keys.md is out of date: run `cargo run -- keys --markdown > docs/keys.md`"
    );
    for must in [
        "## table",
        "| `?` | `help` |",
        "## Commands",
        "`min-margin`",
    ] {
        assert!(generated.contains(must), "{must}");
    }
}

/// `bench-render` times frames at the terminal's size (200×60 without one) and says so.
#[test]
fn bench_render_reports_frame_times() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["bench-render", "--rows", "500", "--frames", "5"])
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("200×60, 500 rows") && text.contains("key to frame median"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["bench-render", "--rows", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `ARBDESK_READ_ONLY` takes the usual spellings of yes and no (`1`, `yes`, `on`, `true`,
/// and their opposites), as the README writes it; anything else is an error that names it.
#[test]
fn read_only_from_the_environment_takes_one_and_zero() {
    let dir = tempfile::tempdir().unwrap();
    let show = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(["config", "show"])
            .env("XDG_CONFIG_HOME", dir.path())
            .env_remove("ARBDESK_CONFIG")
            .env("ARBDESK_READ_ONLY", value)
            .output()
            .unwrap()
    };
    for (value, read_only) in [("1", true), ("yes", true), ("0", false), ("off", false)] {
        let out = show(value);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("read_only = {read_only}")),
            "{value}: {text}"
        );
    }
    let out = show("maybe");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("'maybe'") && err.contains("ARBDESK_READ_ONLY"),
        "{err}"
    );
    // A bad clipboard mode from the environment names the variable too.
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show"])
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("ARBDESK_CONFIG")
        .env("ARBDESK_CLIPBOARD", "bogus")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("'bogus'") && err.contains("ARBDESK_CLIPBOARD"),
        "{err}"
    );
}

/// Read-only holds for the commands too: `watch add`, `watch rm` and `import` refuse with
/// exit code 2, leaving the store as it was; reading commands run.
#[test]
fn read_only_commands_refuse_to_change_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbdesk(&["watch", "add", "B0D1XD1ZV3"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = dir.path().join("none.jsonl");
    std::fs::write(&lines, "").unwrap();
    let lines = lines.to_string_lossy().to_string();
    for (args, says) in [
        (
            &["--read-only", "watch", "add", "B0D1XD1ZV4"][..],
            "watch add changes the watchlist",
        ),
        (
            &["--read-only", "watch", "rm", "B0D1XD1ZV3"][..],
            "watch rm changes the watchlist",
        ),
        (
            &["--read-only", "import", lines.as_str()][..],
            "import writes",
        ),
    ] {
        let out = arbdesk(args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says) && err.contains("--read-only"), "{err}");
    }
    let out = arbdesk(&["--read-only", "watch", "ls"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("B0D1XD1ZV3"),
        "{text}"
    );
    assert!(!text.contains("B0D1XD1ZV4"), "{text}");
}

/// `fetch` asks for Buy Box data as the pipeline does (`keepa.buybox`, on for demo data),
/// and says so when it did not ask.
#[test]
fn fetch_asks_for_the_buy_box_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let buy_boxes = |extra: &[&str]| {
        let mut args = vec!["fetch", "--json", "B0D1XD1ZV3", "B0D1XD1ZV4", "B0D1XD1ZV5"];
        args.extend_from_slice(extra);
        let out = arbdesk(&args, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Each line says its source as the API does, and whether the product is listed.
        assert!(
            lines
                .iter()
                .all(|v| v["source"] == "demo" && v["listed"].is_boolean()),
            "{lines:?}"
        );
        lines
            .iter()
            .filter(|v| !v["snapshot"]["buy_box"].is_null())
            .count()
    };
    assert!(buy_boxes(&[]) > 0, "demo data asks for the Buy Box");
    assert_eq!(buy_boxes(&["--no-buybox"]), 0);
    // A product link is taken as `watch add` takes it.
    let out = arbdesk(
        &[
            "fetch",
            "--no-buybox",
            "https://www.amazon.de/dp/B0D1XD1ZV3?th=1",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BUY BOX was not asked for (--no-buybox)"),
        "{err}"
    );
}

/// A store is marked by the source that first fetches into it; a process fetching from the
/// other source refuses to start (exit code 2) rather than serve demo rows as live ones,
/// and exports from a demo store say they are demo rows.
#[tokio::test]
async fn a_store_of_demo_prices_is_never_fed_live_ones() {
    use arbdesk::commands::data_source::{claim, of};
    use arbdesk::pipeline::Source;
    let dir = tempfile::tempdir().unwrap();
    let store =
        arbdesk::store::sqlite::SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    assert_eq!(of(&store).await.unwrap(), None, "nothing fetched yet");
    claim(&store, Source::Demo, "here", None).await.unwrap();
    claim(&store, Source::Demo, "here", None).await.unwrap();
    assert_eq!(of(&store).await.unwrap(), Some(Source::Demo));
    let err = claim(&store, Source::Live, "here", None).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "here holds demo (simulated) prices, and this process would fetch live (Keepa) ones"
        ),
        "{err}"
    );
    assert_eq!(
        of(&store).await.unwrap(),
        Some(Source::Demo),
        "the mark stays"
    );
    drop(store);

    let live = [
        "--serve",
        "--keepa-key",
        "k",
        "--keepa-url",
        "http://127.0.0.1:9",
        "--api-addr",
        "off",
    ];
    let out = arbdesk(&live, dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds demo (simulated) prices") && err.contains("Use another data dir"),
        "{err}"
    );

    let out = arbdesk(&["export", "--format", "json"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("These are demo rows"), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["meta"]["source"], "demo");
    let out = arbdesk(&["export", "--format", "csv"], dir.path());
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.lines().next().unwrap().ends_with(",source"), "{csv}");
    // No filter: the store is empty, not the filters too strict.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("The store has no opportunities yet"), "{err}");
    // Nothing matching: the header alone on standard output, and a word on standard error.
    let out = arbdesk(&["export", "--min-roi", "100000"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("No opportunities match these filters."),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// The console logs to a file in the data dir; one it cannot open is an error that says
/// where and what to do, not a panic.
#[test]
fn a_console_log_file_that_cannot_be_opened_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // Today's file (and tomorrow's, should the day turn meanwhile) is a directory.
    let today = chrono::Utc::now().date_naive();
    for day in [today, today.succ_opt().unwrap()] {
        std::fs::create_dir_all(logs.join(format!("arbdesk.log.{day}"))).unwrap();
    }
    let out = arbdesk(&["--api-addr", "off"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("could not open the console's log file") && err.contains("--data-dir"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_argument_that_is_not_utf8_gets_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jsonl");
    // A usage error elsewhere on a command line holding a Latin-1 file name.
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .arg("import")
        .arg(name)
        .args(["--bach", "10"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--bach") && !err.contains("panicked"), "{err}");
    // A value that is not UTF-8 in the environment is named.
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show"])
        .env("ARBDESK_MARKETS", std::ffi::OsStr::from_bytes(b"de,\xff"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ARBDESK_MARKETS is not valid UTF-8") && !err.contains("panicked"),
        "{err}"
    );
}

/// A flag on the command line wins over its environment variable, even a bad one, before
/// or after the subcommand (clap would read the variable at each level).
#[test]
fn a_flag_wins_over_a_bad_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["config", "show", "--api-addr", "127.0.0.1:9"][..],
        &["--api-addr=127.0.0.1:9", "config", "show"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("ARBDESK_API_ADDR", "bad")
            .env("ARBDESK_MARKETS", "zz")
            .args(["--markets", "DE,FR"])
            .env_remove("ARBDESK_CONFIG")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("127.0.0.1:9"), "{shown}");
    }
    // Not given: the variable's bad value is named.
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show"])
        .env("ARBDESK_API_ADDR", "bad")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ARBDESK_API_ADDR"), "{err}");
}

/// A one-shot command says what it did; the store's notes on the way (a bulk load running
/// in another process) are for a server's log: shown with `--log info`, not by default.
#[test]
fn one_shot_commands_log_warnings_only_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbdesk(&["watch", "add", "B0D1XD1ZV3"], dir.path());
    assert!(out.status.success());
    // Another process's bulk load, as `import` runs it: sort indexes dropped, marker held.
    let db = rusqlite::Connection::open(dir.path().join("arbdesk.sqlite")).unwrap();
    db.execute_batch("DROP INDEX opp_emp; DROP INDEX opp_gross; DROP INDEX opp_net;")
        .unwrap();
    drop(db);
    let marker = std::fs::File::create(dir.path().join("arbdesk.sqlite.bulk-load")).unwrap();
    marker.try_lock().unwrap();
    let out = arbdesk(&["watch", "add", "B0DEMO0001"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("INFO"), "{err}");
    let out = arbdesk(&["watch", "add", "B0DEMO0002", "--log", "info"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("A bulk load is running in another process"),
        "{err}"
    );
}

/// `info` is where one looks when something is wrong: with a config file that does not
/// load, it still says where the file and the data are, then the file's error (exit 2).
#[test]
fn info_with_a_broken_config_says_where_things_are_and_why_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "refresh = [\n").unwrap();
    let out = arbdesk(&["--config", cfg.to_str().unwrap(), "info"], dir.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stdout.contains(&format!("config file   {} (does not load", cfg.display()))
            && stdout.contains(&format!("data dir      {}", dir.path().display())),
        "{stdout}"
    );
    assert!(
        stderr.contains("invalid config file") && stderr.contains("line 1"),
        "{stderr}"
    );
}

/// A store path that names a directory is said to be one, with what to give instead.
#[test]
fn a_store_path_that_is_a_directory_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(
        &cfg,
        format!("[store]\npath = {:?}\n", db.to_str().unwrap()),
    )
    .unwrap();
    let out = arbdesk(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "watch",
            "add",
            "B0D1XD1ZV3",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{} is a directory", db.display())) && err.contains("[store] path"),
        "{err}"
    );
}

/// An object of another domain than the one asked (a proxy or cache mixing markets up) is
/// left out and named, never printed or stored as the market asked: its prices would be
/// another market's, in pence where cents were meant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_for_another_domain_is_left_out_and_named() {
    use super::util::{answer_every, http_response, spawn_sim};
    use arbdesk::keepa::sim::SimConfig;
    let (_sim, addr) = spawn_sim(SimConfig::default()).await;
    // What Keepa holds for the ASIN in FR, served to a request in DE.
    let base = format!("http://{addr}");
    let fr = tokio::task::spawn_blocking(move || {
        super::procs::get(&base, "/product?key=K&domain=4&asin=B0E0000004&stats=90")
    })
    .await
    .unwrap();
    assert_eq!(fr["products"][0]["domainId"], 4, "{fr}");
    let body = serde_json::to_vec(&fr).unwrap();
    let answer = http_response(
        "200 OK",
        &[
            ("content-type", "application/json".to_string()),
            ("content-length", body.len().to_string()),
        ],
        &body,
    );
    let port = answer_every(Box::leak(answer.into_boxed_slice()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(["fetch", "B0E0000004", "--markets", "de"])
            .args(["--keepa-url", &format!("http://127.0.0.1:{port}/")])
            .args(["--keepa-key", "K"])
            .env_remove("KEEPA_API_KEY")
            .env_remove("ARBDESK_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}{err}");
    assert!(
        err.contains("B0E0000004 for domain 4 (FR) to a request in DE (domain 3)"),
        "{err}"
    );
    assert!(err.contains("left out B0E0000004"), "{err}");
    assert!(
        !text.contains("B0E0000004  FR") && !text.contains("B0E0000004  DE"),
        "{text}"
    );
}

/// A Keepa URL where a server answers, but only with errors: the hint does not send the
/// operator to check the address or start a simulator there.
#[test]
fn a_keepa_url_answering_errors_is_not_called_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let port = super::util::answer_every(
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let url = format!("http://127.0.0.1:{port}/");
    let out = arbdesk(&["token", "--keepa-url", &url], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("HTTP 503") && err.contains("answers, but not usably"),
        "{err}"
    );
    assert!(!err.contains("keepa-sim --addr"), "{err}");
}

/// A Keepa URL where nothing answers: a one-shot command names it (without a proxy's
/// credentials) and the settings that chose it, and leaves out the retries' log lines.
#[test]
fn a_keepa_url_where_nothing_answers_is_named_with_what_chose_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: taken, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://user:secret@127.0.0.1:{port}/");
    let out = arbdesk(&["token", "--keepa-url", &url], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("(http://127.0.0.1:{port}/token)"))
            && err.contains("Check --keepa-url (ARBDESK_KEEPA_URL, or url in [keepa])"),
        "{err}"
    );
    assert!(
        !err.contains("secret") && !err.contains("retrying"),
        "{err}"
    );
}
