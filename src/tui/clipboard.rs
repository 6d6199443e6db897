//! Copying to the clipboard over SSH and tmux, without ever crashing.
//!
//! OSC 52 asks the terminal itself to set the clipboard, which works across SSH. Inside
//! tmux the sequence is wrapped for passthrough when tmux lets it through
//! (`allow-passthrough`, off by default since tmux 3.3), sent plain when tmux takes it into
//! its own buffer (`set-clipboard on`), and not sent when tmux would drop it; under GNU
//! screen it is wrapped in a DCS.
//! The native fallback runs the platform's clipboard tool (`pbcopy`, `wl-copy`, `xclip`,
//! `xsel`, `clip.exe`) when one is installed. The terminal never acknowledges OSC 52, so
//! the outcome says "sent", not "copied".

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// The `clipboard` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// OSC 52 first over SSH, native first otherwise; then the other.
    #[default]
    Auto,
    /// Only OSC 52.
    Osc52,
    /// Only the platform tool.
    Native,
    /// Never copy.
    Off,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Mode::Auto),
            "osc52" => Ok(Mode::Osc52),
            "native" => Ok(Mode::Native),
            "off" => Ok(Mode::Off),
            other => Err(format!(
                "clipboard = '{other}' is not valid; use auto, osc52, native or off"
            )),
        }
    }
}

/// The largest base64 payload sent (k9s uses the same cap; terminals drop longer ones).
pub const MAX_OSC52_PAYLOAD: usize = 74_994;

/// How the terminal is reached, for wrapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mux {
    /// A terminal directly.
    None,
    /// tmux (`$TMUX` set) passing DCS through to the terminal (`allow-passthrough on`,
    /// or a tmux before 3.3, which always did).
    Tmux,
    /// tmux that takes a plain OSC 52 into its buffer and on to the terminal
    /// (`set-clipboard on`) but does not pass DCS through.
    TmuxBuffer,
    /// tmux that drops OSC 52 from programs (passthrough off, `set-clipboard` not on).
    TmuxBlocked,
    /// GNU screen (`TERM=screen*`): DCS.
    Screen,
}

impl Mux {
    /// From `TMUX` and `TERM`.
    pub fn detect(tmux: Option<&str>, term: Option<&str>) -> Mux {
        if tmux.is_some_and(|t| !t.is_empty()) {
            Mux::Tmux
        } else if term.is_some_and(|t| t.starts_with("screen")) {
            Mux::Screen
        } else {
            Mux::None
        }
    }

    /// Inside tmux, what its options let through: asks the tmux server once (`tmux
    /// show-options`). Anything else is returned as it is.
    pub fn probe(self) -> Mux {
        if self != Mux::Tmux {
            return self;
        }
        let option = |name: &str| -> Option<String> {
            let out = Command::new("tmux")
                .args(["show-options", "-gv", name])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        Mux::tmux_policy(
            option("allow-passthrough").as_deref(),
            option("set-clipboard").as_deref(),
        )
    }

    /// What tmux does with OSC 52 given its `allow-passthrough` and `set-clipboard`
    /// options (`None`: not known to this tmux, or not readable).
    pub fn tmux_policy(passthrough: Option<&str>, set_clipboard: Option<&str>) -> Mux {
        match (passthrough, set_clipboard) {
            // No such option (tmux < 3.3 always passed DCS through), or it is on.
            (None | Some("on" | "all"), _) => Mux::Tmux,
            (_, Some("on")) => Mux::TmuxBuffer,
            _ => Mux::TmuxBlocked,
        }
    }

    /// Why OSC 52 cannot work here, and the fix, when it cannot.
    pub fn blocked_reason(self) -> Option<&'static str> {
        (self == Mux::TmuxBlocked).then_some(
            "tmux drops OSC 52: `set -g set-clipboard on` (or allow-passthrough on) in \
             ~/.tmux.conf fixes it",
        )
    }
}

/// The exact bytes that set the clipboard to `text`, or an error when it is too long.
pub fn osc52(text: &str, mux: Mux) -> Result<Vec<u8>, String> {
    if let Some(why) = mux.blocked_reason() {
        return Err(why.to_string());
    }
    let payload = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    if payload.len() > MAX_OSC52_PAYLOAD {
        return Err(format!(
            "too long for OSC 52 ({} bytes encoded, the limit is {MAX_OSC52_PAYLOAD})",
            payload.len()
        ));
    }
    let seq = format!("\x1b]52;c;{payload}\x07");
    Ok(match mux {
        Mux::None | Mux::TmuxBuffer | Mux::TmuxBlocked => seq.into_bytes(),
        Mux::Tmux => format!("\x1bPtmux;\x1b{seq}\x1b\\").into_bytes(),
        Mux::Screen => format!("\x1bP{seq}\x1b\\").into_bytes(),
    })
}

/// What happened, for the toast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// OSC 52 written to the terminal.
    SentOsc52,
    /// Handed to a platform tool.
    Native(&'static str),
    /// Not copied, and why.
    Failed(String),
}

/// Copies `text` as `mode` says. `terminal` receives OSC 52 bytes; `interactive` is false
/// when stdout is not a terminal (OSC 52 is then skipped).
pub fn copy(
    text: &str,
    mode: Mode,
    ssh: bool,
    mux: Mux,
    interactive: bool,
    terminal: &mut dyn Write,
) -> Outcome {
    let mut try_osc = || -> Result<Outcome, String> {
        if !interactive {
            return Err(
                "the output is not a terminal, or TERM=dumb says it takes no escape codes".into(),
            );
        }
        let bytes = osc52(text, mux)?;
        terminal
            .write_all(&bytes)
            .and_then(|()| terminal.flush())
            .map_err(|e| format!("writing to the terminal failed: {e}"))?;
        Ok(Outcome::SentOsc52)
    };
    let order: &[bool] = match mode {
        Mode::Off => return Outcome::Failed("clipboard = \"off\"".into()),
        Mode::Osc52 => &[true],
        Mode::Native => &[false],
        Mode::Auto if ssh => &[true, false],
        Mode::Auto => &[false, true],
    };
    let mut errors = Vec::new();
    for &osc in order {
        let r = if osc { try_osc() } else { native(text) };
        match r {
            Ok(o) => return o,
            // tmux's setting is the one the operator can change: its fix comes first.
            Err(e) if osc && mux.blocked_reason().is_some() => errors.insert(0, e),
            Err(e) => errors.push(e),
        }
    }
    Outcome::Failed(errors.join("; "))
}

/// Tools tried for the native clipboard, in order, with the environment they need.
const TOOLS: &[(&str, &[&str], Option<&str>)] = &[
    ("pbcopy", &[], None),
    ("wl-copy", &[], Some("WAYLAND_DISPLAY")),
    ("xclip", &["-selection", "clipboard"], Some("DISPLAY")),
    ("xsel", &["--clipboard", "--input"], Some("DISPLAY")),
    ("clip.exe", &[], None),
];

fn native(text: &str) -> Result<Outcome, String> {
    for (tool, args, needs) in TOOLS {
        if needs.is_some_and(|v| std::env::var_os(v).is_none()) {
            continue;
        }
        let child = Command::new(tool)
            .args(*args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else { continue };
        let written = child
            .stdin
            .take()
            .map(|mut s| s.write_all(text.as_bytes()))
            .transpose();
        match (written, child.wait()) {
            (Ok(_), Ok(status)) if status.success() => return Ok(Outcome::Native(tool)),
            _ => continue,
        }
    }
    Err("no native clipboard tool (pbcopy, wl-copy, xclip, xsel) is available".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_bytes_plain_tmux_and_screen() {
        let url = "https://www.amazon.de/dp/B0D1XD1ZV3";
        let b64 = base64::engine::general_purpose::STANDARD.encode(url);
        assert_eq!(
            osc52(url, Mux::None).unwrap(),
            format!("\x1b]52;c;{b64}\x07").into_bytes()
        );
        assert_eq!(
            osc52(url, Mux::Tmux).unwrap(),
            format!("\x1bPtmux;\x1b\x1b]52;c;{b64}\x07\x1b\\").into_bytes()
        );
        assert_eq!(
            osc52(url, Mux::Screen).unwrap(),
            format!("\x1bP\x1b]52;c;{b64}\x07\x1b\\").into_bytes()
        );
    }

    #[test]
    fn oversized_payloads_are_refused_not_truncated() {
        let big = "x".repeat(60_000);
        let err = osc52(&big, Mux::None).unwrap_err();
        assert!(err.contains("80000"), "{err}");
    }

    #[test]
    fn copy_never_panics_and_reports_the_outcome() {
        let mut out = Vec::new();
        assert_eq!(
            copy("B0D1XD1ZV3", Mode::Osc52, false, Mux::None, true, &mut out),
            Outcome::SentOsc52
        );
        assert!(out.starts_with(b"\x1b]52;c;"));
        let mut out = Vec::new();
        assert!(matches!(
            copy("x", Mode::Osc52, false, Mux::None, false, &mut out),
            Outcome::Failed(_)
        ));
        assert!(out.is_empty());
        assert!(matches!(
            copy("x", Mode::Off, true, Mux::None, true, &mut out),
            Outcome::Failed(_)
        ));
        assert_eq!("OSC52".parse::<Mode>(), Ok(Mode::Osc52));
        assert!("clippy".parse::<Mode>().unwrap_err().contains("clippy"));
    }

    #[test]
    fn mux_detection() {
        assert_eq!(
            Mux::detect(Some("/tmp/tmux-0/default,1,0"), Some("screen")),
            Mux::Tmux
        );
        assert_eq!(Mux::detect(None, Some("screen-256color")), Mux::Screen);
        assert_eq!(Mux::detect(Some(""), Some("xterm")), Mux::None);
        assert_eq!(Mux::None.probe(), Mux::None, "only tmux is asked");
    }

    #[test]
    fn tmux_options_decide_how_osc52_is_sent() {
        assert_eq!(Mux::tmux_policy(None, None), Mux::Tmux, "tmux < 3.3");
        assert_eq!(Mux::tmux_policy(Some("on"), Some("external")), Mux::Tmux);
        assert_eq!(Mux::tmux_policy(Some("all"), None), Mux::Tmux);
        assert_eq!(Mux::tmux_policy(Some("off"), Some("on")), Mux::TmuxBuffer);
        assert_eq!(
            Mux::tmux_policy(Some("off"), Some("external")),
            Mux::TmuxBlocked
        );
        let url = "https://www.amazon.de/dp/B0D1XD1ZV3";
        assert!(
            osc52(url, Mux::TmuxBuffer)
                .unwrap()
                .starts_with(b"\x1b]52;c;")
        );
        let why = osc52(url, Mux::TmuxBlocked).unwrap_err();
        assert!(why.contains("set -g set-clipboard on"), "{why}");
        // Blocked: nothing is written, and the failure says why and how to enable it.
        let mut out = Vec::new();
        match copy(url, Mode::Osc52, true, Mux::TmuxBlocked, true, &mut out) {
            Outcome::Failed(why) => assert!(why.contains("tmux drops OSC 52"), "{why}"),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(out.is_empty(), "nothing is written that tmux would drop");
        // Native first (no SSH), then OSC 52: when both fail, tmux's fix leads the message.
        match copy(url, Mode::Auto, false, Mux::TmuxBlocked, true, &mut out) {
            Outcome::Failed(why) => assert!(why.starts_with("tmux drops OSC 52"), "{why}"),
            Outcome::Native(_) => {} // a clipboard tool is installed here
            Outcome::SentOsc52 => panic!("OSC 52 sent through a tmux that drops it"),
        }
    }
}
