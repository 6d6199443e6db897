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

#[test]
fn fetch_prints_demo_prices_without_a_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["fetch", "B0D1XD1ZV3", "--markets", "de,uk"])
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
    assert!(
        text.contains('€') && text.contains('£'),
        "prices in each market's currency: {text}"
    );
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
