//! Tab completion on the `:` line: the first Tab completes as far as the candidates agree
//! and lists them; each further Tab takes the next candidate in turn, Shift-Tab the one
//! before.

use super::Prompt;
use crate::tui::state::UiState;

impl UiState {
    /// Completes `p` for a Tab (`back`: Shift-Tab), given the candidates an earlier Tab
    /// listed (`cycle`: them and the one the next Tab takes).
    pub(super) fn complete(&self, p: &mut Prompt, cycle: Option<(Vec<String>, usize)>, back: bool) {
        if let Some((options, next)) = cycle {
            let n = options.len();
            let current = (next + n - 1) % n;
            let next = match back {
                true if p.input == options[current] => (current + n - 1) % n,
                true => n - 1,
                false => next,
            };
            p.input = options[next].clone();
            p.error = Some(listed(&options, Some(next)));
            p.cycle = Some((options, (next + 1) % n));
            return;
        }
        let mut options = crate::tui::action::complete(&p.input);
        // What this console may not run is not offered.
        options.retain(|o| {
            let id = o.split(' ').next().unwrap_or("");
            crate::tui::action::spec_of(id)
                .is_none_or(|spec| crate::tui::ui::command_allowed(self, spec))
        });
        if let Some(first) = options.first() {
            p.input = if options.len() == 1 {
                format!("{first} ")
            } else {
                common_prefix(&options)
            };
        }
        // What they agree on may be a candidate itself (`mar` → `mark`, of `markets  mark`):
        // shown as the one taken, and the next Tab goes on from it.
        let taken = options.iter().position(|o| *o == p.input);
        p.error = (options.len() > 1).then(|| listed(&options, taken));
        let next = taken.map_or(0, |j| (j + 1) % options.len().max(1));
        p.cycle = (options.len() > 1).then_some((options, next));
    }
}

/// The candidates as the line under the prompt lists them, the one taken in brackets.
fn listed(options: &[String], taken: Option<usize>) -> String {
    options
        .iter()
        .enumerate()
        .map(|(j, o)| {
            if Some(j) == taken {
                format!("[{o}]")
            } else {
                o.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// The longest start every one of `options` shares, cut at a character boundary.
fn common_prefix(options: &[String]) -> String {
    let Some(first) = options.first() else {
        return String::new();
    };
    let mut len = first.len();
    for o in options {
        len = len.min(
            first
                .chars()
                .zip(o.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum(),
        );
    }
    first[..len].to_string()
}
