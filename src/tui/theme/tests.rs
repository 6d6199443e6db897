//! Themes: the shipped ones, a user theme, and the reductions to 256 and 16 colours.

/// Every shipped theme reduced to 16 colours uses the 16 ANSI colours only.
#[test]
fn sixteen_colours_leave_no_24_bit_or_256_colour() {
    use ratatui::style::Color;
    for name in super::Theme::builtin_names() {
        let t = super::Theme::builtin(name).for_depth(super::Depth::Ansi16);
        for (role, s) in &t.styles {
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..)) && !matches!(c, Color::Indexed(i) if i >= 16),
                    "{name}: {role} keeps {c:?}"
                );
            }
        }
    }
    assert_eq!(super::to_16(Color::Rgb(250, 40, 40)), Color::LightRed);
    assert_eq!(super::to_16(Color::Rgb(30, 32, 40)), Color::Black);
    assert_eq!(super::to_16(Color::Indexed(244)), Color::DarkGray);
    // Profit, a low margin and a loss keep three colours, none of them grey.
    for name in ["dark", "light", "high-contrast"] {
        let t = super::Theme::builtin(name).for_depth(super::Depth::Ansi16);
        let fg = |role: &str| t.styles[role].fg.unwrap();
        let three = [fg("profit_high"), fg("profit_low"), fg("profit_negative")];
        for c in three {
            assert!(
                !matches!(
                    c,
                    Color::Black | Color::DarkGray | Color::Gray | Color::White
                ),
                "{name}: {three:?}"
            );
        }
        assert!(
            three[0] != three[1] && three[1] != three[2] && three[0] != three[2],
            "{name}: {three:?}"
        );
    }
}

use super::*;

#[test]
fn shipped_themes_resolve_every_role() {
    for (name, text) in BUILTIN {
        let (t, warnings) = Theme::parse(text, None);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        assert!(
            t.missing_roles().is_empty(),
            "{name}: {:?}",
            t.missing_roles()
        );
        assert!(
            t.style("selection")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
    let mono = Theme::builtin("mono");
    for role in ROLES {
        let s = mono.style(role);
        assert!(
            matches!(s.fg, None | Some(Color::Reset)) && s.bg.is_none(),
            "mono {role} has a colour"
        );
    }
}

#[test]
fn user_themes_extend_and_warn() {
    let text = r##"
name = "night"
extends = "light"
palette = { accent = "#ff0000" }
[roles]
title = { fg = "accent", bold = true }
sparkle = "accent"
border = "nosuchcolour"
"##;
    let (t, w) = Theme::parse(text, None);
    assert_eq!(t.name, "night");
    assert_eq!(t.style("title").fg, Some(Color::Rgb(255, 0, 0)));
    assert_eq!(
        t.style("selection"),
        Theme::builtin("light").style("selection")
    );
    assert_eq!(w.len(), 2, "{w:?}");
}

#[test]
fn a_locale_that_is_not_utf8_is_warned_of() {
    let env = |l: Option<&str>| TermEnv {
        locale: l.map(String::from),
        ..TermEnv::default()
    };
    let w = env(Some("LC_ALL=C")).locale_warning().unwrap();
    assert!(
        w.contains("(LC_ALL=C)") && w.contains("set LC_ALL=C.UTF-8"),
        "{w}"
    );
    assert!(env(Some("LANG=POSIX")).locale_warning().is_some());
    assert_eq!(env(Some("LANG=en_US.UTF-8")).locale_warning(), None);
    assert_eq!(env(Some("LC_ALL=C.utf8")).locale_warning(), None);
    assert_eq!(env(None).locale_warning(), None);
}

#[test]
fn choice_follows_the_precedence() {
    let env = TermEnv {
        no_color: Some("1".into()),
        colorterm: Some("truecolor".into()),
        ..TermEnv::default()
    };
    assert_eq!(choose(None, false, &env, None).name, "mono");
    assert_eq!(choose(Some("light"), false, &env, None).name, "light");
    assert_eq!(choose(Some("light"), true, &env, None).name, "mono");
    // A theme chosen in the console yields to every explicit setting and to NO_COLOR.
    assert_eq!(choose(None, false, &env, Some("light")).name, "mono");
    assert_eq!(
        choose(Some("dark"), false, &env, Some("light")).name,
        "dark"
    );
    let plain = TermEnv {
        term: Some("xterm".into()),
        ..TermEnv::default()
    };
    assert_eq!(choose(None, false, &plain, None).name, "ansi16");
    // … and wins over what the terminal would pick.
    assert_eq!(choose(None, false, &plain, Some("light")).name, "light");
    assert_eq!(
        choose(Some("auto"), false, &plain, Some("light")).name,
        "light"
    );
    let rich = TermEnv {
        term: Some("xterm-256color".into()),
        ..TermEnv::default()
    };
    assert_eq!(choose(Some("auto"), false, &rich, None).name, "dark");
}

#[test]
fn a_light_background_picks_light_where_nothing_else_decides() {
    let light = TermEnv {
        term: Some("xterm-256color".into()),
        background: Some(Background::Light),
        ..TermEnv::default()
    };
    let c = choose(None, false, &light, None);
    assert_eq!(
        (c.name.as_str(), c.reason.as_str()),
        ("light", "the terminal's background is light (OSC 11)")
    );
    assert_eq!(choose(Some("auto"), false, &light, None).name, "light");
    let dark = TermEnv {
        background: Some(Background::Dark),
        ..light.clone()
    };
    assert_eq!(choose(None, false, &dark, None).name, "dark");
    // Everything before it still wins: a theme set, NO_COLOR, one chosen in the console.
    assert_eq!(choose(Some("dark"), false, &light, None).name, "dark");
    assert_eq!(choose(None, true, &light, None).name, "mono");
    let no_color = TermEnv {
        no_color: Some("1".into()),
        ..light.clone()
    };
    assert_eq!(choose(None, false, &no_color, None).name, "mono");
    assert_eq!(
        choose(None, false, &light, Some("high-contrast")).name,
        "high-contrast"
    );
    // Asked only where it can decide (a saved theme leaves `:theme auto` to it).
    assert!(asks_background(None, false, &light));
    assert!(asks_background(Some("auto"), false, &light));
    assert!(!asks_background(Some("dark"), false, &light));
    assert!(!asks_background(None, true, &light));
    assert!(!asks_background(None, false, &no_color));
    let plain = TermEnv {
        term: Some("xterm".into()),
        ..TermEnv::default()
    };
    assert!(
        !asks_background(None, false, &plain),
        "ansi16 reads on either"
    );
}

#[test]
fn rgb_maps_to_the_nearest_256_colour() {
    assert_eq!(to_256(Color::Rgb(255, 0, 0)), Color::Indexed(196));
    assert_eq!(to_256(Color::Rgb(0, 0, 0)), Color::Indexed(16));
    assert_eq!(to_256(Color::Rgb(128, 128, 128)), Color::Indexed(244));
    assert_eq!(to_256(Color::Green), Color::Green);
    // The light theme's muted green, warn and bad keep a hue; its slate text and dim
    // grey stay on the grey ramp.
    assert_eq!(to_256(Color::Rgb(0x33, 0x63, 0x5c)), Color::Indexed(23));
    assert!(matches!(
        to_256(Color::Rgb(0x8f, 0x5e, 0x15)),
        Color::Indexed(16..=231)
    ));
    assert!(matches!(
        to_256(Color::Rgb(0x34, 0x3b, 0x58)),
        Color::Indexed(232..)
    ));
    assert!(matches!(
        to_256(Color::Rgb(0x96, 0x99, 0xa3)),
        Color::Indexed(232..)
    ));
}
