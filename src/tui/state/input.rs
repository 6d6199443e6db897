//! Keys, pastes and the prompts: how terminal input becomes actions and effects.

use crossterm::event::KeyEvent;

use super::{Action, Effect, Filter, Key, Keymap, Lookup, Overlay, UiState};

mod complete;

/// Prompts at the bottom of the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// `:` command line.
    Command,
    /// `/` filter.
    Filter,
    /// `/` in the log view: a case-insensitive search of the log lines.
    LogSearch,
    /// `/` in the products view: words the store finds in titles, brands and ASINs.
    ProductSearch,
}

/// A line being typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// Which prompt.
    pub kind: PromptKind,
    /// The text so far.
    pub input: String,
    /// Inline error under the prompt.
    pub error: Option<String>,
    /// Position in the history while walking it.
    pub history_pos: Option<usize>,
    /// What was typed before the history walk began: Down past the newest entry gives it
    /// back, as a shell does.
    pub draft: String,
    /// Tab completion's candidates and the one the next Tab takes (after Tab listed them).
    pub cycle: Option<(Vec<String>, usize)>,
    /// The text it opened with: for `/`, the filter in force before typing began, which
    /// is what is saved if the console quits while the filter is still being typed.
    pub opened_with: String,
}

/// How a `/` filter is kept in the command history: as the command that sets it, so `:`
/// recalls it too and the `/` prompt's Up and Down walk those lines.
const FILTER_LINE: &str = "filter ";

impl UiState {
    /// A key from the terminal. Prompts and overlays take keys first.
    pub fn on_key(&mut self, ev: &KeyEvent, keymap: &Keymap) -> Vec<Effect> {
        self.dirty = true;
        // A terminal set to send ^H for Backspace (PuTTY's option, some vt220 setups)
        // arrives as Ctrl-H: it is Backspace where text is typed (a prompt, help's filter);
        // elsewhere the keymap may bind it.
        let backspace;
        let ev = if ev.code == crossterm::event::KeyCode::Char('h')
            && ev.modifiers == crossterm::event::KeyModifiers::CONTROL
            && self.overlay.is_some()
        {
            backspace = KeyEvent::new(
                crossterm::event::KeyCode::Backspace,
                crossterm::event::KeyModifiers::NONE,
            );
            &backspace
        } else {
            ev
        };
        // Nothing shows but the size: a key would act unseen (a confirmation answered blind,
        // a filter typed into the void). Only Ctrl-C and Ctrl-Z act, as the screen says.
        if crate::tui::ui::too_small(self.size) {
            use crossterm::event::{KeyCode, KeyModifiers};
            return match ev.code {
                KeyCode::Char('c') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.quit = true;
                    Vec::new()
                }
                KeyCode::Char('z') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                    vec![Effect::Suspend]
                }
                _ => Vec::new(),
            };
        }
        if self.overlay.is_some() {
            return self.overlay_key(ev, keymap);
        }
        let Some(key) = Key::from_event(ev) else {
            return Vec::new();
        };
        let mut seq = std::mem::take(&mut self.pending_keys);
        seq.push(key);
        match keymap.lookup(self.context(), &seq) {
            // Ctrl-C always leaves, whatever view is open.
            Lookup::Run(Action::Quit) if key == Key::parse("<C-c>").unwrap_or(key) => {
                self.quit = true;
                Vec::new()
            }
            Lookup::Run(a) => self.apply(a),
            Lookup::Pending => {
                self.pending_keys = seq;
                Vec::new()
            }
            // Esc after the start of a sequence (`g`) backs out of the sequence only: its own
            // action (clear the filter, the marks) is not what was meant.
            Lookup::Unbound if seq.len() > 1 && ev.code == crossterm::event::KeyCode::Esc => {
                Vec::new()
            }
            Lookup::Unbound if seq.len() > 1 => match keymap.lookup(self.context(), &[key]) {
                Lookup::Run(a) => self.apply(a),
                Lookup::Pending => {
                    self.pending_keys = vec![key];
                    Vec::new()
                }
                Lookup::Unbound => Vec::new(),
            },
            Lookup::Unbound => Vec::new(),
        }
    }

    fn overlay_key(&mut self, ev: &KeyEvent, keymap: &Keymap) -> Vec<Effect> {
        use crossterm::event::{KeyCode, KeyModifiers};
        // Ctrl-C always leaves, from any overlay and with the detail open. The overlay stays
        // as it was: a filter still being typed is then not saved (`saved_commands`).
        if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Vec::new();
        }
        // Ctrl-Z suspends from anywhere too; the overlay is there on `fg`.
        if ev.code == KeyCode::Char('z') && ev.modifiers.contains(KeyModifiers::CONTROL) {
            return vec![Effect::Suspend];
        }
        let Some(overlay) = self.overlay.take() else {
            return Vec::new();
        };
        match overlay {
            Overlay::Confirm(c) => match ev.code {
                KeyCode::Char('y' | 'Y') => vec![c.action],
                _ => {
                    self.toast_info(c.declined);
                    Vec::new()
                }
            },
            Overlay::Help {
                mut filter,
                mut selected,
            } => {
                match ev.code {
                    // `?` toggles the help, as it opened it. Every letter filters, `q` too:
                    // closing on the `q` of `quit` would send `uit` to the table behind.
                    KeyCode::Esc | KeyCode::Char('?') => return Vec::new(),
                    KeyCode::Enter => {
                        let entries = crate::tui::ui::help_entries(self, keymap, &filter);
                        let Some(e) = entries.get(selected) else {
                            return Vec::new();
                        };
                        // A command that takes arguments opens on the `:` line to be
                        // completed: run bare, `:markets` would clear the market filters
                        // and `:theme` switch the theme, unasked.
                        let takes_arguments = e.context == "command"
                            && crate::tui::action::spec_of(&e.run)
                                .is_some_and(|spec| !spec.args.is_empty());
                        if takes_arguments {
                            self.open_prompt(PromptKind::Command, format!("{} ", e.run));
                            return Vec::new();
                        }
                        if let Ok(a) = crate::tui::action::parse(&e.run) {
                            return self.apply(a);
                        }
                        return Vec::new();
                    }
                    KeyCode::Down => selected += 1,
                    KeyCode::Up => selected = selected.saturating_sub(1),
                    KeyCode::PageDown => selected += self.help_page(),
                    KeyCode::PageUp => selected = selected.saturating_sub(self.help_page()),
                    KeyCode::Home => selected = 0,
                    KeyCode::End => selected = usize::MAX,
                    KeyCode::Backspace => {
                        filter.pop();
                        selected = 0;
                    }
                    KeyCode::Char('u') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                        filter.clear();
                        selected = 0;
                    }
                    KeyCode::Char(c) if !ev.modifiers.contains(KeyModifiers::CONTROL) => {
                        filter.push(c);
                        selected = 0;
                    }
                    _ => {}
                }
                let n = crate::tui::ui::help_entries(self, keymap, &filter).len();
                selected = selected.min(n.saturating_sub(1));
                self.overlay = Some(Overlay::Help { filter, selected });
                Vec::new()
            }
            Overlay::Prompt(mut p) => {
                let cycle = p
                    .cycle
                    .take()
                    .filter(|_| matches!(ev.code, KeyCode::Tab | KeyCode::BackTab));
                match ev.code {
                    // Esc cancels the edit: back to what was in force when `/` opened (a
                    // second Esc, with the prompt closed, clears that).
                    KeyCode::Esc => return self.cancel_prompt(p.kind, p.opened_with),
                    KeyCode::Enter => return self.submit(p),
                    // Tab completes as far as the candidates agree and lists them; each
                    // further Tab takes the next candidate in turn, Shift-Tab the one before.
                    KeyCode::Tab | KeyCode::BackTab if p.kind == PromptKind::Command => {
                        self.complete(&mut p, cycle, ev.code == KeyCode::BackTab);
                    }
                    // The command history; in the `/` prompt, its `filter …` lines (each
                    // filter set with Enter is kept as one).
                    KeyCode::Up | KeyCode::Down
                        if !matches!(p.kind, PromptKind::LogSearch | PromptKind::ProductSearch) =>
                    {
                        let filters = p.kind == PromptKind::Filter;
                        let entries: Vec<&str> = self
                            .history
                            .iter()
                            .filter_map(|h| {
                                if filters {
                                    h.strip_prefix(FILTER_LINE)
                                } else {
                                    Some(h.as_str())
                                }
                            })
                            .collect();
                        let n = entries.len();
                        if n > 0 {
                            let pos = match (p.history_pos, ev.code) {
                                (None, KeyCode::Up) => Some(n - 1),
                                (Some(i), KeyCode::Up) => Some(i.saturating_sub(1)),
                                (Some(i), _) if i + 1 < n => Some(i + 1),
                                _ => None,
                            };
                            if p.history_pos.is_none() {
                                p.draft = p.input.clone();
                            }
                            p.input = pos.map_or_else(|| p.draft.clone(), |i| entries[i].into());
                            p.history_pos = pos;
                        }
                    }
                    KeyCode::Backspace => {
                        if p.input.is_empty() {
                            return self.cancel_prompt(p.kind, String::new());
                        }
                        p.input.pop();
                        p.error = None;
                    }
                    // Ctrl-U clears the line, as in a shell.
                    KeyCode::Char('u') if ev.modifiers.contains(KeyModifiers::CONTROL) => {
                        p.input.clear();
                        p.error = None;
                        p.history_pos = None;
                    }
                    KeyCode::Char(c) if !ev.modifiers.contains(KeyModifiers::CONTROL) => {
                        p.input.push(c);
                        p.error = None;
                    }
                    _ => {}
                }
                self.prompt_edited(p)
            }
        }
    }

    /// Puts the edited prompt back. The filter applies as you type: a term still being
    /// written (`roi>`) just waits, and so does a last word that is still becoming a field
    /// name (`ro`); any other error (`foo=bar`, `roi>abc`) shows under the prompt at once,
    /// while the table shows the terms before the one in error.
    fn prompt_edited(&mut self, mut p: Prompt) -> Vec<Effect> {
        if p.kind == PromptKind::LogSearch {
            self.search_log(p.input.clone());
            self.overlay = Some(Overlay::Prompt(p));
            return Vec::new();
        }
        if p.kind == PromptKind::ProductSearch {
            self.search_products(p.input.clone());
            self.overlay = Some(Overlay::Prompt(p));
            return Vec::new();
        }
        let text = crate::filter::settled(&p.input).to_string();
        // A term still being written (`src=uk,` on its way to `src=uk,de`) leaves the
        // filter in force as it is until it is whole.
        if p.kind == PromptKind::Filter && half_typed(&text) {
            self.overlay = Some(Overlay::Prompt(p));
            self.dirty = true;
            return Vec::new();
        }
        let live = (p.kind == PromptKind::Filter).then(|| Filter::parse(&text));
        match live {
            Some(Ok(_)) => {
                self.overlay = Some(Overlay::Prompt(p));
                self.set_filter_keep_prompt(text)
            }
            Some(Err(e)) => {
                p.error = Some(e);
                self.overlay = Some(Overlay::Prompt(p));
                // The last word is the one being typed: meanwhile the terms before it
                // apply, so a word that parsed on its way (`foo` of `foo=bar`) does not
                // stay applied under the error.
                let before = text
                    .trim_end()
                    .rsplit_once(char::is_whitespace)
                    .map_or("", |(head, _)| head.trim_end());
                if before != self.filter_text && Filter::parse(before).is_ok() {
                    return self.set_filter_keep_prompt(before.to_string());
                }
                Vec::new()
            }
            None => {
                self.overlay = Some(Overlay::Prompt(p));
                Vec::new()
            }
        }
    }

    /// Pasted text goes to an open prompt.
    pub fn on_paste(&mut self, text: &str) -> Vec<Effect> {
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.dirty = true;
        match self.overlay.take() {
            Some(Overlay::Prompt(mut p)) => {
                p.input.push_str(&clean);
                p.error = None;
                self.prompt_edited(p)
            }
            other => {
                self.overlay = other;
                Vec::new()
            }
        }
    }

    fn submit(&mut self, p: Prompt) -> Vec<Effect> {
        match p.kind {
            PromptKind::LogSearch => {
                self.search_log(p.input);
                Vec::new()
            }
            PromptKind::ProductSearch => {
                self.search_products(p.input);
                // Kept: clearing it later keeps the product then selected (the place
                // before it is put back only while the prompt is open).
                self.products.search_origin = None;
                Vec::new()
            }
            PromptKind::Filter => match Filter::parse(&p.input) {
                Ok(_) => {
                    let text = p.input.trim();
                    let mut fx = Vec::new();
                    if !text.is_empty() {
                        fx.push(self.remember(format!("{FILTER_LINE}{text}")));
                    }
                    fx.extend(self.set_filter(p.input));
                    fx
                }
                Err(e) => self.keep_prompt(p, e),
            },
            PromptKind::Command => {
                let line = p.input.trim().trim_start_matches(':').to_string();
                if line.is_empty() {
                    return Vec::new();
                }
                match crate::tui::action::parse(&line) {
                    // Typed without ASINs it would only reopen this prompt.
                    Ok(Action::WatchAdd(asins)) if asins.is_empty() => self.keep_prompt(
                        p,
                        "watch add needs one or more ASINs or product links, e.g. watch add B0D1XD1ZV3 B07XJ8C8F5"
                            .into(),
                    ),
                    // `:q` says quit in words: it leaves from any view (the `q` key backs
                    // out of one first).
                    Ok(Action::Quit) => {
                        self.quit = true;
                        vec![self.remember(line)]
                    }
                    Ok(a) => {
                        let mut fx = vec![self.remember(line)];
                        fx.extend(self.apply(a));
                        fx
                    }
                    Err(e) => self.keep_prompt(p, e.0),
                }
            }
        }
    }

    /// Puts `line` last in the command history (once: an earlier copy goes), keeping the
    /// newest 500, and returns the effect that appends it to the history file.
    fn remember(&mut self, line: String) -> Effect {
        self.history.retain(|h| h != &line);
        self.history.push(line.clone());
        let excess = self.history.len().saturating_sub(500);
        self.history.drain(..excess);
        Effect::SaveHistory(line)
    }

    fn set_filter_keep_prompt(&mut self, text: String) -> Vec<Effect> {
        let overlay = self.overlay.take();
        let fx = self.set_filter(text);
        if self.overlay.is_none() {
            self.overlay = overlay;
        }
        fx
    }

    pub(super) fn set_filter(&mut self, text: String) -> Vec<Effect> {
        // A filter of the operator's own ends a product's routes opened from the products
        // view: `Esc` then clears it, as any filter.
        self.products.return_filter = None;
        match Filter::parse(&text) {
            Ok(f) => {
                self.filter = f;
                self.filter_text = text.trim().to_string();
                // A new filter shows its best match first; clearing one keeps the row the
                // operator was on (it is still there, among more).
                if self.filter_text.is_empty() {
                    self.pinned_top = false;
                    self.rebuild_view();
                } else {
                    self.pin_to_top();
                }
                self.requery()
            }
            Err(e) => {
                self.toast_error(format!("Filter: {e}"));
                Vec::new()
            }
        }
    }

    /// Lines PgUp/PgDn move in the help overlay: a screenful less its margins, borders and
    /// header (one line stays in view).
    fn help_page(&self) -> usize {
        usize::from(self.size.1).saturating_sub(6).max(1)
    }

    /// Shows only the log lines containing `text` (any case), following the newest.
    pub(super) fn search_log(&mut self, text: String) {
        self.log_search = text.trim().to_string();
        self.log_scroll = 0;
        self.dirty = true;
    }

    /// Keeps the submitted prompt `p` open with `error` under it.
    fn keep_prompt(&mut self, p: Prompt, error: String) -> Vec<Effect> {
        self.overlay = Some(Overlay::Prompt(Prompt {
            error: Some(error),
            ..p
        }));
        self.dirty = true;
        Vec::new()
    }

    /// Closes a prompt without submitting it, leaving what it edits live (the table filter
    /// or the log search) at `text`: what was in force when it opened (Esc), or nothing
    /// (Backspace on an empty line).
    fn cancel_prompt(&mut self, kind: PromptKind, text: String) -> Vec<Effect> {
        match kind {
            PromptKind::Filter if self.filter_text == text.trim() => {
                self.dirty = true;
                Vec::new()
            }
            PromptKind::Filter => self.set_filter(text),
            PromptKind::LogSearch => {
                self.search_log(text);
                Vec::new()
            }
            PromptKind::ProductSearch => {
                self.search_products(text);
                Vec::new()
            }
            PromptKind::Command => Vec::new(),
        }
    }

    /// Reopens the `:` prompt with `line` and why it failed: for a command whose failure
    /// shows only when it runs (a theme file that does not load).
    pub fn command_failed(&mut self, line: String, error: String) {
        self.open_prompt(PromptKind::Command, line);
        if let Some(Overlay::Prompt(p)) = self.overlay.take() {
            self.keep_prompt(p, error);
        }
    }

    pub(super) fn open_prompt(&mut self, kind: PromptKind, input: String) {
        self.overlay = Some(Overlay::Prompt(Prompt {
            kind,
            opened_with: input.clone(),
            input,
            error: None,
            history_pos: None,
            draft: String::new(),
            cycle: None,
        }));
    }
}

/// Whether filter text ends in the middle of a term: after an operator or a list comma,
/// inside a quoted phrase, or within a market code or route still being typed (`src=u`,
/// `route=it`, `route=it>d`).
fn half_typed(text: &str) -> bool {
    if text.chars().filter(|&c| c == '"').count() % 2 == 1
        || text.trim_end().ends_with(['=', '!', '>', '<', '~', ','])
    {
        return true;
    }
    if text.ends_with(char::is_whitespace) {
        return false;
    }
    let term = text
        .split_whitespace()
        .last()
        .unwrap_or("")
        .trim_start_matches('!')
        .to_ascii_lowercase();
    let Some((field, value)) = term.split_once('=') else {
        return false;
    };
    let item = value.rsplit(',').next().unwrap_or("");
    let code_begun = |p: &str| {
        p.len() == 1
            && crate::domain::Market::ALL
                .iter()
                .any(|m| m.code().to_ascii_lowercase().starts_with(p))
    };
    match field.trim_end_matches('!') {
        "src" | "dst" | "buy" | "sell" => code_begun(item),
        // `uk` on its way to `uk>de`; `ukde` is an error at once.
        "route" => match item.split_once('>') {
            None => {
                item.len() <= 2
                    && crate::domain::Market::ALL
                        .iter()
                        .any(|m| m.code().to_ascii_lowercase().starts_with(item))
            }
            Some((_, to)) => code_begun(to),
        },
        _ => false,
    }
}
