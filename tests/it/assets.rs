//! The shipped keymaps and themes parse and are complete.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn read(rel: &str) -> toml::Table {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{rel} does not parse: {e}"))
}

#[test]
fn keymaps_bind_keys_to_actions() {
    const CONTEXTS: &[&str] = &[
        "global", "table", "detail", "sidebar", "health", "logs", "products",
    ];
    for file in ["keymaps/default.toml", "keymaps/vim.toml"] {
        let t = read(file);
        for (ctx, section) in &t {
            assert!(
                CONTEXTS.contains(&ctx.as_str()),
                "{file}: unknown context [{ctx}]"
            );
            let binds = section["bind"].as_array().unwrap();
            let mut seen = BTreeSet::new();
            for b in binds {
                let on = b["on"].to_string();
                let run = b["run"].as_str().unwrap();
                assert!(!run.is_empty(), "{file} [{ctx}] {on}: empty run");
                assert!(
                    b.get("desc")
                        .is_some_and(|d| d.as_str().is_some_and(|d| !d.is_empty())),
                    "{file} [{ctx}] {on}: no desc"
                );
                if let Some(keys) = b["on"].as_array() {
                    assert!(
                        (1..=2).contains(&keys.len()),
                        "{file} [{ctx}]: a chord has one or two keys"
                    );
                }
                assert!(seen.insert(on.clone()), "{file} [{ctx}]: {on} bound twice");
            }
        }
    }
    // The defaults cover the actions operators expect.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keymaps/default.toml"),
    )
    .unwrap();
    for action in [
        "help",
        "command",
        "filter",
        "quit",
        "copy link",
        "copy asin",
        "export csv",
        "freeze",
        "sort next",
        "sort reverse",
        "watch add",
        "watch remove",
        "refresh selected",
        "theme next",
        "focus next",
        "min-margin +1",
        "open",
        "back",
    ] {
        assert!(
            text.contains(&format!("run = \"{action}\"")),
            "no default key for {action}"
        );
    }
}

#[test]
fn themes_define_every_role_and_resolve_their_palette() {
    let base = read("themes/dark.toml");
    let names = |t: &toml::Table, section: &str| {
        t[section]
            .as_table()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    for file in [
        "themes/dark.toml",
        "themes/light.toml",
        "themes/mono.toml",
        "themes/ansi16.toml",
    ] {
        let t = read(file);
        let palette = t["palette"].as_table().unwrap();
        for section in ["roles", "status"] {
            assert_eq!(
                names(&t, section),
                names(&base, section),
                "{file} [{section}] differs from dark"
            );
            for (role, v) in t[section].as_table().unwrap() {
                let fg = match v {
                    toml::Value::String(s) => Some(s.clone()),
                    toml::Value::Table(t) => {
                        t.get("fg").and_then(|f| f.as_str()).map(str::to_string)
                    }
                    _ => panic!("{file} {role}: a palette name or a style table"),
                };
                if let Some(fg) = fg {
                    assert!(
                        palette.contains_key(&fg),
                        "{file} {role}: '{fg}' is not in the palette"
                    );
                }
            }
        }
        // Selection must stay visible without colour.
        assert_eq!(
            t["roles"]["selection"]["reversed"].as_bool(),
            Some(true),
            "{file}"
        );
    }
    let mono = read("themes/mono.toml");
    for (k, v) in mono["palette"].as_table().unwrap() {
        assert_eq!(
            v.as_str(),
            Some("reset"),
            "mono palette {k} must be colourless"
        );
    }
}
