//! The command line: `id args…` parsed into an [`Action`], with suggestions and completion.

use std::fmt;

use super::registry::SORT_ARGS;
use super::{
    Action, Basis, Column, CopyTarget, Format, LOG_LEVELS, MarginChange, Motion, REGISTRY, Side,
    SortBy, View, spec_of,
};
use crate::domain::text::nearest;
use crate::domain::{Asin, Market};

/// Why a command did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn bad(id: &str, arg: &str, expected: &str) -> ParseError {
    if arg.is_empty() {
        return ParseError(format!("{id} needs a value: {expected}"));
    }
    ParseError(format!("{id}: '{arg}' is not valid; expected {expected}"))
}

/// The largest minimum margin, either way (a percentage).
pub const MAX_MIN_MARGIN: f64 = 1000.0;

/// What a refresh takes besides ASINs, as the console's parse error names it.
pub const REFRESH_WORDS: &str = "; or 'selected' or 'all'";

/// What `:set refresh` takes, as its parse error says.
const REFRESH_SPAN: &str =
    "'refresh' and a span from 1s to 365d: 90s, 20m, 2h, 1d (a bare number is minutes)";

/// The seconds of `:set refresh`'s span: whole, from 1 s to a year (as
/// `pipeline.refresh_interval_secs` takes).
fn refresh_secs(span: &str) -> Result<u64, ParseError> {
    crate::domain::text::span_secs(span)
        .map(f64::round)
        .filter(|s| (1.0..=365.0 * 86_400.0).contains(s))
        .map(|s| s as u64)
        .ok_or_else(|| bad("set refresh", span, REFRESH_SPAN))
}

/// Parses `id args…` as typed on the command line or written in a keymap's `run`.
pub fn parse(input: &str) -> Result<Action, ParseError> {
    let input = input.trim();
    let (id, rest) = match input.split_once(char::is_whitespace) {
        Some((id, rest)) => (id, rest.trim()),
        None => (input, ""),
    };
    let args: Vec<&str> = rest.split_whitespace().collect();
    let first = args.first().copied().unwrap_or("");
    let action = match id {
        "" => {
            return Err(ParseError(
                "empty command; type an action such as 'sort roi' (Tab completes)".into(),
            ));
        }
        "help" => Action::Help,
        "command" => Action::Command(rest.to_string()),
        "back" => Action::Back,
        "filter" => Action::Filter((!rest.is_empty()).then(|| rest.to_string())),
        "goto" | "opportunities" | "logs" | "health" | "products" => {
            let target = if id == "goto" { first } else { id };
            Action::Goto(match target {
                "opportunities" | "o" | "" => View::Opportunities,
                "health" | "h" => View::Health,
                "logs" | "l" => View::Logs,
                "products" | "p" => View::Products,
                other => {
                    return Err(bad(id, other, "opportunities, products, health or logs"));
                }
            })
        }
        "freeze" => Action::Freeze,
        "theme" => Action::Theme(match first {
            "" | "next" => None,
            name => Some(name.to_string()),
        }),
        "focus" => match first {
            "" | "next" => Action::Focus(true),
            "prev" => Action::Focus(false),
            other => return Err(bad(id, other, "next or prev")),
        },
        "min-margin" | "min" => Action::MinMargin(parse_margin(id, first)?),
        "basis" => Action::Basis(
            [Basis::Gross, Basis::Net]
                .into_iter()
                .find(|b| b.id() == first)
                .ok_or_else(|| bad(id, first, "gross or net"))?,
        ),
        "limit" => Action::Limit(match first {
            "all" => None,
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                // More rows than a machine holds: all of them.
                Err(_) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => None,
                _ => {
                    let offered: Vec<String> = super::ROW_LIMITS
                        .iter()
                        .map(|l| l.map_or("all".to_string(), |l| l.to_string()))
                        .collect();
                    return Err(bad(
                        id,
                        n,
                        &format!(
                            "a row limit: {} (another number takes the next of these)",
                            offered.join(", ")
                        ),
                    ));
                }
            },
        }),
        "markets" | "buy" | "sell" => {
            let side = match id {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                _ => Side::Both,
            };
            let joined = args.join(",");
            let markets = if joined.is_empty() || joined == "all" {
                Market::ALL.to_vec()
            } else {
                crate::domain::parse_market_list(&joined)
                    .map_err(|e| ParseError(format!("{id}: {e}")))?
            };
            Action::Markets(side, markets)
        }
        "quit" | "q" | "q!" => Action::Quit,
        "suspend" => Action::Suspend,
        "redraw" => Action::Redraw,
        "move" => Action::Move(match first {
            "top" => Motion::Top,
            "bottom" => Motion::Bottom,
            "+page" => Motion::Pages(1),
            "-page" => Motion::Pages(-1),
            n => match n.parse::<i64>() {
                Ok(n) => Motion::By(n),
                Err(_) => return Err(bad(id, n, "+1, -1, +page, -page, top or bottom")),
            },
        }),
        "open" => Action::Open,
        "set" => match (first, args.get(1)) {
            ("" | "refresh", None) => Action::SetRefresh(None),
            ("refresh", Some(span)) => Action::SetRefresh(Some(refresh_secs(span)?)),
            (other, _) => return Err(bad(id, other, "a setting: refresh")),
        },
        "discover" if first.is_empty() => Action::Discover,
        "discover" => return Err(bad(id, first, "nothing: discover takes no arguments")),
        "mark" => Action::Mark,
        "zoom" => Action::Zoom,
        "sort" => Action::Sort(match first {
            "next" => SortBy::Next,
            "reverse" => SortBy::Reverse,
            col => {
                let c = Column::parse(col).ok_or_else(|| {
                    let (last, rest) = SORT_ARGS.split_last().unwrap_or((&"", &[]));
                    let expected =
                        format!("{} or {last} (asc or desc after a column)", rest.join(", "));
                    bad(id, col, &expected)
                })?;
                let dir = match args.get(1).copied() {
                    None => None,
                    Some("desc") => Some(true),
                    Some("asc") => Some(false),
                    Some(other) => return Err(bad(id, other, "asc or desc")),
                };
                SortBy::Column(c, dir)
            }
        }),
        "copy" => Action::Copy(match first {
            "" | "link" => CopyTarget::Link,
            "buy-link" | "buy" => CopyTarget::BuyLink,
            "asin" => CopyTarget::Asin,
            "row" => CopyTarget::Row,
            "breakdown" => CopyTarget::Breakdown,
            other => return Err(bad(id, other, "link, buy-link, asin, row or breakdown")),
        }),
        "export" => Action::Export(match first {
            "" | "csv" => Format::Csv,
            "json" => Format::Json,
            other => return Err(bad(id, other, "csv or json")),
        }),
        // The words in any case, as ASINs are taken.
        "refresh" => match first.to_ascii_lowercase().as_str() {
            "" | "selected" => Action::Refresh,
            "all" if args.len() > 1 => {
                return Err(ParseError(
                    "refresh: 'all' refreshes the whole watchlist; name ASINs without it".into(),
                ));
            }
            "all" => Action::RefreshAll,
            _ => Action::RefreshAsins(
                asins(id, &args).map_err(|e| ParseError(format!("{}{REFRESH_WORDS}", e.0)))?,
            ),
        },
        "watch" => {
            let asins = asins(id, &args[args.len().min(1)..])?;
            match first {
                "add" => Action::WatchAdd(asins),
                "remove" | "rm" => Action::WatchRemove(asins),
                other => return Err(bad(id, other, "add ASIN… or remove [ASIN…]")),
            }
        }
        "toggle" => Action::Toggle,
        "faults-only" => Action::FaultsOnly,
        "log-level" => match LOG_LEVELS.iter().position(|l| *l == first) {
            Some(i) => Action::LogLevel(i),
            None => return Err(bad(id, first, "error, warn, info, debug or trace")),
        },
        "none" => Action::None,
        other => {
            return Err(ParseError(match nearest_id(other) {
                Some(n) => format!("unknown action '{other}'; did you mean '{n}'?"),
                None => format!("unknown action '{other}'; Tab on an empty line lists them all"),
            }));
        }
    };
    // Words beyond what the action reads are refused, not ignored.
    let most = match action {
        Action::Help
        | Action::Back
        | Action::Quit
        | Action::Suspend
        | Action::Redraw
        | Action::Open
        | Action::Mark
        | Action::Zoom
        | Action::Freeze
        | Action::Toggle
        | Action::FaultsOnly
        | Action::None => 0,
        Action::Goto(_) if id != "goto" => 0,
        Action::Sort(_) | Action::SetRefresh(_) => 2,
        Action::Command(_)
        | Action::Filter(_)
        | Action::Markets(..)
        | Action::WatchAdd(_)
        | Action::WatchRemove(_)
        | Action::RefreshAsins(_) => usize::MAX,
        _ => 1,
    };
    if args.len() > most {
        return Err(ParseError(match most {
            0 => format!("{id} takes no arguments; got '{rest}'"),
            n => format!(
                "{id} takes {n} argument{}; '{}' is one too many",
                if n == 1 { "" } else { "s" },
                args[n..].join(" ")
            ),
        }));
    }
    Ok(action)
}

/// ASINs separated by spaces or commas, each once, in order.
fn asins(id: &str, args: &[&str]) -> Result<Vec<Asin>, ParseError> {
    let mut out: Vec<Asin> = Vec::new();
    for a in args
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|a| !a.is_empty())
    {
        let asin = Asin::parse_or_link(a).map_err(|e| ParseError(format!("{id}: {e}")))?;
        if !out.contains(&asin) {
            out.push(asin);
        }
    }
    Ok(out)
}

/// `12` sets the minimum, `+1` / `-1` move it, `=-5` sets a negative one.
fn parse_margin(id: &str, arg: &str) -> Result<MarginChange, ParseError> {
    let (set, number) = match arg.strip_prefix('=') {
        Some(rest) => (true, rest),
        None => (!(arg.starts_with('+') || arg.starts_with('-')), arg),
    };
    let example = "a percentage such as 12, +1, -1 or =-5";
    let value: f64 = number
        .strip_suffix('%')
        .unwrap_or(number)
        .parse()
        .map_err(|_| bad(id, arg, example))?;
    if !value.is_finite() {
        return Err(bad(id, arg, example));
    }
    if value.abs() > MAX_MIN_MARGIN {
        return Err(bad(id, arg, "a percentage between -1000 and 1000"));
    }
    // `-0` is 0 (and would show as `-0.0 %`).
    let value = value + 0.0;
    Ok(if set {
        MarginChange::To(value)
    } else {
        MarginChange::By(value)
    })
}

/// The registry id closest to `s`, for "did you mean" (see [`nearest`]).
pub fn nearest_id(s: &str) -> Option<&'static str> {
    // `none` only unbinds a key in a keymap: nobody means it.
    nearest(
        s,
        REGISTRY
            .iter()
            .map(|spec| spec.id)
            .filter(|id| *id != "none"),
    )
}

/// Completions of a partly typed command line: ids, then the first argument's hints, the
/// order after a sort column (`asc`, `desc`), and market codes in a market list.
pub fn complete(input: &str) -> Vec<String> {
    const MARKET_LISTS: [&str; 3] = ["markets", "buy", "sell"];
    match input.split_once(' ') {
        None => REGISTRY
            .iter()
            .filter(|s| s.id.starts_with(input) && s.id != "none")
            .map(|s| s.id.to_string())
            .collect(),
        // A market list: the codes not in it yet, after the last comma.
        Some((id, arg)) if MARKET_LISTS.contains(&id) => {
            let arg = arg.trim_start().to_ascii_lowercase();
            let (done, part) = arg.rsplit_once(',').unwrap_or(("", arg.as_str()));
            let taken: Vec<&str> = done.split(',').map(str::trim).collect();
            let prefix = if done.is_empty() {
                String::new()
            } else {
                format!("{done},")
            };
            ["uk", "de", "fr", "it", "es"]
                .iter()
                .filter(|m| m.starts_with(part.trim()) && !taken.contains(m))
                .map(|m| format!("{id} {prefix}{m}"))
                .collect()
        }
        Some((id, arg)) => {
            let Some(spec) = spec_of(id) else {
                return Vec::new();
            };
            let words: Vec<&str> = arg.split_whitespace().collect();
            let second = words.len() == 2 || (words.len() == 1 && arg.ends_with(' '));
            if id == "sort" && second && spec.args.contains(&words[0]) {
                let typed = if words.len() == 2 { words[1] } else { "" };
                let col = words[0];
                return ["asc", "desc"]
                    .iter()
                    .filter(|o| o.starts_with(typed) && !matches!(col, "next" | "reverse"))
                    .map(|o| format!("sort {col} {o}"))
                    .collect();
            }
            spec.args
                .iter()
                .filter(|a| a.starts_with(arg.trim_start()))
                .map(|a| format!("{id} {a}"))
                .collect()
        }
    }
}
