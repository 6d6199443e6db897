//! arbdesk as OS processes for the end-to-end tests: spawn with a config file and a data
//! dir (on the simulator, with no inherited backend variables), read its log lines, find
//! the API's address, and ask the API with curl as an operator would.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// A running process, killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `arbdesk --config CONFIG --data-dir DIR --demo ARGS…`.
pub fn arbdesk(dir: &Path, config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arbdesk"));
    c.arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .args(["--demo", "--log", "info"])
        .args(args)
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_QUEUE")
        .env_remove("ARBDESK_KAFKA_BROKERS")
        .env_remove("ARBDESK_STORE")
        .env_remove("ARBDESK_ES_URL")
        .env("NO_COLOR", "1");
    c
}

/// `arbdesk watch add ASINS…`, which must succeed.
pub fn watch(dir: &Path, config: &Path, asins: &[String]) {
    let status = arbdesk(dir, config, &["watch", "add"])
        .args(asins)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "watch add failed");
}

/// Starts `arbdesk` with its stderr lines sent to the receiver.
pub fn spawn(dir: &Path, config: &Path, args: &[&str]) -> (Proc, Receiver<String>) {
    let mut child = arbdesk(dir, config, args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Proc(child), rx)
}

/// The API's base URL, from the line that logs it.
pub fn api_base(log: &Receiver<String>) -> String {
    loop {
        let line = log
            .recv_timeout(Duration::from_secs(60))
            .expect("the API process logs its address");
        // The line saying where the API listens (others may name a store's URL).
        if let Some(i) = line
            .find("listening on http://")
            .map(|i| i + "listening on ".len())
        {
            return line[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
        }
    }
}

/// The JSON body of a successful GET (`Null` on any failure).
pub fn get(base: &str, path: &str) -> serde_json::Value {
    match answer(base, path) {
        (200..=299, _, json) => json,
        _ => serde_json::Value::Null,
    }
}

/// Status, content type and JSON body of a GET (status 0 when nothing answered).
pub fn answer(base: &str, path: &str) -> (u16, String, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code} %{content_type}"])
        .arg(format!("{base}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, meta) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (code, ctype) = meta.split_once(' ').unwrap_or((meta, ""));
    let status: u16 = code.trim().parse().unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, ctype.trim().to_string(), json)
}

/// Asks `probe` every 200 ms until it answers `Ok`, and returns that; fails after `within`
/// saying `what` did not happen, with the last answer's `Err`.
pub fn poll<T>(within: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = std::time::Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => assert!(start.elapsed() < within, "{what}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
