//! Themes: named roles (`border`, `selection`, `profit_high`, …) resolved to styles.
//!
//! Widgets never name colours; they ask the theme for a role. The shipped themes are TOML
//! files compiled in; a user theme in `<config>/themes/NAME.toml` may `extends` one of them
//! and override single roles. Colours are reduced to what the terminal can show: RGB with
//! truecolor, the nearest xterm-256 index on 256-colour terminals, and the `ansi16` theme
//! below that.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub mod background;

pub use background::Background;

/// Shipped themes: (name, TOML).
pub const BUILTIN: [(&str, &str); 5] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Colour depth of the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// 24-bit.
    TrueColor,
    /// xterm-256 palette.
    Indexed256,
    /// The 16 ANSI colours.
    Ansi16,
}

impl Depth {
    /// From `COLORTERM` and `TERM`.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> Depth {
        if matches!(colorterm, Some("truecolor" | "24bit")) {
            Depth::TrueColor
        } else if term.is_some_and(|t| t.contains("256color")) {
            Depth::Indexed256
        } else {
            Depth::Ansi16
        }
    }
}

/// A resolved theme.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// The theme's name.
    pub name: String,
    styles: BTreeMap<String, Style>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    extends: Option<String>,
    #[serde(default)]
    palette: BTreeMap<String, String>,
    #[serde(default)]
    roles: BTreeMap<String, toml::Value>,
    #[serde(default)]
    status: BTreeMap<String, toml::Value>,
}

/// Every role a widget may ask for; the shipped themes define all of them.
pub const ROLES: [&str; 31] = [
    // The whole screen, under everything (`{}` leaves the terminal's own colours).
    "screen",
    "border",
    "border_focus",
    "title",
    "selection",
    "header",
    "sort_indicator",
    "filter_active",
    "key_hint",
    "badge_live",
    "badge_demo",
    "badge_readonly",
    "toast_ok",
    "toast_err",
    "muted",
    "profit_high",
    "profit_low",
    "profit_negative",
    "delta_good",
    "delta_bad",
    "stale",
    "flag",
    "amazon_on_listing",
    "health_ok",
    "health_degraded",
    "health_down",
    // Chart lines are drawn in the palette's own colours.
    "accent",
    "good",
    "warn",
    "bad",
    "dim",
];

impl Theme {
    /// A shipped theme by name (`dark` when unknown, which the shipped list never is).
    pub fn builtin(name: &str) -> Theme {
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(BUILTIN[0].1, |(_, t)| *t);
        let (theme, _) = Theme::parse(text, None);
        theme
    }

    /// Names of the shipped themes, in `theme next` order.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    /// Parses a theme file; `base` supplies roles it lacks (`extends`, else `dark`).
    /// Returns the theme and warnings (unknown roles, bad colours); never fails: what cannot
    /// be read falls back to the base.
    pub fn parse(text: &str, base: Option<&Theme>) -> (Theme, Vec<String>) {
        let mut warnings = Vec::new();
        let file: ThemeFile = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(format!(
                    "not a valid theme file: {}",
                    crate::config::toml_problem(text, &e)
                ));
                let fallback = base.cloned().unwrap_or_else(|| Theme::builtin("dark"));
                return (fallback, warnings);
            }
        };
        let mut styles = match (&file.extends, base) {
            (Some(name), _) => {
                if !BUILTIN.iter().any(|(n, _)| n == name) {
                    warnings.push(format!(
                        "extends = \"{name}\" is not a shipped theme ({}); using dark",
                        Theme::builtin_names().collect::<Vec<_>>().join(", ")
                    ));
                }
                Theme::builtin(name).styles
            }
            (None, Some(b)) => b.styles.clone(),
            (None, None) => BTreeMap::new(),
        };
        let mut palette = BTreeMap::new();
        for (k, v) in &file.palette {
            match parse_color(v) {
                Some(c) => {
                    palette.insert(k.clone(), c);
                    styles.insert(k.clone(), Style::new().fg(c));
                }
                None => warnings.push(format!("palette.{k}: '{v}' is not a colour")),
            }
        }
        for (section, roles) in [("roles", &file.roles), ("status", &file.status)] {
            for (role, v) in roles {
                if !ROLES.contains(&role.as_str()) {
                    warnings.push(format!("[{section}] {role}: unknown role"));
                    continue;
                }
                match style_of(v, &palette) {
                    Ok(s) => {
                        styles.insert(role.clone(), s);
                    }
                    Err(e) => warnings.push(format!("[{section}] {role}: {e}")),
                }
            }
        }
        let name = file.name.unwrap_or_else(|| "custom".into());
        (Theme { name, styles }, warnings)
    }

    /// The style of a role (the terminal's default when the theme lacks it).
    pub fn style(&self, role: &str) -> Style {
        self.styles.get(role).copied().unwrap_or_default()
    }

    /// Whether every widget role resolves.
    pub fn missing_roles(&self) -> Vec<&'static str> {
        ROLES
            .iter()
            .copied()
            .filter(|r| !self.styles.contains_key(*r))
            .collect()
    }

    /// The theme with its colours reduced to `depth`.
    pub fn for_depth(mut self, depth: Depth) -> Theme {
        let reduce: fn(Color) -> Color = match depth {
            Depth::TrueColor => return self,
            Depth::Indexed256 => to_256,
            Depth::Ansi16 => to_16,
        };
        for s in self.styles.values_mut() {
            s.fg = s.fg.map(reduce);
            s.bg = s.bg.map(reduce);
        }
        self
    }
}

fn style_of(v: &toml::Value, palette: &BTreeMap<String, Color>) -> Result<Style, String> {
    let color = |s: &str| -> Result<Color, String> {
        palette
            .get(s)
            .copied()
            .or_else(|| parse_color(s))
            .ok_or_else(|| format!("'{s}' is neither a palette name nor a colour"))
    };
    match v {
        toml::Value::String(s) => Ok(Style::new().fg(color(s)?)),
        toml::Value::Table(t) => {
            let mut style = Style::new();
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("fg", toml::Value::String(s)) => style = style.fg(color(s)?),
                    ("bg", toml::Value::String(s)) => style = style.bg(color(s)?),
                    (m, toml::Value::Boolean(true)) => {
                        style = style.add_modifier(match m {
                            "bold" => Modifier::BOLD,
                            "dim" => Modifier::DIM,
                            "italic" => Modifier::ITALIC,
                            "underlined" => Modifier::UNDERLINED,
                            "reversed" => Modifier::REVERSED,
                            other => return Err(format!("unknown style key '{other}'")),
                        })
                    }
                    (_, toml::Value::Boolean(false)) => {}
                    (other, _) => return Err(format!("bad value for '{other}'")),
                }
            }
            Ok(style)
        }
        _ => Err("expected a palette name or a style table".into()),
    }
}

/// `#rrggbb`, an ANSI name, `0`–`255` or `reset`.
fn parse_color(s: &str) -> Option<Color> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if let Ok(i) = s.parse::<u8>() {
        return Some(Color::Indexed(i));
    }
    Some(
        match s.to_ascii_lowercase().replace(['_', '-', ' '], "").as_str() {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "darkgray" | "darkgrey" => Color::DarkGray,
            "lightred" => Color::LightRed,
            "lightgreen" => Color::LightGreen,
            "lightyellow" => Color::LightYellow,
            "lightblue" => Color::LightBlue,
            "lightmagenta" => Color::LightMagenta,
            "lightcyan" => Color::LightCyan,
            "white" => Color::White,
            _ => return None,
        },
    )
}

/// One of the 16 ANSI colours for a 24-bit or xterm-256 colour, for a terminal that has no
/// more: a theme chosen in the console (`T`) or in the config may be any. A colour with a
/// clear hue keeps it (red, yellow, green, cyan, blue or magenta, bright when light): the
/// nearest colour by distance alone turns the shipped themes' muted green and red into
/// one grey, and then a profit no longer reads as one. The rest is a grey by lightness.
fn to_16(c: Color) -> Color {
    let (r, g, b) = match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) if i >= 16 => indexed_rgb(i),
        other => return other,
    };
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    // Greyish: little spread, or little against its lightness (a bluish white text).
    if max - min < 40 || u16::from(max - min) * 4 < u16::from(max) {
        let avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
        return match avg {
            0..64 => Color::Black,
            64..160 => Color::DarkGray,
            160..224 => Color::Gray,
            _ => Color::White,
        };
    }
    // The hue in degrees (HSV), to the nearest of the six.
    let (rf, gf, bf) = (f64::from(r), f64::from(g), f64::from(b));
    let d = f64::from(max - min);
    let hue = if max == r {
        60.0 * ((gf - bf) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((bf - rf) / d + 2.0)
    } else {
        60.0 * ((rf - gf) / d + 4.0)
    };
    // Yellow narrower than the rest: a yellow-green (a muted "profit") reads as green.
    let (dark, bright) = match hue {
        h if !(30.0..330.0).contains(&h) => (Color::Red, Color::LightRed),
        h if h < 75.0 => (Color::Yellow, Color::LightYellow),
        h if h < 165.0 => (Color::Green, Color::LightGreen),
        h if h < 195.0 => (Color::Cyan, Color::LightCyan),
        h if h < 270.0 => (Color::Blue, Color::LightBlue),
        _ => (Color::Magenta, Color::LightMagenta),
    };
    if max >= 200 { bright } else { dark }
}

/// The colour of xterm-256 index `i` (16 and up: the 6×6×6 cube, then 24 greys).
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    const STEPS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        16..=231 => {
            let c = i - 16;
            (
                STEPS[usize::from(c / 36)],
                STEPS[usize::from(c / 6 % 6)],
                STEPS[usize::from(c % 6)],
            )
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
        _ => (0, 0, 0),
    }
}

/// The nearest xterm-256 colour of an RGB colour (6×6×6 cube or grey ramp). A colour with
/// a clear hue stays in the cube even where a grey is nearer: a muted green that turned grey
/// would no longer say "profit".
fn to_256(c: Color) -> Color {
    let Color::Rgb(r, g, b) = c else {
        return c;
    };
    let level = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = 16 + 36 * ri + 6 * gi + bi;
    let steps = [0u8, 95, 135, 175, 215, 255];
    let cube_rgb = (steps[ri as usize], steps[gi as usize], steps[bi as usize]);
    let avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let grey_i = if avg > 238 {
        23
    } else {
        (avg.saturating_sub(3) / 10) as u8
    };
    let grey_v = 8 + 10 * grey_i;
    let dist = |(x, y, z): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(x, r) + d(y, g) + d(z, b)
    };
    let spread = r.max(g).max(b) - r.min(g).min(b);
    if spread >= 40 {
        // A clear hue: the nearest cube colour that is not itself a grey.
        let mut best = (i32::MAX, cube);
        for (i, c) in (0..216u8).map(|i| (i, (i / 36, i / 6 % 6, i % 6))) {
            if c.0 == c.1 && c.1 == c.2 {
                continue;
            }
            let rgb = (
                steps[c.0 as usize],
                steps[c.1 as usize],
                steps[c.2 as usize],
            );
            if dist(rgb) < best.0 {
                best = (dist(rgb), 16 + i);
            }
        }
        Color::Indexed(best.1)
    } else if dist((grey_v, grey_v, grey_v)) < dist(cube_rgb) {
        Color::Indexed(232 + grey_i)
    } else {
        Color::Indexed(cube)
    }
}

/// How the theme was chosen, for `arbdesk info`.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The theme name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Precedence: `--no-color` → mono; an explicit theme (flag or config); `NO_COLOR` → mono;
/// the theme last chosen in the console (`T`, `:theme`), saved with its sort and filters;
/// a terminal without 256 colours → ansi16; a light background (asked at start, see
/// [`background`]) → light; else dark.
pub fn choose(
    explicit: Option<&str>,
    no_color_flag: bool,
    env: &TermEnv,
    saved: Option<&str>,
) -> Choice {
    let c = |name: &str, reason: &str| Choice {
        name: name.into(),
        reason: reason.into(),
    };
    if let Some(settled) = settled(explicit, no_color_flag, env) {
        return settled;
    }
    if let Some(name) = saved.filter(|n| *n != "auto") {
        return c(name, "chosen in the console, kept in ui-state.toml");
    }
    if env.depth() == Depth::Ansi16 {
        return c("ansi16", "the terminal has fewer than 256 colours");
    }
    match env.background {
        Some(Background::Light) => c("light", "the terminal's background is light (OSC 11)"),
        Some(Background::Dark) => c("dark", "the terminal's background is dark (OSC 11)"),
        None => c("dark", "default"),
    }
}

/// The choice the settings and the environment make whatever else holds, if they make one.
fn settled(explicit: Option<&str>, no_color_flag: bool, env: &TermEnv) -> Option<Choice> {
    let c = |name: &str, reason: &str| Choice {
        name: name.into(),
        reason: reason.into(),
    };
    if no_color_flag {
        return Some(c("mono", "--no-color"));
    }
    if let Some(name) = explicit.filter(|n| *n != "auto") {
        return Some(c(name, "theme setting"));
    }
    if env.no_color.as_deref().is_some_and(|v| !v.is_empty()) {
        return Some(c("mono", "NO_COLOR is set"));
    }
    None
}

/// Whether the terminal's background can decide the theme, now or at a later `:theme
/// auto` (a theme saved from the console does not settle that): then it is worth asking.
pub fn asks_background(explicit: Option<&str>, no_color_flag: bool, env: &TermEnv) -> bool {
    settled(explicit, no_color_flag, env).is_none() && env.depth() != Depth::Ansi16
}

/// The terminal environment the console adapts to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TermEnv {
    /// `TERM`.
    pub term: Option<String>,
    /// `COLORTERM`.
    pub colorterm: Option<String>,
    /// `NO_COLOR`.
    pub no_color: Option<String>,
    /// `TMUX`.
    pub tmux: Option<String>,
    /// `SSH_TTY` or `SSH_CONNECTION`.
    pub ssh: Option<String>,
    /// The locale of characters: `LC_ALL`, else `LC_CTYPE`, else `LANG` (`NAME=value`).
    pub locale: Option<String>,
    /// The background, when the terminal was asked and said ([`background::ask`]).
    pub background: Option<Background>,
}

impl TermEnv {
    /// When the locale is set and is not UTF-8: the console draws with UTF-8 (box lines,
    /// arrows, €, £), which tmux or screen following such a locale shows as `_`.
    pub fn locale_warning(&self) -> Option<String> {
        let locale = self.locale.as_deref()?;
        let lower = locale.to_ascii_lowercase();
        let var = locale.split_once('=').map_or("LANG", |(k, _)| k);
        (!lower.contains("utf-8") && !lower.contains("utf8")).then(|| {
            format!(
                "the locale is not UTF-8 ({locale}): the console draws with UTF-8 (─ ▲ € £), \
                 which tmux or screen following this locale shows as _; set {var}=C.UTF-8 \
                 (or another UTF-8 locale) before starting them"
            )
        })
    }

    /// Read from the process environment.
    pub fn from_env() -> TermEnv {
        let var = |k: &str| std::env::var(k).ok();
        TermEnv {
            term: var("TERM"),
            colorterm: var("COLORTERM"),
            no_color: var("NO_COLOR"),
            tmux: var("TMUX"),
            ssh: var("SSH_TTY").or_else(|| var("SSH_CONNECTION")),
            locale: ["LC_ALL", "LC_CTYPE", "LANG"]
                .into_iter()
                .find_map(|k| var(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={v}"))),
            background: None,
        }
    }

    /// Colour depth.
    pub fn depth(&self) -> Depth {
        Depth::detect(self.colorterm.as_deref(), self.term.as_deref())
    }
}

#[cfg(test)]
mod tests;
