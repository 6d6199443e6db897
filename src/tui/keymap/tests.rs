//! Key bindings: defaults, a user keymap, and the conflicts it is warned of.

use super::*;
use crate::tui::action::{Column, SortBy};

#[test]
fn shipped_keymaps_load_without_warnings() {
    for preset in ["default", "vim"] {
        let k = Keymap::load(preset, None);
        assert!(k.warnings.is_empty(), "{preset}: {:?}", k.warnings);
        assert!(k.bindings(Context::Table).len() > 10);
    }
}

#[test]
fn a_global_key_that_starts_a_chord_of_a_view_is_warned_about() {
    let user = "[global]\nbind = [ { on = \"g\", run = \"goto health\" } ]\n";
    let k = Keymap::load("default", Some((user, "keymap.toml")));
    assert!(
        k.warnings
            .iter()
            .any(|w| w.starts_with("keymap.toml [global] g: in [table] g g")
                && w.contains("bind g in [table] too")),
        "{:?}",
        k.warnings
    );
    // A key no view uses for a chord is not.
    let user = "[global]\nbind = [ { on = \"Q\", run = \"quit\" } ]\n";
    assert!(
        Keymap::load("default", Some((user, "keymap.toml")))
            .warnings
            .is_empty()
    );
}

#[test]
fn a_keymap_file_that_is_not_toml_says_the_line() {
    let broken = "[global]\nbind = [\n  { on = \"Q\", run = \"quit\" },\n  { on = \"x\" run = \"help\" },\n]\n";
    let k = Keymap::load("default", Some((broken, "keymap.toml")));
    assert_eq!(k.warnings.len(), 1, "{:?}", k.warnings);
    assert!(
        k.warnings[0].starts_with("keymap.toml: not valid TOML (line 4: "),
        "{:?}",
        k.warnings
    );
}

#[test]
fn notation_parses_and_prints_back() {
    for s in [
        "P", "<C-c>", "<A-e>", "<S-Tab>", "<Enter>", "<Space>", "<PgDn>", "<F5>",
    ] {
        let k = Key::parse(s).unwrap();
        let shown = k.to_string();
        assert_eq!(Key::parse(&shown).unwrap(), k, "{s} → {shown}");
    }
    assert!(Key::parse("<Hyper-x>").is_err());
    assert!(Key::parse("ab").is_err());
}

#[test]
fn user_entries_replace_unbind_and_warn() {
    let user = r#"
[global]
bind = [
  { on = "Q", run = "quit" },
  { on = "<C-c>", run = "none" },
  { on = "x", run = "qiut" },
  { on = "<Nope>", run = "help" },
]
[table]
bind = [ { on = "c", run = "copy asin", desc = "Copy ASIN" }, { on = "P", run = "sort roi" } ]
[weird]
bind = []
"#;
    let k = Keymap::load("default", Some((user, "keymap.toml")));
    let ctrl_c = Key::parse("<C-c>").unwrap();
    assert_eq!(k.lookup(Context::Table, &[ctrl_c]), Lookup::Unbound);
    assert_eq!(
        k.lookup(Context::Table, &[Key::char('Q')]),
        Lookup::Run(Action::Quit)
    );
    assert_eq!(
        k.lookup(Context::Table, &[Key::char('P')]),
        Lookup::Run(Action::Sort(SortBy::Column(Column::Roi, None)))
    );
    assert_eq!(k.warnings.len(), 3, "{:?}", k.warnings);
    assert!(k.warnings.iter().any(|w| w.contains("did you mean")));
    // The rest of the defaults still apply.
    assert_eq!(
        k.lookup(Context::Table, &[Key::char('q')]),
        Lookup::Run(Action::Quit)
    );
}

#[test]
fn chords_wait_for_their_second_key() {
    let k = Keymap::load("default", None);
    let g = Key::char('g');
    assert_eq!(k.lookup(Context::Table, &[g]), Lookup::Pending);
    assert_eq!(
        k.lookup(Context::Table, &[g, Key::char('h')]),
        Lookup::Run(Action::Goto(crate::tui::action::View::Health))
    );
    assert!(!k.continuations(Context::Table, g).is_empty());
}

#[test]
fn entries_outside_the_bind_list_are_warned_about() {
    let k = Keymap::load(
        "default",
        Some(("[global]\n\"g\" = \"quit\"\nfoo = 1\n", "keymap.toml")),
    );
    assert_eq!(
        k.warnings,
        [
            "keymap.toml [global]: `foo` is not a binding and is ignored; bindings go in the \
                 section's list, e.g. bind = [{ on = \"x\", run = \"help\" }]",
            "keymap.toml [global]: `g` is not a binding and is ignored; bindings go in the \
                 section's list, e.g. bind = [{ on = \"g\", run = \"quit\" }]",
        ]
    );
    assert_eq!(
        k.lookup(Context::Global, &[Key::char('?')]),
        Keymap::load("default", None).lookup(Context::Global, &[Key::char('?')]),
        "the defaults stay"
    );
}

#[test]
fn a_broken_user_file_keeps_the_defaults() {
    let k = Keymap::load("default", Some(("[global\nbind=", "keymap.toml")));
    assert_eq!(k.warnings.len(), 1);
    assert_eq!(
        k.lookup(Context::Global, &[Key::char('?')]),
        Lookup::Run(Action::Help)
    );
}
