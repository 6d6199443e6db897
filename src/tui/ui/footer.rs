//! The footer: the key hints of where the keys go now, or the prompt being typed with its
//! error or completions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{block, fit, styled};
use crate::tui::action::Context;
use crate::tui::keymap::Keymap;
use crate::tui::state::{Overlay, PromptKind, UiState};
use crate::tui::theme::Theme;

/// Commands the hint bar offers per context, in order.
fn hint_runs(ctx: Context) -> &'static [&'static str] {
    match ctx {
        Context::Table => &[
            "help",
            "command",
            "filter",
            "open",
            "sort next",
            "copy link",
            "export csv",
            "freeze",
            "focus next",
            "quit",
        ],
        // `quit` goes back here ("back below the top view"): the Esc hint says it. The
        // way back is last, so it is never the hint a narrow bar leaves out.
        Context::Detail => &[
            "copy link",
            "copy buy-link",
            "copy asin",
            "copy breakdown",
            "refresh selected",
            "help",
            "back",
        ],
        Context::Sidebar => &[
            "toggle",
            "move +1",
            "min-margin +1",
            "focus next",
            "help",
            "back",
        ],
        Context::Health => &["faults-only", "move +1", "focus next", "help", "back"],
        Context::Logs => &[
            "filter",
            "log-level warn",
            "move top",
            "move bottom",
            "help",
            "back",
        ],
        Context::Products => &[
            "filter",
            "open",
            "copy link",
            "refresh selected",
            // One of the two does nothing, by whether the selected product is watched.
            "watch add",
            "watch remove",
            "help",
            "back",
        ],
        Context::Global => &["help", "command", "quit"],
    }
}

/// The short name a hint shows for a command in `ctx`.
fn hint_label(run: &str, ctx: Context) -> &str {
    match run {
        "filter" if matches!(ctx, Context::Logs | Context::Products) => "search",
        "open" if ctx == Context::Products => "routes",
        "watch remove" => "unwatch",
        "watch add" => "watch",
        "move +1" if ctx == Context::Health => "scroll",
        "copy link" => "copy link",
        "copy buy-link" => "buy link",
        "refresh selected" => "refresh",
        "copy asin" => "copy ASIN",
        "copy breakdown" => "copy P&L",
        "min-margin +1" => "margin",
        "move +1" => "down",
        "move top" => "top",
        "move bottom" => "follow",
        "log-level warn" => "warn+",
        "faults-only" => "faults",
        // A market or the basis flips, the limit steps, the margin opens its prompt.
        "toggle" => "change",
        other => other.split(' ').next().unwrap_or(other),
    }
}

/// `message` wrapped in a box that sits on the footer line `footer`, at most 10 lines
/// (the last ends in `…` when more would not fit).
fn prompt_message(f: &mut Frame<'_>, footer: Rect, message: &str, theme: &Theme) {
    let inner_w = usize::from(footer.width.saturating_sub(2));
    if inner_w < 8 || footer.y < 3 {
        return;
    }
    // A completion list (items two spaces apart) wraps between items, anything else
    // between words.
    let mut lines = if message.contains("  ") {
        let mut lines: Vec<String> = vec![String::new()];
        for item in message.split("  ") {
            let item = fit(item, inner_w);
            let last = lines.last_mut().expect("starts with one line");
            if last.is_empty() {
                last.push_str(&item);
            } else if last.width() + 2 + item.width() <= inner_w {
                last.push_str("  ");
                last.push_str(&item);
            } else {
                lines.push(item.into_owned());
            }
        }
        lines
    } else {
        super::wrap_words(message, inner_w)
    };
    let most = usize::from(footer.y.saturating_sub(2)).min(10);
    if lines.len() > most {
        lines.truncate(most);
        if let Some(last) = lines.last_mut() {
            *last = format!(
                "{}…",
                fit(last, inner_w.saturating_sub(1)).trim_end_matches('…')
            );
        }
    }
    let h = lines.len() as u16 + 2;
    let rect = Rect {
        x: footer.x,
        y: footer.y - h,
        width: footer.width,
        height: h,
    };
    super::clear(f, rect, theme);
    let text: Vec<Line<'_>> = lines.into_iter().map(Line::from).collect();
    f.render_widget(
        Paragraph::new(text)
            .style(theme.style("toast_err"))
            .block(block(String::new(), true, theme)),
        rect,
    );
}

/// `text` if it is at most `width` cells wide, else `…` and as much of its end as fits.
fn tail(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut kept = Vec::new();
    let mut used = 1; // the ellipsis
    for c in text.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        kept.push(c);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

pub(super) fn footer(f: &mut Frame<'_>, area: Rect, s: &UiState, theme: &Theme, keymap: &Keymap) {
    if let Some(Overlay::Prompt(p)) = &s.overlay {
        let lead = match p.kind {
            PromptKind::Command => ":",
            PromptKind::Filter | PromptKind::LogSearch | PromptKind::ProductSearch => "/",
        };
        // The end of the input, where typing happens, stays in view: a line longer than
        // the footer shows `…` and its last part.
        let room = usize::from(area.width).saturating_sub(2);
        let mut spans = vec![
            styled(lead, "key_hint", theme),
            Span::raw(tail(&p.input, room)),
            styled("█", "muted", theme),
        ];
        // A last word that may be a field name on its way (`pro` of `price>5`) is held
        // back from the table (see `filter::settled`): say so, or the table seems to ignore
        // it.
        let held = (p.kind == PromptKind::Filter && p.error.is_none())
            .then(|| p.input[crate::filter::settled(&p.input).len()..].trim())
            .filter(|w| !w.is_empty());
        if let Some(word) = held {
            let note = format!("'{word}' waits for a field's > = ~ (Space searches for it)");
            let used: usize = spans.iter().map(Span::width).sum::<usize>() + 2;
            if note.width() <= usize::from(area.width).saturating_sub(used) {
                spans.push(Span::raw("  "));
                spans.push(styled(note, "muted", theme));
            }
        }
        if let Some(e) = &p.error {
            let used: usize = spans.iter().map(Span::width).sum::<usize>() + 2;
            let room = usize::from(area.width).saturating_sub(used);
            if e.width() <= room {
                spans.push(Span::raw("  "));
                spans.push(styled(e.clone(), "toast_err", theme));
            } else {
                // Too long for the prompt's line (a long completion list, an error with
                // its accepted values): wrapped in a box above it, as a shell lists them.
                prompt_message(f, area, e, theme);
            }
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    // Help and a confirmation take the keys while they are open: their hints, not the
    // view's.
    let modal: Option<&[(&str, &str)]> = match &s.overlay {
        Some(Overlay::Help { .. }) => Some(&[
            ("type", "filter"),
            ("↑↓ PgUp PgDn", "move"),
            ("<Enter>", "run"),
            ("<Esc> ?", "close"),
        ]),
        Some(Overlay::Confirm(_)) => Some(&[("y", "yes"), ("any other key", "no")]),
        _ => None,
    };
    // Whole hints only: when they do not all fit, the ones before the last are left out
    // from the end of the list, so the first (help) and the last (quit, back) always show.
    let hint = |key: String, label: &str| {
        (
            styled(key, "key_hint", theme),
            Span::raw(format!(" {label}")),
        )
    };
    let ctx = s.context();
    let mut hints: Vec<(Span<'_>, Span<'_>)> = match modal {
        Some(fixed) => fixed.iter().map(|(k, l)| hint(k.to_string(), l)).collect(),
        None => hint_runs(ctx)
            .iter()
            .filter_map(|run| {
                // What help leaves out, the hint bar does too.
                if crate::tui::action::parse(run).is_ok_and(|a| !super::offered(s, ctx, &a)) {
                    return None;
                }
                let label = match *run {
                    // The same key thaws the view: say so while it is frozen.
                    "freeze" if s.frozen.is_some() => "unfreeze",
                    run => hint_label(run, ctx),
                };
                Some(hint(keymap.keys_for(ctx, run)?, label))
            })
            .collect(),
    };
    // While frozen, the way out is the last middle hint to give way.
    if s.frozen.is_some()
        && let Some(i) = hints.iter().position(|(_, l)| l.content == " unfreeze")
        && i > 1
    {
        let h = hints.remove(i);
        hints.insert(1, h);
    }
    let width = |h: &[(Span<'_>, Span<'_>)]| -> usize {
        h.iter().map(|(k, l)| k.width() + l.width()).sum::<usize>() + 2 * h.len().saturating_sub(1)
    };
    while hints.len() > 2 && width(&hints) > usize::from(area.width) {
        hints.remove(hints.len() - 2);
    }
    while !hints.is_empty() && width(&hints) > usize::from(area.width) {
        hints.pop();
    }
    let mut spans = Vec::with_capacity(hints.len() * 3);
    for (i, (key, label)) in hints.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.extend([key, label]);
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
