//! The terminal's background, asked once before the console starts (OSC 11), so that
//! `theme = "auto"` picks `light` on a light background.
//!
//! The question is followed by a request for the terminal's device attributes (DA1,
//! `CSI c`), which terminals answer in order and nearly all answer: once that answer is
//! in, so is any answer to the colour question, and nothing arrives afterwards to be read
//! as keys (over a slow SSH link an answer read too late would be: `r`, `g`, `b` …). A
//! terminal that answers nothing within [`ANSWER_WAIT`] is taken as dark (an answer later
//! than that would arrive as keys: on such a link set the theme); one that has begun to
//! answer is waited for up to [`ANSWER_MOST`]. Keys typed while the question is out are
//! read with the answer and dropped.

use std::time::Duration;

/// How long to wait for the terminal to begin answering: one round trip on any link worth
/// using. A terminal that says nothing by then is taken as one that answers nothing.
pub const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// How long a terminal that has begun answering is waited for until its DA1 answer is in
/// (and with it everything before it), so that no part of it arrives later as keys.
pub const ANSWER_MOST: Duration = Duration::from_secs(5);

/// What the terminal said of its background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Background {
    /// Light: dark text reads on it.
    Light,
    /// Dark.
    Dark,
}

impl Background {
    /// By its luminance (Rec. 709 weights on the colour's components, each 0–1).
    pub fn of(rgb: [f64; 3]) -> Background {
        let luma = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
        if luma > 0.5 {
            Background::Light
        } else {
            Background::Dark
        }
    }

    /// The word for it.
    pub fn word(self) -> &'static str {
        match self {
            Background::Light => "light",
            Background::Dark => "dark",
        }
    }
}

/// The question: the background colour (OSC 11), then the device attributes (DA1).
pub const QUESTION: &[u8] = b"\x1b]11;?\x1b\\\x1b[c";

/// What `reply` (the bytes the terminal sent back so far) says: the background colour,
/// if it answered that, and whether its device attributes are in (nothing more to wait for).
pub fn read_reply(reply: &[u8]) -> (Option<[f64; 3]>, bool) {
    (background_colour(reply), has_device_attributes(reply))
}

/// The colour of an OSC 11 answer in `reply`: `ESC ] 11 ; rgb:R/G/B` ended by BEL or
/// `ESC \`, each component 1 to 4 hex digits (`rgba:` with an alpha too).
fn background_colour(reply: &[u8]) -> Option<[f64; 3]> {
    const START: &[u8] = b"\x1b]11;";
    let at = reply.windows(START.len()).position(|w| w == START)? + START.len();
    let rest = &reply[at..];
    let end = rest
        .iter()
        .position(|&b| b == 0x07 || b == 0x1b)
        .filter(|&i| rest[i] == 0x07 || rest.get(i + 1) == Some(&b'\\'))?;
    let body = std::str::from_utf8(&rest[..end]).ok()?;
    let spec = body
        .strip_prefix("rgb:")
        .or_else(|| body.strip_prefix("rgba:"))?;
    let mut parts = spec.split('/');
    let mut rgb = [0.0; 3];
    for c in &mut rgb {
        let hex = parts.next()?;
        if !(1..=4).contains(&hex.len()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        *c = f64::from(v) / f64::from((1u32 << (4 * hex.len())) - 1);
    }
    Some(rgb)
}

/// Whether `reply` holds a whole DA1 answer: `ESC [ ?` digits and `;`, then `c`.
fn has_device_attributes(reply: &[u8]) -> bool {
    const START: &[u8] = b"\x1b[?";
    let mut from = 0;
    while let Some(i) = reply[from..].windows(START.len()).position(|w| w == START) {
        let rest = &reply[from + i + START.len()..];
        match rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'))
        {
            Some(j) if rest[j] == b'c' => return true,
            _ => from += i + START.len(),
        }
    }
    false
}

/// Asks the terminal the console runs in (standard input and output) for its background;
/// `None` when there is no terminal to ask, the process is not in the foreground (the
/// terminal would stop it for asking), or it did not say. Its settings are put back as
/// they were, whatever happens; echo, line editing and signal keys are off meanwhile, so
/// Ctrl-C or Ctrl-Z typed then are read with the answer and dropped.
#[cfg(unix)]
pub fn ask() -> Option<Background> {
    use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};
    use std::io::{IsTerminal, Write};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::time::Instant;

    /// Puts the terminal's settings back when dropped.
    struct Restore<'a> {
        tty: BorrowedFd<'a>,
        saved: termios::Termios,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(self.tty, OptionalActions::Now, &self.saved);
        }
    }

    let (input, output) = (std::io::stdin(), std::io::stdout());
    if !input.is_terminal() || !output.is_terminal() {
        return None;
    }
    let tty = input.as_fd();
    if i64::from(termios::tcgetpgrp(tty).ok()?.as_raw_nonzero().get())
        != crate::tui::job::own_group()
    {
        return None;
    }
    let saved = termios::tcgetattr(tty).ok()?;
    let mut quiet = saved.clone();
    // No echo, no line editing, no signal keys; a read returns what came, or nothing
    // after 0.1 s.
    quiet
        .local_modes
        .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG);
    quiet.special_codes[SpecialCodeIndex::VMIN] = 0;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 1;
    termios::tcsetattr(tty, OptionalActions::Now, &quiet).ok()?;
    let _restore = Restore { tty, saved };
    {
        let mut out = output.lock();
        out.write_all(QUESTION).ok()?;
        out.flush().ok()?;
    }
    let start = Instant::now();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match rustix::io::read(tty, &mut buf) {
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
        let (colour, done) = read_reply(&reply);
        let waited = start.elapsed();
        if done
            || (reply.is_empty() && waited >= ANSWER_WAIT)
            || waited >= ANSWER_MOST
            || reply.len() > 4096
        {
            return colour.map(Background::of);
        }
    }
}

/// No terminal to ask here.
#[cfg(not(unix))]
pub fn ask() -> Option<Background> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_in_their_forms() {
        // xterm: four hex digits a component, ended by ST; then DA1.
        let (c, done) = read_reply(b"\x1b]11;rgb:ffff/ffff/dddd\x1b\\\x1b[?64;1;2;6;22c");
        assert_eq!(c.map(Background::of), Some(Background::Light));
        assert!(done);
        // Ended by BEL, two digits a component.
        let (c, _) = read_reply(b"\x1b]11;rgb:1e/1e/2e\x07");
        assert_eq!(c.map(Background::of), Some(Background::Dark));
        let (c, _) = read_reply(b"\x1b]11;rgba:0000/0000/0000/ffff\x1b\\");
        assert_eq!(c.map(Background::of), Some(Background::Dark));
        // One digit a component: f is full.
        assert_eq!(read_reply(b"\x1b]11;rgb:f/f/f\x07").0, Some([1.0; 3]));
    }

    #[test]
    fn a_terminal_that_does_not_say_leaves_it_unknown() {
        // DA1 only: the colour is not coming.
        assert_eq!(read_reply(b"\x1b[?62;22c"), (None, true));
        // Half an answer: wait for the rest.
        assert_eq!(read_reply(b"\x1b]11;rgb:ffff/ff"), (None, false));
        assert_eq!(
            read_reply(b"\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?62;2"),
            (Some([1.0; 3]), false)
        );
        // Not colours, or not an answer: keys typed meanwhile, a colour by name.
        assert_eq!(read_reply(b"q\x1b]11;white\x07\x1b[?1;2c"), (None, true));
        assert_eq!(read_reply(b"\x1b]11;rgb:fffff/0/0\x07").0, None);
        assert_eq!(read_reply(b"\x1b]11;rgb:ff/ff\x07").0, None);
        // A key's CSI is no DA1 answer.
        assert!(!read_reply(b"\x1b[?1;2u\x1b[A").1);
    }

    #[test]
    fn light_is_by_luminance() {
        assert_eq!(Background::of([1.0, 1.0, 1.0]), Background::Light);
        // Solarized light's base3, and dark's base03.
        assert_eq!(
            Background::of([
                0xfd as f64 / 255.0,
                0xf6 as f64 / 255.0,
                0xe3 as f64 / 255.0
            ]),
            Background::Light
        );
        assert_eq!(
            Background::of([0.0, 0x2b as f64 / 255.0, 0x36 as f64 / 255.0]),
            Background::Dark
        );
        // Pure blue is dark, pure green light.
        assert_eq!(Background::of([0.0, 0.0, 1.0]), Background::Dark);
        assert_eq!(Background::of([0.0, 1.0, 0.0]), Background::Light);
    }
}
