//! Whether the console writes OSC 8 links: the `hyperlinks` setting against what the
//! terminal (and a tmux in between) passes on.

use super::TermEnv;

/// Whether OSC 8 links are written: `on`, `off`, or `auto`: off for dumb terminals and GNU
/// screen, which drop or mangle them; inside tmux (`TMUX` set) only when
/// `tmux_passes_links` says this client has tmux's `hyperlinks` feature (tmux 3.4 and
/// later: `set -as terminal-features '*:hyperlinks'`); off where tmux is only known by its
/// `TERM` (over `ssh` from inside it), since its server cannot be asked from here.
pub fn hyperlinks_enabled(
    setting: &str,
    env: &TermEnv,
    tmux_passes_links: impl FnOnce() -> bool,
) -> bool {
    match setting {
        "on" => true,
        "off" => false,
        _ => {
            let term = env.term.as_deref().unwrap_or("");
            if term == "dumb" || term.starts_with("screen") {
                false
            } else if env.tmux.is_some() {
                tmux_passes_links()
            } else {
                !term.starts_with("tmux")
            }
        }
    }
}

/// Asks the tmux this runs in (for half a second at most) whether it passes OSC 8 links
/// on to this client; `false` when it cannot say.
pub fn tmux_passes_links() -> bool {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("tmux")
        .args(["display-message", "-p", "#{version} #{client_termfeatures}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
    let mut answer = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut answer);
    }
    tmux_passes_links_by(&answer)
}

/// Whether tmux's answer to `#{version} #{client_termfeatures}` says it passes OSC 8 links
/// on: version 3.4 or later (`3.4`, `3.5a`, `next-3.6`), with `hyperlinks` among this
/// client's features.
pub fn tmux_passes_links_by(answer: &str) -> bool {
    let (version, features) = answer.trim().split_once(' ').unwrap_or((answer.trim(), ""));
    let mut numbers = version.trim_start_matches("next-").split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    version >= (3, 4) && features.split(',').any(|f| f.trim() == "hyperlinks")
}
