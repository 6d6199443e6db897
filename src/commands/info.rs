//! `arbdesk info`: what the console would use here, and why.

use anyhow::Result;

use crate::config::Settings;
use crate::tui::app::{
    hyperlinks_enabled, load_keymap, load_theme, saved_theme, tmux_passes_links,
};
use crate::tui::clipboard::Mux;
use crate::tui::theme::{self, TermEnv};

/// What `info` can say when the configuration does not load: the paths that do not depend
/// on it (the error follows, from the caller).
pub fn config_failed(global: &crate::cli::GlobalArgs) {
    let (file, _) = crate::config::config_path(global);
    outln!("arbdesk {}", env!("CARGO_PKG_VERSION"));
    outln!("\n[paths]");
    outln!(
        "config file   {} (does not load: the error follows)",
        file.map_or_else(|| "(none)".into(), |p| p.display().to_string())
    );
    match &global.data_dir {
        Some(d) => outln!(
            "data dir      {}",
            crate::config::home_path(d.clone()).display()
        ),
        None => outln!(
            "data dir      {} unless the config file sets data_dir",
            crate::config::default_data_dir().display()
        ),
    }
}

/// Prints resolved paths, theme choice, keymap warnings and terminal capabilities.
pub fn info(settings: &Settings) -> Result<()> {
    let mut env = TermEnv::from_env();
    let c = &settings.console;
    // Asked as the console asks it, when it can decide the theme and there is a terminal.
    let decides = theme::asks_background(c.theme.as_deref(), c.no_color, &env);
    let terminal =
        std::io::IsTerminal::is_terminal(&std::io::stdout()) && env.term.as_deref() != Some("dumb");
    let asked = decides && terminal;
    if asked {
        env.background = theme::background::ask();
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
    outln!("arbdesk {}", env!("CARGO_PKG_VERSION"));
    outln!("\n[paths]");
    outln!(
        "config file   {}",
        settings.config_file.as_ref().map_or(
            "(none: `arbdesk config path` says where one is read from)".into(),
            |p| p.display().to_string()
        )
    );
    outln!(
        "keymap file   {}",
        c.config_dir.join("keymap.toml").display()
    );
    outln!("themes dir    {}", c.config_dir.join("themes").display());
    outln!("data dir      {}", settings.data_dir.display());
    outln!("logs          {}", settings.data_dir.join("logs").display());
    outln!(
        "exports       {}",
        settings.data_dir.join("exports").display()
    );

    let saved = saved_theme(&settings.data_dir);
    let choice = theme::choose(c.theme.as_deref(), c.no_color, &env, saved.as_deref());
    let (t, theme_warnings, _) = load_theme(&choice.name, &c.config_dir, &env);
    outln!("\n[console]");
    if t.name == choice.name {
        outln!("theme         {} ({})", t.name, choice.reason);
    } else {
        // The one asked for could not be loaded (the warnings below say why).
        outln!(
            "theme         {} (the {} '{}' could not be loaded, see below)",
            t.name,
            choice.reason,
            choice.name
        );
    }
    outln!("colour depth  {:?}", env.depth());
    outln!(
        "background    {}",
        match (env.background, decides, terminal) {
            (Some(b), ..) => format!("{} (the terminal's answer to OSC 11)", b.word()),
            (None, false, _) => "not asked (the theme does not depend on it)".to_string(),
            (None, true, false) => "not asked (no terminal on stdout)".to_string(),
            (None, true, true) =>
                "unknown (no answer to OSC 11, or not run in the foreground)".to_string(),
        }
    );
    outln!("keymap        {}", c.keymap);
    let mode = c.clipboard.as_str();
    let mux = Mux::detect(env.tmux.as_deref(), env.term.as_deref()).probe();
    outln!(
        "clipboard     {mode}{}",
        match (mode, env.ssh.is_some()) {
            ("auto", true) => " (SSH: OSC 52 first, then native)",
            ("auto", false) => " (native first, then OSC 52)",
            _ => "",
        }
    );
    outln!("osc52 wrap    {mux:?}");
    outln!(
        "hyperlinks    {} ({})",
        if hyperlinks_enabled(&c.hyperlinks, &env, tmux_passes_links) {
            "on"
        } else {
            "off"
        },
        c.hyperlinks
    );
    outln!("\n[terminal]");
    outln!("TERM          {}", show(&env.term));
    outln!("COLORTERM     {}", show(&env.colorterm));
    outln!("NO_COLOR      {}", show(&env.no_color));
    outln!("TMUX          {}", show(&env.tmux));
    outln!("SSH           {}", show(&env.ssh));
    outln!("locale        {}", show(&env.locale));

    let keymap = load_keymap(c);
    let warnings: Vec<&String> = keymap
        .warnings
        .iter()
        .chain(theme_warnings.iter())
        .collect();
    let clipboard_warning = mux.blocked_reason().map(|why| format!("clipboard: {why}"));
    let locale_warning = env.locale_warning();
    let warnings: Vec<&String> = warnings
        .into_iter()
        .chain(clipboard_warning.as_ref())
        .chain(locale_warning.as_ref())
        .collect();
    outln!("\n[warnings]");
    if warnings.is_empty() {
        outln!("none");
    }
    for w in warnings {
        outln!("- {w}");
    }
    Ok(())
}
