//! How a bad config file, value or key reads: the file and line named, in plain words,
//! cut when huge, secrets never quoted.

use super::*;

#[test]
fn a_bad_value_names_the_file_it_came_from_but_not_a_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "[api]\nrequest_timeout_secs = 0\n[keepa]\nurl = \"ftp://keepa.example\"\n",
    )
    .unwrap();
    let args = GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    let e = load(&args).err().unwrap().to_string();
    assert!(e.contains("keepa.url") && e.contains("config.toml"), "{e}");
    // The flag's value overrides the file's: the error is the flag's, without the file.
    let e = load(&GlobalArgs {
        keepa_url: Some("ftp://flag.example".parse().unwrap()),
        ..args.clone()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("flag.example") && !e.contains("config.toml"),
        "{e}"
    );
    std::fs::write(&file, "[api]\nrequest_timeout_secs = 0\n").unwrap();
    let e = load(&args).err().unwrap().to_string();
    assert!(
        e.contains("api.request_timeout_secs") && e.contains("(in ") && e.contains("config.toml"),
        "{e}"
    );
}

#[test]
fn a_bad_economics_value_is_one_line_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "# mine\n[economics]\nreturn_rate = \"3%\"\n").unwrap();
    let e = load(&GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.contains("return_rate") && e.contains("a number such as 0.15 or 4.00"),
        "{e}"
    );
    assert!(e.contains("config.toml, line 3)"), "{e}");
    // A value the model refuses (not its type) names the line too, as does a setting.
    std::fs::write(&file, "[economics.gates]\n\nmin_roi = -1\n").unwrap();
    let args = GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    let e = load(&args).err().unwrap().to_string();
    assert!(e.contains("min_roi") && e.contains(", line 3)"), "{e}");
    // A percentage written where a ratio goes is refused, saying what it would mean.
    std::fs::write(&file, "[economics.gates]\nmin_roi = 20\n").unwrap();
    let e = load(&args).err().unwrap().to_string();
    assert!(
        e.contains("min_roi") && e.contains("20 would be an ROI of 2000 %"),
        "{e}"
    );
    std::fs::write(&file, "[api]\naddr = \"1.2.3.4\"\n").unwrap();
    let e = load(&args).err().unwrap().to_string();
    assert!(e.contains("api.addr") && e.contains(", line 2)"), "{e}");
}

/// A config file with a huge line (a pasted blob) is named in an error of a few lines,
/// not echoed whole.
#[test]
fn a_huge_bad_line_is_cut_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.toml");
    std::fs::write(&path, format!("[api]\naddr = {}\n", "9".repeat(1_000_000))).unwrap();
    let err = read_file(&path).unwrap_err().to_string();
    assert!(err.len() < 2_000, "{} bytes: {}", err.len(), &err[..200]);
    assert!(err.contains("line 2") && err.contains("(cut)"), "{err}");
}

#[test]
fn a_parse_error_does_not_quote_a_secret() {
    let text = "[api]\ntoken = \"TOKSECRET789\" x\n";
    let e = toml::from_str::<toml::Value>(text).unwrap_err();
    let shown = mask_secrets(&e.to_string());
    assert!(!shown.contains("TOKSECRET789"), "{shown}");
    assert!(shown.contains("not shown"), "{shown}");
    let text = "[keepa]\nkey = \"KEEPASECRET\"\nbuybox = maybe\n";
    let e = toml::from_str::<toml::Value>(text).unwrap_err();
    let shown = mask_secrets(&e.to_string());
    assert!(!shown.contains("KEEPASECRET"), "{shown}");
    assert!(
        shown.contains("buybox = maybe"),
        "other lines stay: {shown}"
    );
    assert_eq!(mask_secrets("route = it>de"), "route = it>de");
    assert_eq!(
        mask_secrets("3 | sasl.password = \"pw\""),
        "3 | sasl.password = *** (a secret's value is not shown)"
    );
    // In an inline table, under a quoted key, in a URL's query.
    for text in [
        "api = { token = \"SECRET1234567890abcdef\", bogus = }\n",
        "[api]\n\"token\" = \"SECRET1234567890abcdef\" x\n",
        "[api]\n'token' = \"SECRET1234567890abcdef\" x\n",
        "[keepa]\nurl = \"https://proxy/?key=SECRET1234567890abcdef\" x\n",
        "[queue]\noptions = { \"sasl.oauthbearer.client.secret\" = \"SECRET1234567890abcdef\", x = }\n",
        "[queue]\noptions = { \"ssl.key.pem\" = \"SECRET1234567890abcdef\" x }\n",
    ] {
        let e = toml::from_str::<toml::Value>(text).unwrap_err();
        let shown = mask_secrets(&e.to_string());
        assert!(!shown.contains("SECRET1234567890abcdef"), "{text}: {shown}");
    }
    assert_eq!(
        mask_secrets("1 | api = { token = \"x\", bogus = 1 }"),
        "1 | api = { token = *** (a secret's value is not shown)"
    );
    // A key that only ends in the word is no secret.
    assert_eq!(mask_secrets("2 | monkey = 1"), "2 | monkey = 1");
}

#[test]
fn a_bad_key_in_a_typed_section_is_found_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    for (text, says) in [
        (
            "log = \"info\"\n[store]\ntype = \"sqlite\"\nurl = \"http://x\"\n",
            "the key is at line 4:\n4 | url = \"http://x\"",
        ),
        (
            "[queue]\ntype = \"rabbit\"\n",
            "the key is at line 2:\n2 | type = \"rabbit\"",
        ),
        (
            "  [store]\n  'url' = \"http://x\"\n",
            "the key is at line 2:\n2 | 'url' = \"http://x\"",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let e = read_file(&file).err().unwrap().to_string();
        assert!(e.contains(says), "{text}: {e}");
    }
    // A secret's value is not shown on its line either.
    std::fs::write(
        &file,
        "[store]\ntype = \"sqlite\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let e = read_file(&file).err().unwrap().to_string();
    assert!(e.contains("3 | password") && !e.contains("hunter2"), "{e}");
    // A key TOML finds itself is not named twice.
    std::fs::write(&file, "[api]\naddr = 5\n").unwrap();
    let e = read_file(&file).err().unwrap().to_string();
    assert!(!e.contains("the key is at"), "{e}");
}
