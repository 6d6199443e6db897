//! The engine never knows the UI exists: engine modules import neither the console nor
//! the API, nor their frameworks. The Keepa simulator is a server and is exempt.

use std::path::{Path, PathBuf};

const ENGINE: &[&str] = &[
    "domain",
    "keepa",
    "queue",
    "store",
    "pipeline",
    "config",
    "economics",
];
const FORBIDDEN: &[&str] = &["crate::tui", "crate::api", "ratatui", "crossterm", "axum"];
const EXEMPT: &[&str] = &["src/keepa/sim.rs", "src/keepa/sim/"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn engine_modules_import_no_ui_or_api() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for m in ENGINE {
        let f = root.join("src").join(format!("{m}.rs"));
        if f.exists() {
            files.push(f);
        }
        rust_files(&root.join("src").join(m), &mut files);
    }
    assert!(
        files.len() >= 10,
        "expected the engine sources, found {}",
        files.len()
    );
    let mut violations = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT.iter().any(|e| rel.starts_with(e)) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in FORBIDDEN {
                if code.contains(bad) {
                    violations.push(format!("{rel}:{}: {bad}", n + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "engine modules reach into the UI/API:\n{}",
        violations.join("\n")
    );
}
