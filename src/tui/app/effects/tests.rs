//! The console's saved state (theme, sort, filters) and the copy toast's preview.

use super::{UI_STATE, preview, read_ui_state, save_ui_state};

#[test]
fn the_theme_chosen_in_the_console_is_kept_with_the_sort_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (saved, warnings) = read_ui_state(dir.path());
    assert_eq!((saved.theme, warnings.len()), (None, 0), "no file yet");
    let mut s = crate::tui::fixtures::loaded(10, (120, 40));
    assert_eq!(save_ui_state(dir.path(), &s), None);
    assert_eq!(
        read_ui_state(dir.path()).0.theme,
        None,
        "none chosen: none kept"
    );
    s.chosen_theme = Some("light".into());
    assert_eq!(save_ui_state(dir.path(), &s), None);
    let (saved, warnings) = read_ui_state(dir.path());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(saved.theme.as_deref(), Some("light"));
    assert_eq!(saved.commands, s.saved_commands());
    // A file written before the theme was kept still reads, with its commands.
    std::fs::write(
        dir.path().join(UI_STATE),
        "commands = [\"sort roi desc\"]\n",
    )
    .unwrap();
    let (saved, warnings) = read_ui_state(dir.path());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((saved.theme, saved.commands.len()), (None, 1));
    std::fs::write(dir.path().join(UI_STATE), "theme = 3").unwrap();
    let (_, warnings) = read_ui_state(dir.path());
    assert!(
        warnings[0].contains("is not a saved console state"),
        "{warnings:?}"
    );
}

#[test]
fn a_copy_toast_shows_a_line_not_the_whole_text() {
    assert_eq!(preview("B0D1XD1ZV3"), "B0D1XD1ZV3");
    let long = "x".repeat(80);
    assert_eq!(preview(&long), format!("{}…", "x".repeat(60)));
    assert_eq!(
        preview("asin\ttitle\nB0D1XD1ZV3\tKettle\n"),
        "asin\ttitle (2 lines)"
    );
}
