//! The real binary in a pseudo-terminal, in demo mode, driven by keystrokes and read back
//! through a VT100 screen parser: what an operator on SSH sees.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const COLS: u16 = 110;
const ROWS: u16 = 30;

struct Console {
    raw: Arc<Mutex<Vec<u8>>>,
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

/// A terminal's answers to what a program asks it: the device attributes (DA1) always, as
/// terminals do, and the background colour (OSC 11) when it has one to tell.
struct Answers {
    background: Option<&'static str>,
    /// The last bytes read, for a question split across two reads.
    tail: Vec<u8>,
}

impl Answers {
    /// What to send back for `chunk`, the bytes just read.
    fn to(&mut self, chunk: &[u8]) -> Vec<u8> {
        let seen = self.tail.len();
        self.tail.extend_from_slice(chunk);
        let asked = |q: &[u8]| {
            self.tail
                .windows(q.len())
                .enumerate()
                .filter(|(i, w)| *w == q && i + q.len() > seen)
                .count()
        };
        let mut out = Vec::new();
        for _ in 0..asked(b"\x1b]11;?") {
            if let Some(rgb) = self.background {
                out.extend_from_slice(format!("\x1b]11;{rgb}\x1b\\").as_bytes());
            }
        }
        for _ in 0..asked(b"\x1b[c") {
            out.extend_from_slice(b"\x1b[?62;22c");
        }
        let keep = self.tail.len().saturating_sub(8);
        self.tail.drain(..keep);
        out
    }
}

impl Console {
    fn start(data_dir: &std::path::Path) -> Console {
        Console::start_on(data_dir, None)
    }

    /// Started in a terminal whose background is `background` (`rgb:RRRR/GGGG/BBBB`, as
    /// OSC 11 answers; `None`: a terminal that does not say).
    fn start_on(data_dir: &std::path::Path, background: Option<&'static str>) -> Console {
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_arbdesk"));
        cmd.args(arbdesk_args(data_dir));
        Console::spawn(cmd, data_dir, background)
    }

    /// `cmd` in a new pseudo-terminal, with the environment of a terminal that draws the
    /// console and arbdesk's own settings kept to `data_dir`.
    fn spawn(
        mut cmd: CommandBuilder,
        data_dir: &std::path::Path,
        background: Option<&'static str>,
    ) -> Console {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        cmd.env("TERM", "xterm-256color");
        // A UTF-8 locale, as a terminal that draws the console has (else a toast says not).
        cmd.env("LANG", "C.UTF-8");
        cmd.env_remove("LC_ALL");
        cmd.env_remove("LC_CTYPE");
        cmd.env("ARBDESK_CLIPBOARD", "osc52");
        cmd.env("ARBDESK_CONFIG_DIR", data_dir.join("config"));
        cmd.env_remove("TMUX");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("ARBDESK_CONFIG");
        let child = pair.slave.spawn_command(cmd).expect("arbdesk starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(ROWS).unwrap(),
            std::num::NonZeroU16::new(COLS).unwrap(),
            0,
        )));
        let (r, s, w) = (raw.clone(), screen.clone(), writer.clone());
        let mut answers = Answers {
            background,
            tail: Vec::new(),
        };
        std::thread::spawn(move || {
            // Keeps the master open for as long as the reader runs.
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                r.lock().unwrap().extend_from_slice(&buf[..n]);
                s.lock().unwrap().process(&buf[..n]);
                let answer = answers.to(&buf[..n]);
                if !answer.is_empty() {
                    let mut w = w.lock().unwrap();
                    let _ = w.write_all(&answer);
                    let _ = w.flush();
                }
            }
        });
        Console {
            raw,
            screen,
            writer,
            child,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let c = self.contents();
            if ok(&c) {
                return c;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; the screen shows:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The row drawn in reverse video: the selection.
    fn selected(&self) -> Option<(String, String, String)> {
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        (0..ROWS).find_map(|r| {
            let reversed =
                (2..COLS - 1).any(|col| screen.cell(r, col).is_some_and(|c| c.inverse()));
            if !reversed {
                return None;
            }
            let line = screen.contents_between(r, 0, r, COLS);
            rows(&line).into_iter().next()
        })
    }

    /// How the process in the terminal ended, waited for up to a minute (`who` names it).
    fn exit_status(&mut self, who: &str) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no end of {who}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&mut self, keys: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(keys.as_bytes()).unwrap();
        w.flush().unwrap();
        drop(w);
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// arbdesk's arguments in these stories: demo data in `data_dir`, the API on a free port.
fn arbdesk_args(data_dir: &std::path::Path) -> [&str; 5] {
    [
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--api-addr",
        "127.0.0.1:0",
        "--demo",
    ]
}

/// Sends `signal` (`-STOP`) to `target`: a process id, or `-GROUP` for a process group.
fn kill(signal: &str, target: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {target}");
}

/// The process group of the arbdesk process started with `data_dir`, from `/proc`.
fn group_of_console(data_dir: &std::path::Path) -> String {
    let dir = data_dir.to_str().unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours =
            args.first().is_some_and(|a| a.ends_with(b"arbdesk")) && args.contains(&dir.as_bytes());
        if ours {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap();
            let after_name = stat.rsplit_once(')').unwrap().1;
            return after_name.split_whitespace().nth(2).unwrap().to_string();
        }
    }
    panic!("no arbdesk process with {dir}");
}

/// The table's data rows on screen: `(asin, buy, sell)`.
fn rows(screen: &str) -> Vec<(String, String, String)> {
    screen
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l
                .split(|c: char| c.is_whitespace() || c == '│' || c == '┃')
                .filter(|w| !w.is_empty())
                .collect();
            let i = words
                .iter()
                .position(|w| w.len() == 10 && w.starts_with("B0"))?;
            let markets: Vec<&&str> = words[i + 1..]
                .iter()
                .filter(|w| ["UK", "DE", "FR", "IT", "ES"].contains(w))
                .take(2)
                .collect();
            match markets[..] {
                [b, s] => Some((words[i].to_string(), b.to_string(), s.to_string())),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn demo_console_in_a_pseudo_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start(dir.path());
    let limit = Duration::from_secs(120);

    c.wait_for("the DEMO header", |s| s.contains("DEMO"), limit);
    c.wait_for("opportunities", |s| !rows(s).is_empty(), limit);

    // Sort by ROI: the header shows the arrow.
    c.send("R");
    let s = c.wait_for(
        "ROI sort",
        |s| s.contains("ROI %▼") && !rows(s).is_empty(),
        limit,
    );

    // Filter to buying where the top row buys (the demo's stock moves by the day, so no
    // one market always has a row at the default margin).
    let market = rows(&s)[0].1.to_lowercase();
    let filter = format!("/src={market}");
    c.send(&format!("{filter}\r"));
    let s = c.wait_for(
        "the filter",
        |s| s.contains(&filter) && !rows(s).is_empty(),
        limit,
    );
    assert!(
        rows(&s)
            .iter()
            .all(|(_, buy, _)| buy.to_lowercase() == market),
        "{s}"
    );

    // Top row, open its detail (a drawer at this size), then back.
    c.send("gg");
    c.send("\r");
    c.wait_for(
        "the detail",
        |s| s.contains("Mkt") && s.contains("Net"),
        limit,
    );
    c.send("\x1b");
    c.wait_for("the table again", |s| !rows(s).is_empty(), limit);
    // Freeze the display so the selected row cannot move while it is read.
    c.send("f");
    c.wait_for("the freeze banner", |s| s.contains("FROZEN"), limit);
    let (asin, _, sell) = c.selected().expect("a selected (reverse-video) row");

    // Copy the sell link: the OSC 52 sequence carries the row's sell-market URL.
    let before = c.raw.lock().unwrap().len();
    c.send("y");
    let host = match sell.as_str() {
        "UK" => "www.amazon.co.uk",
        "DE" => "www.amazon.de",
        "FR" => "www.amazon.fr",
        "IT" => "www.amazon.it",
        _ => "www.amazon.es",
    };
    let expected = format!("https://{host}/dp/{asin}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&expected);
    let needle = format!("\x1b]52;c;{b64}\x07");
    let start = Instant::now();
    while !String::from_utf8_lossy(&c.raw.lock().unwrap()[before..]).contains(&needle) {
        if start.elapsed() > Duration::from_secs(10) {
            let out = String::from_utf8_lossy(&c.raw.lock().unwrap()[before..]).to_string();
            let sent: Vec<String> = out
                .split("\x1b]52;c;")
                .skip(1)
                .filter_map(|p| p.split('\x07').next())
                .map(|b| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap_or_default();
                    String::from_utf8_lossy(&bytes).to_string()
                })
                .collect();
            panic!(
                "no OSC 52 sequence for {expected}; sent: {sent:?}; screen:\n{}",
                c.contents()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    c.wait_for("the copy toast", |s| s.contains("via OSC 52"), limit);

    // A theme that does not exist: the prompt stays open with the reason, like any other
    // bad command; Esc closes it.
    c.send(":theme nope\r");
    c.wait_for(
        "the theme error under the prompt",
        |s| s.contains(":theme nope") && s.contains("could not be read"),
        limit,
    );
    c.send("\x1b");
    c.wait_for("the prompt closed", |s| !s.contains(":theme nope"), limit);

    // Ctrl-Z in a terminal with no job-control shell (the console leads its own session
    // here): nothing could resume it, so it says so and keeps the screen.
    c.send("\x1a");
    c.wait_for(
        "the console saying it cannot be suspended",
        |s| s.contains("Not suspended") && s.contains("q quits"),
        limit,
    );
    assert!(c.child.try_wait().unwrap().is_none(), "still running");

    // Quit: the process ends and the terminal is restored.
    c.send("q");
    let status = c.exit_status("arbdesk after q");
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(300));
    let raw = String::from_utf8_lossy(&c.raw.lock().unwrap()).to_string();
    let entered = raw
        .find("\x1b[?1049h")
        .expect("the alternate screen was entered");
    let left = raw
        .rfind("\x1b[?1049l")
        .expect("the alternate screen was left");
    assert!(left > entered);
    assert!(
        raw[left..].contains("\x1b[?25h")
            || raw[..left].rfind("\x1b[?25h") > raw[..left].rfind("\x1b[?25l"),
        "cursor shown again"
    );
    let screen = c.screen.lock().unwrap();
    assert!(
        !screen.screen().alternate_screen(),
        "still on the alternate screen"
    );
}

/// The colour of the first cell of `text` on the screen (the title's, say).
fn colour_of(c: &Console, text: &str) -> vt100::Color {
    let parser = c.screen.lock().unwrap();
    let screen = parser.screen();
    for row in 0..ROWS {
        let line = screen.contents_between(row, 0, row, COLS);
        if let Some(at) = line.find(text) {
            let col = line[..at].chars().count() as u16;
            return screen.cell(row, col).unwrap().fgcolor();
        }
    }
    panic!("{text} is not on the screen:\n{}", screen.contents());
}

/// With the default `theme = "auto"`, a terminal whose background is light gets the light
/// theme: the console asks it at start (OSC 11, then DA1 so that no answer comes late and
/// is read as keys), and a key typed after it starts still does what it says.
#[test]
fn a_light_terminal_gets_the_light_theme() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start_on(dir.path(), Some("rgb:ffff/ffff/ffff"));
    let limit = Duration::from_secs(120);
    c.wait_for("opportunities", |s| !rows(s).is_empty(), limit);
    let asked = String::from_utf8_lossy(&c.raw.lock().unwrap()).to_string();
    let question = asked.find("\x1b]11;?").expect("the background was asked");
    let screen = asked.find("\x1b[?1049h").expect("the alternate screen");
    assert!(question < screen, "asked before the console draws");
    let at_start = colour_of(&c, "arbdesk");
    c.send(":theme dark\r");
    c.wait_for("the dark theme", |s| !s.contains(":theme dark"), limit);
    std::thread::sleep(Duration::from_millis(300));
    let dark = colour_of(&c, "arbdesk");
    assert_ne!(at_start, dark, "the start theme was not dark");
    c.send(":theme light\r");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(colour_of(&c, "arbdesk"), at_start, "it was light");
    // `auto` picks by the answer given at start.
    c.send(":theme dark\r");
    c.send(":theme auto\r");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(colour_of(&c, "arbdesk"), at_start, "auto is light here");
    c.send("q");
    c.exit_status("arbdesk after q");
}

/// Ctrl-Z in a console a script started from an interactive shell stops the whole job (the
/// script with the console, as the terminal's own Ctrl-Z would), the shell says so and
/// takes the terminal, and `fg` brings the console back to quit as usual.
#[test]
fn ctrl_z_stops_the_job_a_shell_started_and_fg_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut shell = CommandBuilder::new("bash");
    shell.args(["--norc", "--noprofile", "-i"]);
    shell.env("PS1", "$ ");
    let mut c = Console::spawn(shell, dir.path(), None);
    let limit = Duration::from_secs(120);
    c.wait_for("the shell's prompt", |s| s.contains('$'), limit);
    let script = format!(
        "bash -c '{} {}; echo console ended $?'\r",
        env!("CARGO_BIN_EXE_arbdesk"),
        arbdesk_args(dir.path()).join(" ")
    );
    c.send(&script);
    c.wait_for("opportunities", |s| !rows(s).is_empty(), limit);

    c.send("\x1a");
    c.wait_for(
        "the shell telling the job stopped",
        |s| s.contains("Stopped"),
        limit,
    );
    assert!(
        !c.screen.lock().unwrap().screen().alternate_screen(),
        "the console kept the alternate screen while stopped"
    );
    c.send("fg\r");
    c.wait_for("the console back", |s| !rows(s).is_empty(), limit);

    // Stopped from outside (`kill -STOP %1`): the shell draws over the console and puts its
    // own terminal modes back; on `fg` the console takes raw mode again (else `q` would
    // wait for Enter) and paints the whole screen.
    kill("-STOP", &format!("-{}", group_of_console(dir.path())));
    c.wait_for(
        "the shell telling the job stopped",
        |s| s.contains("Stopped"),
        limit,
    );
    c.send("fg\r");
    c.wait_for(
        "the console back, painted afresh",
        |s| !s.contains("Stopped") && !rows(s).is_empty(),
        limit,
    );
    c.send("q");
    c.wait_for(
        "the script going on after the console",
        |s| s.contains("console ended 0"),
        limit,
    );
    c.send("exit\r");
    c.exit_status("the shell after exit");
}

/// Another program's output over the console (a `wall` message, a background job's line)
/// stays until something paints the whole screen: Ctrl-L does, and so does continuing after
/// a stop the console did not ask for (`kill -STOP`, then `-CONT`).
#[test]
fn ctrl_l_and_a_continue_after_a_stop_paint_the_whole_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start(dir.path());
    let limit = Duration::from_secs(120);
    c.wait_for("opportunities", |s| !rows(s).is_empty(), limit);
    // Written over the hint bar, whose text does not change by itself.
    let scribble = |c: &Console| {
        let over = format!("\x1b[{ROWS};1HSCRIBBLED-OVER");
        c.screen.lock().unwrap().process(over.as_bytes());
        assert!(c.contents().contains("SCRIBBLED-OVER"));
    };
    let repainted = |s: &str| !s.contains("SCRIBBLED-OVER") && !rows(s).is_empty();
    scribble(&c);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        c.contents().contains("SCRIBBLED-OVER"),
        "painted over without being asked: the test shows nothing"
    );
    c.send("\x0c");
    c.wait_for("the screen painted afresh after Ctrl-L", repainted, limit);

    let pid = c.child.process_id().expect("a process id").to_string();
    kill("-STOP", &pid);
    scribble(&c);
    kill("-CONT", &pid);
    c.wait_for("the screen painted afresh on continuing", repainted, limit);
    c.send("q");
    let status = c.exit_status("arbdesk after q");
    assert!(status.success(), "exit status {status:?}");
}
