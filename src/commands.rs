//! What each subcommand does, on top of the library.
//!
//! The binary parses the command line (`cli`), loads the settings once (`config::load`) and
//! calls `run`. Each command lives in its own file under `commands/`; the factories shared
//! by several of them (store, detector, API settings) are here.

/// `println!` for command output: a closed pipe (`arbdesk … | head`) ends quietly.
macro_rules! outln {
    ($($t:tt)*) => { $crate::commands::emit(&format!($($t)*), true) };
}

/// `print!` for command output.
macro_rules! out {
    ($($t:tt)*) => { $crate::commands::emit(&format!($($t)*), false) };
}

/// `eprintln!` for messages to the operator: a closed stderr (`2>&1 | head -1`) loses the
/// message instead of stopping the command halfway.
macro_rules! noteln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` likewise (progress lines).
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut err = std::io::stderr();
        let _ = write!(err, $($t)*);
        let _ = err.flush();
    }};
}

mod bench_render;
pub mod config_cmd;
mod console;
pub mod data_source;
pub mod export;
pub mod fetch_lock;
mod import;
pub mod info;
pub mod keepa;
pub mod keys;
pub mod serve;
mod watch;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Role, WatchCommand};
use crate::config::Settings;
use crate::economics::LiveDetector;
use crate::pipeline::Detect;
use crate::queue::QueueConfig;
use crate::store::Store;

pub use keepa::keepa_source;

/// Writes command output to stdout; exits quietly when the reader has gone away.
pub fn emit(text: &str, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let r = out.write_all(text.as_bytes()).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = r.and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

/// Ends the process after a failed write to standard output: quietly (0) when the reader
/// went away (`| head`), else with the error (1).
pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    noteln!("error: writing to stdout failed: {e}");
    std::process::exit(1);
}

/// A setting refused once the layers are combined; `main` exits with code 2 for it, as
/// for any other bad value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// A command that did its work but skipped some of its input (`import` with bad lines):
/// exit code 3, so a script can tell it from a clean run (0) and from a failure (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Partial(pub String);

/// Why listening on `addr` (for `what`) failed, with what to do: the OS's reason decides the
/// hint, and `other` says how to pick another address.
pub fn listen_failed(
    addr: std::net::SocketAddr,
    what: &str,
    other: &str,
    e: std::io::Error,
) -> anyhow::Error {
    use std::io::ErrorKind;
    let hint = match e.kind() {
        ErrorKind::AddrInUse => "another process is using it",
        ErrorKind::AddrNotAvailable => {
            "the address is not one of this machine's: use 127.0.0.1, 0.0.0.0 (every \
             interface) or an address of this machine"
        }
        ErrorKind::PermissionDenied => {
            "this user may not listen there (ports below 1024 need privileges): pick a port \
             above 1024"
        }
        _ => "check the address",
    };
    anyhow::Error::new(e).context(format!("Could not listen on {addr}{what}: {hint}; {other}"))
}

/// Opens the configured store, creating the data dir.
pub fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    check_data_dir(&settings.data_dir)?;
    crate::config::create_private_dir(&settings.data_dir).with_context(|| {
        format!(
            "Could not create the data dir {}",
            settings.data_dir.display()
        )
    })?;
    crate::store::build(&settings.store, &settings.data_dir).with_context(|| {
        let dir = settings.data_dir.display();
        // A SQLite file's directory that cannot be written in is the cause, said as such.
        let unwritable = settings
            .store
            .local_file(&settings.data_dir)
            .and_then(|file| {
                let parent = file.parent()?.to_path_buf();
                unwritable(&parent).map(|why| (parent, why))
            });
        match unwritable {
            Some((parent, Unwritable::Full)) => format!(
                "Could not open the store in {dir}: the disk holding {} is full, and SQLite \
                 writes beside its database even to read it (the WAL's index and lock \
                 files); free disk space there (or copy the data dir elsewhere and pass \
                 that with --data-dir)",
                parent.display()
            ),
            Some((parent, Unwritable::Refused(why))) => format!(
                "Could not open the store in {dir}: {} {why}, and SQLite writes beside its \
                 database even to read it (the WAL's index and lock files); copy the data \
                 dir to a writable place and pass that with --data-dir",
                parent.display()
            ),
            None => format!("Could not open the store in {dir}"),
        }
    })
}

/// Why a directory cannot be written in.
enum Unwritable {
    /// Its disk has no space left.
    Full,
    /// The system refuses: why, in words after the directory's name.
    Refused(&'static str),
}

/// Why `dir` cannot be written in, when that is so (asked after a store failed to open,
/// with a file made, written to as SQLite's index of the WAL would be, and removed at
/// once).
fn unwritable(dir: &std::path::Path) -> Option<Unwritable> {
    use std::io::{ErrorKind, Write};
    let probe = dir.join(format!(".arbdesk-write-check-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| {
            let wrote = f.write_all(&[0; 32 * 1024]).and_then(|()| f.sync_all());
            let _ = std::fs::remove_file(&probe);
            wrote
        });
    match written {
        Ok(()) => None,
        Err(e) if e.kind() == ErrorKind::StorageFull || e.kind() == ErrorKind::QuotaExceeded => {
            Some(Unwritable::Full)
        }
        Err(e) => crate::store::file_id::write_refused(&e).map(Unwritable::Refused),
    }
}

/// Opens the configured store for a command that only reads it (or changes what is there):
/// a SQLite file that does not exist is an error naming where it was looked for, not a new
/// empty store — a mistyped `--data-dir` should not look like an empty catalogue — and so is
/// an Elasticsearch index prefix that holds nothing.
pub async fn open_existing_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    check_data_dir(&settings.data_dir)?;
    // A data dir (or index prefix) that holds no store is a bad value: exit code 2.
    if let Some(file) = settings.store.local_file(&settings.data_dir)
        && !file.try_exists().with_context(|| {
            format!(
                "Could not look for the store at {}: check that this user may read the data \
                 dir (its permissions and owner)",
                file.display()
            )
        })?
    {
        return Err(BadValue(format!(
            "No arbdesk store at {}: nothing has been stored in this data dir yet. Pass the \
             --data-dir (or ARBDESK_DATA_DIR) that holds arbdesk.sqlite, or fill this one with \
             `arbdesk`, `arbdesk --serve`, `arbdesk import FILE` or `arbdesk watch add ASIN`",
            file.display()
        ))
        .into());
    }
    #[cfg(feature = "elasticsearch")]
    check_es_store_exists(settings).await?;
    open_store(settings)
}

/// An Elasticsearch index prefix under which nothing was ever stored is refused as a data
/// dir without a SQLite file is (a typo in `index_prefix` would otherwise create empty
/// indices and serve an empty catalogue as healthy). A cluster that does not answer yet is
/// not refused: the store's health says so.
#[cfg(feature = "elasticsearch")]
async fn check_es_store_exists(settings: &Settings) -> Result<()> {
    let crate::store::StoreConfig::Elasticsearch(es) = &settings.store else {
        return Ok(());
    };
    let probe = crate::store::elasticsearch::EsStore::connect(es)?;
    let asked = tokio::time::timeout(std::time::Duration::from_secs(10), probe.holds_a_store());
    match asked.await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(BadValue(format!(
            "No arbdesk store on Elasticsearch at {} under the index prefix '{}': nothing has \
             been stored there yet. Check index_prefix and url in [store] (or --es-url), or \
             start the processes that fill it (--role ingest and --role process)",
            es.url, es.index_prefix
        ))
        .into()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Could not check that the Elasticsearch store exists; serving it as it is.");
            Ok(())
        }
        Err(_) => {
            tracing::warn!(
                "Elasticsearch did not answer within 10 s whether the store exists; serving it as it is."
            );
            Ok(())
        }
    }
}

/// A data dir that exists but is not a directory is named as such, before any advice that
/// assumes it is one.
fn check_data_dir(dir: &std::path::Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(BadValue(format!(
            "The data dir {} is a file, not a directory: pass a directory with --data-dir (or \
             ARBDESK_DATA_DIR), or move the file aside",
            dir.display()
        ))
        .into()),
        Ok(_) => Ok(()),
        // Not there yet: it is made, unless a file stands where one of its parents would.
        Err(_) => match dir.ancestors().skip(1).find(|a| a.exists()) {
            Some(parent) if !parent.is_dir() => Err(BadValue(format!(
                "The data dir {} cannot be made: {} is a file, not a directory; pass a data \
                 dir elsewhere with --data-dir (or ARBDESK_DATA_DIR)",
                dir.display(),
                parent.display()
            ))
            .into()),
            _ => Ok(()),
        },
    }
}

/// Refuses, as a bad value (exit 2), an output file given with `flag` that cannot be
/// created where it is asked for: a directory, a file in a directory that does not exist,
/// or the SQLite store or one of its companions (`-wal`, `-shm`, `-journal`, and the lock
/// files `.ingest` and `.bulk-load`), which creating it would truncate, or SQLite delete as
/// it closes. The same file under another name (a symbolic or hard link) is the store's
/// too; a companion that does not exist yet is known by its name.
pub fn check_output_file(settings: &Settings, output: &std::path::Path, flag: &str) -> Result<()> {
    if output.is_dir() {
        return Err(BadValue(format!(
            "{flag} {} is a directory: give a file name in it, e.g. {flag} {}",
            output.display(),
            output.join("out").display()
        ))
        .into());
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.try_exists().unwrap_or(true)
    {
        return Err(BadValue(format!(
            "{flag} {}: the directory {} does not exist; create it first (mkdir -p {}) or \
             give a file in an existing one",
            output.display(),
            dir.display(),
            dir.display()
        ))
        .into());
    }
    let Some(db) = settings.store.local_file(&settings.data_dir) else {
        return Ok(());
    };
    use crate::store::file_id::same_file;
    // Where the output would be created: its directory as the kernel resolves it.
    let planned = |p: &std::path::Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
    };
    for suffix in ["", "-wal", "-shm", "-journal", ".ingest", ".bulk-load"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        let name = std::path::PathBuf::from(name);
        let is_it = same_file(&name, output)
            || (!output.exists() && planned(&name).is_some_and(|n| planned(output) == Some(n)));
        if is_it {
            return Err(BadValue(format!(
                "{flag} {} is the store's {}: writing there would destroy the store; give \
                 {flag} another file name",
                output.display(),
                match suffix {
                    "" => "database file".to_string(),
                    ".ingest" | ".bulk-load" => format!("lock file ({suffix})"),
                    _ => format!("database file's {suffix} companion"),
                }
            ))
            .into());
        }
    }
    Ok(())
}

/// The detector the pipeline and `import` use, over the model the settings validated.
pub fn detector(settings: &Settings) -> Arc<dyn Detect> {
    Arc::new(LiveDetector::new(settings.model.clone()))
}

/// `--read-only` (`read_only`, `ARBDESK_READ_ONLY`) holds for every command: those that
/// change stored data refuse, as the console and the API do.
fn check_read_only(settings: &Settings, command: Option<&Command>) -> Result<(), BadValue> {
    let what = match command {
        Some(Command::Watch(WatchCommand::Add { .. })) => "watch add changes the watchlist",
        Some(Command::Watch(WatchCommand::Rm { .. })) => "watch rm changes the watchlist",
        Some(Command::Import(_)) => "import writes products and opportunities",
        _ => return Ok(()),
    };
    if !settings.read_only {
        return Ok(());
    }
    Err(BadValue(format!(
        "read-only (--read-only, read_only in the config file or ARBDESK_READ_ONLY): {what}; \
         run it without read-only"
    )))
}

/// Refuses role sets that would run and do nothing: one half of the pipeline on the
/// in-process queue (the other half, in another process, cannot reach it), or a headless
/// API-only process with the API off.
fn check_roles(settings: &Settings) -> Result<(), BadValue> {
    let (ingest, process) = (
        settings.has_role(Role::Ingest),
        settings.has_role(Role::Process),
    );
    if ingest != process && matches!(settings.queue, QueueConfig::Memory { .. }) {
        let (has, lacks) = if ingest {
            ("ingest", "process")
        } else {
            ("process", "ingest")
        };
        return Err(BadValue(format!(
            "--role {has} without {lacks} on the in-process memory queue: no other process \
             can reach that queue, so {}. Run both roles in this process (leave out --role \
             or add {lacks}), or use --queue kafka so a process with --role {lacks} shares it",
            if ingest {
                "fetched products would never be stored (and Keepa tokens would be spent for nothing)"
            } else {
                "nothing would ever arrive to process"
            }
        )));
    }
    if settings.serve && !settings.runs_pipeline() && settings.api.addr.is_none() {
        return Err(BadValue(
            "--role api with --api-addr off serves nothing: give the API an address \
             (e.g. --api-addr 127.0.0.1:8000)"
                .into(),
        ));
    }
    Ok(())
}

/// Runs the command the user asked for.
pub async fn run(cli: &Cli, settings: Settings) -> Result<()> {
    if cli.command.is_none() && settings.runs_pipeline() && settings.markets.len() < 2 {
        return Err(BadValue(format!(
            "Markets {}: a route buys in one market and sells in another, so arbdesk needs \
             at least two (e.g. --markets DE,FR; all five when --markets is not given)",
            settings
                .markets
                .iter()
                .map(|m| m.code())
                .collect::<Vec<_>>()
                .join(",")
        ))
        .into());
    }
    if cli.command.is_none() {
        check_roles(&settings)?;
    }
    check_read_only(&settings, cli.command.as_ref())?;
    match &cli.command {
        None if settings.serve => serve::serve(settings).await,
        None => console::console(settings).await,
        Some(Command::Info) => info::info(&settings),
        Some(Command::KeepaSim(args)) => keepa::keepa_sim(args).await,
        Some(Command::Fetch(args)) => keepa::fetch(&settings, args).await,
        Some(Command::Token) => keepa::token(&settings).await,
        Some(Command::Keys(args)) => keys::keys(&settings, args),
        Some(Command::BenchRender(args)) => bench_render::bench_render(&settings, args),
        Some(Command::Config(c)) => config_cmd::config(&cli.global, &settings, c),
        Some(Command::Watch(c)) => watch::watch(&settings, c).await,
        Some(Command::Import(args)) => import::import(&settings, args).await,
        Some(Command::Export(args)) => export::export(&settings, args).await,
        Some(Command::Completions(args)) => {
            completions(args);
            Ok(())
        }
    }
}

/// Prints the shell completion script: it needs no settings, so `main` runs it before
/// reading them (a broken config file does not stop it).
pub fn completions(args: &crate::cli::CompletionsArgs) {
    use clap::CommandFactory;
    // Written through `emit`, so a closed pipe (`| head`) ends quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "arbdesk", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
}

#[cfg(test)]
mod tests {
    use super::listen_failed;

    #[test]
    fn a_failed_listen_says_why_from_the_os_reason() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = std::net::TcpListener::bind(addr).unwrap_err();
        let text = format!(
            "{:#}",
            listen_failed(addr, " for the REST API", "pick another", e)
        );
        assert!(
            text.contains(&format!("Could not listen on {addr} for the REST API"))
                && text.contains("another process is using it; pick another"),
            "{text}"
        );
        // An address that is not this machine's (TEST-NET-1, never assigned).
        let foreign: std::net::SocketAddr = "192.0.2.1:18999".parse().unwrap();
        if let Err(e) = std::net::TcpListener::bind(foreign) {
            let text = format!("{:#}", listen_failed(foreign, "", "pick another", e));
            assert!(text.contains("not one of this machine's"), "{text}");
        }
    }
}
