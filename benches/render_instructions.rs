//! Console speed as instruction counts, a gate that a shared, noisy machine cannot fool:
//! each scenario runs under Valgrind's Callgrind, which counts the instructions of the
//! measured part only, and the counts are compared with `benches/render_instructions.txt`.
//! A scenario more than [`TOLERANCE_PCT`] above its recorded count fails the run.
//!
//!     cargo bench --bench render_instructions                 # compare (CI runs this)
//!     ARBDESK_INSTRUCTIONS_SAVE=1 cargo bench --bench render_instructions   # record anew
//!
//! Scenarios (100k opportunities loaded, a 200×60 `TestBackend`, as `benches/render.rs`):
//! a full frame, and a key press to its frame for a move, a re-sort and a filter keystroke.
//! Without Valgrind the run says so and fails: install it (`apt-get install valgrind`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use arbdesk::tui::fixtures;
use arbdesk::tui::keymap::Keymap;
use arbdesk::tui::state::UiState;
use arbdesk::tui::theme::Theme;
use arbdesk::tui::ui;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A scenario may cost this much more than its recorded count before the gate fails.
const TOLERANCE_PCT: f64 = 10.0;
/// Rows loaded, as the console target states them (< 2 ms a frame at 100k rows).
const ROWS: usize = 100_000;
/// Set in the child that Valgrind runs: the scenario to run.
const SCENARIO_VAR: &str = "ARBDESK_INSTRUCTIONS_SCENARIO";

/// Name, keys typed before the measured part, keys typed in it (then one frame is drawn).
const SCENARIOS: [(&str, &str, &str); 4] = [
    ("frame_200x60_100k", "", ""),
    ("key_move_down", "", "j"),
    ("key_sort_roi", "", "R"),
    ("key_filter_keystroke", "/src=u", "k"),
];

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    if let Ok(name) = std::env::var(SCENARIO_VAR) {
        run_scenario(&name);
        return;
    }
    if let Err(e) = gate() {
        eprintln!("render_instructions: {e}");
        std::process::exit(1);
    }
}

/// Runs every scenario under Callgrind and compares the counts with the recorded ones.
fn gate() -> Result<(), String> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        return Err(
            "valgrind is not installed: install it (apt-get install valgrind) and run \
                    again"
                .into(),
        );
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let out_dir = std::env::temp_dir().join(format!("arbdesk-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut counts = BTreeMap::new();
    for (name, _, _) in SCENARIOS {
        let count = count_instructions(&exe, name, &out_dir)?;
        counts.insert(name.to_string(), count);
    }
    let _ = std::fs::remove_dir_all(&out_dir);

    let baseline_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/render_instructions.txt");
    if std::env::var_os("ARBDESK_INSTRUCTIONS_SAVE").is_some() {
        let text: String = counts.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        std::fs::write(&baseline_path, text)
            .map_err(|e| format!("{}: {e}", baseline_path.display()))?;
        println!("recorded in {}:", baseline_path.display());
        for (k, v) in &counts {
            println!("  {k:24} {v:>14}");
        }
        return Ok(());
    }
    let baseline = read_baseline(&baseline_path)?;
    let mut failed = Vec::new();
    println!(
        "{:24} {:>14} {:>14} {:>8}",
        "scenario", "instructions", "recorded", "change"
    );
    for (name, count) in &counts {
        let Some(&before) = baseline.get(name) else {
            failed.push(format!(
                "{name}: no recorded count (record with ARBDESK_INSTRUCTIONS_SAVE=1)"
            ));
            continue;
        };
        let change = (*count as f64 / before as f64 - 1.0) * 100.0;
        println!("{name:24} {count:>14} {before:>14} {change:>+7.1}%");
        if change > TOLERANCE_PCT {
            failed.push(format!(
                "{name}: {count} instructions, {change:+.1} % against the recorded {before} \
                 (more than {TOLERANCE_PCT} %)"
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "console regressions:\n  {}\nIf the cost is wanted, record the counts anew with \
             ARBDESK_INSTRUCTIONS_SAVE=1 cargo bench --bench render_instructions",
            failed.join("\n  ")
        ))
    }
}

/// The instructions Callgrind counted in [`measured`] for one scenario.
fn count_instructions(exe: &Path, name: &str, out_dir: &Path) -> Result<u64, String> {
    let out_file: PathBuf = out_dir.join(format!("{name}.out"));
    let status = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=*render_instructions::measured*",
            "--quiet",
        ])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .env(SCENARIO_VAR, name)
        .status()
        .map_err(|e| format!("running valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("scenario {name} failed under valgrind ({status})"));
    }
    let text =
        std::fs::read_to_string(&out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals: ")
                .or_else(|| l.strip_prefix("summary: "))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| format!("{}: no instruction total", out_file.display()))?;
    if total == 0 {
        return Err(format!(
            "scenario {name}: nothing counted (was `measured` inlined or renamed?)"
        ));
    }
    Ok(total)
}

/// `name count` lines.
fn read_baseline(path: &Path) -> Result<BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e}; record it with ARBDESK_INSTRUCTIONS_SAVE=1 cargo bench --bench \
             render_instructions",
            path.display()
        )
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once(' ')
                .ok_or_else(|| format!("{}: '{l}' is not `name count`", path.display()))?;
            let v = v
                .trim()
                .parse()
                .map_err(|_| format!("{}: '{v}' is not a count", path.display()))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

/// Sets the scenario up (not counted), then runs its measured part.
fn run_scenario(name: &str) {
    let Some(&(_, before, typed)) = SCENARIOS.iter().find(|(n, _, _)| *n == name) else {
        eprintln!("no scenario {name}");
        std::process::exit(2);
    };
    let theme = Theme::builtin("dark");
    let keymap = Keymap::load("default", None);
    let mut s = fixtures::loaded(ROWS, (200, 60));
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    for c in before.chars() {
        s.on_key(&KeyEvent::from(KeyCode::Char(c)), &keymap);
    }
    // A first frame, as the console has drawn before any key: caches warm, sizes known.
    term.draw(|f| ui::render(f, &s, &theme, &keymap)).unwrap();
    measured(&mut s, &mut term, typed, &theme, &keymap);
}

/// The counted part: the keys typed and the frame after them.
#[inline(never)]
fn measured(
    s: &mut UiState,
    term: &mut Terminal<TestBackend>,
    typed: &str,
    theme: &Theme,
    keymap: &Keymap,
) {
    for c in typed.chars() {
        s.on_key(&KeyEvent::from(KeyCode::Char(c)), keymap);
    }
    term.draw(|f| ui::render(f, s, theme, keymap)).unwrap();
}
