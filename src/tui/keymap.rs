//! Key bindings: the shipped keymaps, the user's overrides merged over them, and lookup.
//!
//! `keymaps/default.toml` is compiled in; `keymap = "vim"` merges `keymaps/vim.toml` over
//! it; `<config>/keymap.toml` is merged last. Each entry replaces any binding of the same
//! key sequence in its context; `run = "none"` only removes. A bad entry becomes a warning
//! (shown once as a toast and by `arbdesk info`) and the rest of the file still applies.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::{self, Action, Context};

/// The compiled-in default keymap.
pub const DEFAULT: &str = include_str!("../../keymaps/default.toml");
/// The vim preset, merged over the defaults.
pub const VIM: &str = include_str!("../../keymaps/vim.toml");

/// One key with its modifiers, as the keymap writes it (`P`, `<C-c>`, `<S-Tab>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    code: KeyName,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` reduced to what a keymap can name (it is `Ord` for stable maps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyName {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Delete,
    F(u8),
}

impl Key {
    /// A plain character key.
    pub fn char(c: char) -> Key {
        Key {
            code: KeyName::Char(c),
            ctrl: false,
            alt: false,
        }
    }

    /// The key of a terminal event (`None` for keys a keymap cannot name).
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyName::Char(c),
            KeyCode::Enter => KeyName::Enter,
            KeyCode::Esc => KeyName::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyName::BackTab,
            KeyCode::Tab => KeyName::Tab,
            KeyCode::BackTab => KeyName::BackTab,
            KeyCode::Backspace => KeyName::Backspace,
            KeyCode::Up => KeyName::Up,
            KeyCode::Down => KeyName::Down,
            KeyCode::Left => KeyName::Left,
            KeyCode::Right => KeyName::Right,
            KeyCode::PageUp => KeyName::PageUp,
            KeyCode::PageDown => KeyName::PageDown,
            KeyCode::Home => KeyName::Home,
            KeyCode::End => KeyName::End,
            KeyCode::Delete => KeyName::Delete,
            KeyCode::F(n) => KeyName::F(n),
            _ => return None,
        };
        // Shift is part of the character (`P`), so it is not kept for character keys.
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// Parses keymap notation.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(Key::char(c));
        }
        let inner = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| format!("'{s}' is not a key: write one character, or <C-x>, <A-x>, <S-Tab>, <Enter>, <Esc>, <Tab>, <Space>, <BS>, <Up>, <PgDn>, <F1>…"))?;
        let mut key = Key::char(' ');
        let mut name = inner;
        loop {
            if let Some(r) = name.strip_prefix("C-") {
                key.ctrl = true;
                name = r;
            } else if let Some(r) = name.strip_prefix("A-") {
                key.alt = true;
                name = r;
            } else {
                break;
            }
        }
        key.code = match name {
            "S-Tab" => KeyName::BackTab,
            "Enter" | "CR" => KeyName::Enter,
            "Esc" => KeyName::Esc,
            "Tab" => KeyName::Tab,
            "Space" => KeyName::Char(' '),
            "BS" | "Backspace" => KeyName::Backspace,
            "Up" => KeyName::Up,
            "Down" => KeyName::Down,
            "Left" => KeyName::Left,
            "Right" => KeyName::Right,
            "PgUp" => KeyName::PageUp,
            "PgDn" => KeyName::PageDown,
            "Home" => KeyName::Home,
            "End" => KeyName::End,
            "Del" => KeyName::Delete,
            "lt" => KeyName::Char('<'),
            f if f.starts_with('F') && f.len() > 1 => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyName::F(n),
                _ => return Err(format!("'{s}': function keys are <F1> to <F12>")),
            },
            n if n.chars().count() == 1 && (key.ctrl || key.alt) => {
                // Terminals send Ctrl+letter in lower case.
                let c = n.chars().next().unwrap_or(' ');
                KeyName::Char(if key.ctrl { c.to_ascii_lowercase() } else { c })
            }
            other => return Err(format!("'{s}': unknown key name '{other}'")),
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.code {
            KeyName::Char(' ') => "Space".to_string(),
            KeyName::Char(c) if !self.ctrl && !self.alt => return write!(f, "{c}"),
            KeyName::Char(c) => c.to_string(),
            KeyName::Enter => "Enter".into(),
            KeyName::Esc => "Esc".into(),
            KeyName::Tab => "Tab".into(),
            KeyName::BackTab => "S-Tab".into(),
            KeyName::Backspace => "BS".into(),
            KeyName::Up => "Up".into(),
            KeyName::Down => "Down".into(),
            KeyName::Left => "Left".into(),
            KeyName::Right => "Right".into(),
            KeyName::PageUp => "PgUp".into(),
            KeyName::PageDown => "PgDn".into(),
            KeyName::Home => "Home".into(),
            KeyName::End => "End".into(),
            KeyName::Delete => "Del".into(),
            KeyName::F(n) => format!("F{n}"),
        };
        let c = if self.ctrl { "C-" } else { "" };
        let a = if self.alt { "A-" } else { "" };
        write!(f, "<{c}{a}{name}>")
    }
}

/// A key sequence written for humans: `g g`, `<C-c>`.
pub fn show_keys(keys: &[Key]) -> String {
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One effective binding.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The key sequence (one key or a two-key chord).
    pub keys: Vec<Key>,
    /// The command as written (`sort roi`).
    pub run: String,
    /// The parsed action.
    pub action: Action,
    /// Help text.
    pub desc: String,
    /// Set by the user's keymap rather than a shipped one.
    pub user: bool,
}

/// What a key press means.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// Run this.
    Run(Action),
    /// The first key of a chord: wait for the next one.
    Pending,
    /// Not bound here.
    Unbound,
}

/// The effective bindings per context.
#[derive(Clone, Debug, Default)]
pub struct Keymap {
    contexts: BTreeMap<Context, Vec<Binding>>,
    /// Problems found while loading, one line each.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct FileSection {
    #[serde(default)]
    bind: Vec<toml::Value>,
    /// Anything else in the section: not a binding, each one a warning.
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// `s` as a TOML string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    on: OnKeys,
    run: String,
    #[serde(default)]
    desc: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OnKeys {
    One(String),
    Chord(Vec<String>),
}

impl Keymap {
    /// The shipped defaults, then the preset (`default` or `vim`), then the user's file text.
    pub fn load(preset: &str, user: Option<(&str, &str)>) -> Keymap {
        let mut map = Keymap::default();
        map.merge(DEFAULT, "keymaps/default.toml", false);
        match preset {
            "default" | "" => {}
            "vim" => map.merge(VIM, "keymaps/vim.toml", false),
            other => map.warnings.push(format!(
                "keymap = \"{other}\" is not a shipped keymap (default, vim); using default"
            )),
        }
        if let Some((text, origin)) = user {
            map.merge(text, origin, true);
        }
        map
    }

    /// Merges a keymap file over the current bindings, collecting warnings.
    pub fn merge(&mut self, text: &str, origin: &str, user: bool) {
        let table: BTreeMap<String, FileSection> = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                self.warnings.push(format!(
                    "{origin}: not valid TOML ({}); its bindings are ignored",
                    crate::config::toml_problem(text, &e)
                ));
                return;
            }
        };
        for (section, body) in table {
            let Some(ctx) = Context::from_name(&section) else {
                self.warnings.push(format!(
                    "{origin}: unknown section [{section}]; sections are global, sidebar, table, detail, health, logs"
                ));
                continue;
            };
            for (key, value) in &body.other {
                // `"x" = "help"` reads like a binding: show the one it would be.
                let like = match value.as_str() {
                    Some(run) => format!("{{ on = {}, run = {} }}", toml_str(key), toml_str(run)),
                    None => "{ on = \"x\", run = \"help\" }".to_string(),
                };
                self.warnings.push(format!(
                    "{origin} [{section}]: `{key}` is not a binding and is ignored; bindings go in \
                     the section's list, e.g. bind = [{like}]"
                ));
            }
            let mut seen: Vec<Vec<Key>> = Vec::new();
            for (i, raw) in body.bind.into_iter().enumerate() {
                let entry: RawBinding = match raw.try_into() {
                    Ok(b) => b,
                    Err(e) => {
                        self.warnings.push(format!(
                            "{origin} [{section}] entry {}: {}",
                            i + 1,
                            e.message()
                        ));
                        continue;
                    }
                };
                let on: Vec<String> = match entry.on {
                    OnKeys::One(k) => vec![k],
                    OnKeys::Chord(ks) => ks,
                };
                if on.is_empty() || on.len() > 2 {
                    self.warnings.push(format!(
                        "{origin} [{section}] entry {}: a binding has one key or a chord of two",
                        i + 1
                    ));
                    continue;
                }
                let keys = match on
                    .iter()
                    .map(|k| Key::parse(k))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(k) => k,
                    Err(e) => {
                        self.warnings
                            .push(format!("{origin} [{section}] entry {}: {e}", i + 1));
                        continue;
                    }
                };
                let action = match action::parse(&entry.run) {
                    Ok(a) => a,
                    Err(e) => {
                        self.warnings
                            .push(format!("{origin} [{section}] {}: {e}", show_keys(&keys)));
                        continue;
                    }
                };
                if seen.contains(&keys) {
                    self.warnings.push(format!(
                        "{origin} [{section}] {}: bound twice in this file; the later entry wins",
                        show_keys(&keys)
                    ));
                }
                seen.push(keys.clone());
                let list = self.contexts.entry(ctx).or_default();
                list.retain(|b| b.keys != keys);
                if action == Action::None {
                    continue;
                }
                if user
                    && list
                        .iter()
                        .any(|b| b.keys.len() == 2 && b.keys[0] == keys[0])
                    && keys.len() == 1
                {
                    self.warnings.push(format!(
                        "{origin} [{section}] {}: also starts a chord; this binding wins",
                        show_keys(&keys)
                    ));
                    list.retain(|b| !(b.keys.len() == 2 && b.keys[0] == keys[0]));
                }
                let desc = entry.desc.unwrap_or_else(|| {
                    let id = entry.run.split_whitespace().next().unwrap_or("");
                    action::spec_of(id).map_or_else(String::new, |s| s.desc.to_string())
                });
                list.push(Binding {
                    keys,
                    run: entry.run.trim().to_string(),
                    action,
                    desc,
                    user,
                });
            }
        }
        if user {
            self.warn_shadowed_globals(origin);
        }
    }

    /// A key bound in `[global]` that starts a chord of another context (`g` against the
    /// table's `g g`) never reaches the global binding there: the context's keys come
    /// first, and its chord waits for the second key. Said, as a binding that starts a
    /// chord of its own context is.
    fn warn_shadowed_globals(&mut self, origin: &str) {
        let globals: Vec<Key> = self
            .bindings(Context::Global)
            .iter()
            .filter(|b| b.user && b.keys.len() == 1)
            .map(|b| b.keys[0])
            .collect();
        for key in globals {
            for ctx in Context::ALL.into_iter().filter(|c| *c != Context::Global) {
                let chord = self
                    .bindings(ctx)
                    .iter()
                    .find(|b| b.keys.len() == 2 && b.keys[0] == key);
                if let Some(chord) = chord {
                    self.warnings.push(format!(
                        "{origin} [global] {key}: in [{}] {} ({}) comes first, so {key} does \
                         not reach this binding there; bind {key} in [{}] too, or unbind {} \
                         there",
                        ctx.name(),
                        show_keys(&chord.keys),
                        chord.run,
                        ctx.name(),
                        show_keys(&chord.keys),
                    ));
                }
            }
        }
    }

    /// What `keys` (pending chord keys plus the one just pressed) means in `ctx`.
    pub fn lookup(&self, ctx: Context, keys: &[Key]) -> Lookup {
        let mut pending = false;
        for c in [ctx, Context::Global] {
            for b in self.contexts.get(&c).into_iter().flatten() {
                if b.keys == keys {
                    return Lookup::Run(b.action.clone());
                }
                if b.keys.len() > keys.len() && b.keys.starts_with(keys) {
                    pending = true;
                }
            }
            if pending {
                return Lookup::Pending;
            }
        }
        Lookup::Unbound
    }

    /// Bindings of a context (without `global`).
    pub fn bindings(&self, ctx: Context) -> &[Binding] {
        self.contexts.get(&ctx).map_or(&[], Vec::as_slice)
    }

    /// The keys bound to a command in `ctx` or `global`, for hints (`P` for `sort profit`).
    pub fn keys_for(&self, ctx: Context, run: &str) -> Option<String> {
        [ctx, Context::Global]
            .iter()
            .flat_map(|c| self.bindings(*c))
            .find(|b| b.run == run)
            .map(|b| show_keys(&b.keys))
    }

    /// Second keys possible after `first` in `ctx` (for the which-key popup).
    pub fn continuations(&self, ctx: Context, first: Key) -> Vec<&Binding> {
        [ctx, Context::Global]
            .iter()
            .flat_map(|c| self.bindings(*c))
            .filter(|b| b.keys.len() == 2 && b.keys[0] == first)
            .collect()
    }
}

#[cfg(test)]
mod tests;
