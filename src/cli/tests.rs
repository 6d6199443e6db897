//! Parsing the command line: flags, environment variables and their precedence.

use super::*;
use clap::CommandFactory;

#[test]
fn the_parser_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn bad_values_are_named() {
    let e = Cli::try_parse_from(["arbdesk", "--markets", "de,nl"]).unwrap_err();
    assert!(e.to_string().contains("invalid market 'nl'"), "{e}");
    let e = Cli::try_parse_from(["arbdesk", "fetch", "B0-BAD"]).unwrap_err();
    assert!(e.to_string().contains("invalid ASIN 'B0-BAD'"), "{e}");
    let e = Cli::try_parse_from(["arbdesk", "--role", "api,,process"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("invalid role '': an empty item in the list"),
        "{e}"
    );
    let e = Cli::try_parse_from(["arbdesk", "--role", "api,chef"]).unwrap_err();
    assert!(e.to_string().contains("chef"), "{e}");
    let ok = Cli::try_parse_from(["arbdesk", "--role", "ingest,process"]).unwrap();
    assert_eq!(ok.global.role, Some(vec![Role::Ingest, Role::Process]));
    let e = Cli::try_parse_from(["arbdesk", "keepa-sim", "--addr", ":18777"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("no IP address before the port (e.g. 127.0.0.1:18777)")
            && e.to_string().contains("127.0.0.1:18080"),
        "{e}"
    );
    let e = Cli::try_parse_from(["arbdesk", "--api-addr", "localhost"]).unwrap_err();
    assert!(
        e.to_string().contains("has no port") && e.to_string().contains("IP:PORT"),
        "{e}"
    );
}

#[test]
fn a_bad_value_from_the_environment_names_its_variable() {
    // What clap reports for `ARBDESK_ROLE=bogus`: the flag's name.
    let e = Cli::try_parse_from(["arbdesk", "--role", "bogus"]).unwrap_err();
    let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let set = |v: &str| v == "ARBDESK_ROLE";
    let note = env_note(&e, &argv(&["arbdesk", "--serve"]), set).unwrap();
    assert!(
        note.contains("ARBDESK_ROLE") && note.contains("unset"),
        "{note}"
    );
    // Given on the command line (either spelling), or no variable set: clap says it all.
    assert!(env_note(&e, &argv(&["arbdesk", "--role", "bogus"]), set).is_none());
    assert!(env_note(&e, &argv(&["arbdesk", "--role=bogus"]), set).is_none());
    assert!(env_note(&e, &argv(&["arbdesk"]), |_| false).is_none());
    // An empty variable (`ARBDESK_DATA_DIR=`) is a value error too.
    let e = Cli::try_parse_from(["arbdesk", "--data-dir", ""]).unwrap_err();
    let note = env_note(&e, &argv(&["arbdesk"]), |v| v == "ARBDESK_DATA_DIR");
    assert!(note.is_some_and(|n| n.contains("ARBDESK_DATA_DIR")), "{e}");
    // Not a value error: no note.
    let e = Cli::try_parse_from(["arbdesk", "--nope"]).unwrap_err();
    assert!(env_note(&e, &argv(&["arbdesk"]), |_| true).is_none());
}

#[test]
fn a_value_that_is_not_utf8_in_the_environment_names_its_variable() {
    let note = non_utf8_env_note(|v| v == "ARBDESK_MARKETS").unwrap();
    assert!(
        note.contains("ARBDESK_MARKETS is not valid UTF-8")
            && note.contains("unset ARBDESK_MARKETS"),
        "{note}"
    );
    let note = non_utf8_env_note(|v| v == "ARBDESK_LOG" || v == "KEEPA_API_KEY").unwrap();
    assert!(
        note.contains("ARBDESK_LOG")
            && note.contains("KEEPA_API_KEY")
            && note.contains(" are not valid UTF-8"),
        "{note}"
    );
    assert!(non_utf8_env_note(|_| false).is_none());
}

#[test]
fn global_flags_work_after_subcommands() {
    let cli = Cli::try_parse_from([
        "arbdesk",
        "watch",
        "add",
        "B0DEMO1234",
        "--data-dir",
        "/tmp/x",
    ])
    .unwrap();
    assert_eq!(cli.global.data_dir, Some(PathBuf::from("/tmp/x")));
    let cli = Cli::try_parse_from([
        "arbdesk",
        "--serve",
        "--role",
        "ingest,process",
        "--api-addr",
        "off",
    ])
    .unwrap();
    assert_eq!(cli.global.role, Some(vec![Role::Ingest, Role::Process]));
    assert_eq!(cli.global.api_addr, Some(ApiAddr::Off));
}
