//! The `arbdesk` binary: parse the command line, load the settings, set up logging, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use arbdesk::cli::{Cli, Command, ConfigCommand};
use arbdesk::{commands, config};

/// `eprintln!` that cannot panic: with stderr closed the message is lost, the exit code not.
/// Writes a line to stderr with its control characters escaped: an error may quote text
/// from outside (a server's answer, a file) that must not act on the terminal.
macro_rules! error {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($t)*);
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            arbdesk::domain::text::escape_controls(&line)
        );
    }};
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(
                "error: cannot start the async runtime: {e}; the system is out of threads or memory"
            );
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Everything that writes has finished by now. A blocking call that never returns (a
    // Kafka commit the cluster leaves unanswered, see `queue/kafka/bounded.rs`) must not
    // keep the process from exiting: blocking threads get a moment, then are left.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

async fn run() -> ExitCode {
    let cli = Cli::parse_or_exit();
    // `config path` and `config init` work on the file itself, which may not exist yet.
    if let Some(Command::Config(c @ (ConfigCommand::Path | ConfigCommand::Init { .. }))) =
        &cli.command
    {
        return match commands::config_cmd::file_command(&cli.global, c) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => failed(&e),
        };
    }
    if let Some(Command::Completions(args)) = &cli.command {
        commands::completions(args);
        return ExitCode::SUCCESS;
    }
    let settings = match config::load(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            // `info` is where one looks when something is wrong: it still says where.
            if matches!(&cli.command, Some(Command::Info)) {
                commands::info::config_failed(&cli.global);
            }
            error!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for note in &settings.notes {
        error!("warning: {note}");
    }
    // A one-shot command (`watch add`, `export`, `import` …) says what it did itself; the
    // store's and the client's notes on the way are for a server's log. Unless a filter is
    // given, it logs warnings and errors only, and neither a Keepa request's retries nor
    // its final failure, which it reports as its own error.
    let one_shot = matches!(&cli.command, Some(c) if !matches!(c, Command::KeepaSim(_)));
    let quiet = format!(
        "warn,{}=off,{}=off",
        arbdesk::keepa::client::FAILED_TARGET,
        arbdesk::keepa::client::RETRY_TARGET
    );
    let level = if one_shot && !settings.log_given {
        quiet.as_str()
    } else {
        settings.log.as_str()
    };
    let filter = match EnvFilter::try_new(level) {
        Ok(f) => f,
        Err(e) => {
            error!("error: invalid log filter '{level}': {e}");
            return ExitCode::from(2);
        }
    };
    // The console owns the terminal: its logs go to a daily file in the data dir, which the
    // log view (g l) shows. Everything else logs to stderr.
    let _log_guard = if cli.command.is_none() && !settings.serve {
        let dir = settings.data_dir.join("logs");
        if let Err(e) = arbdesk::config::create_private_dir(&dir) {
            error!(
                "error: could not create the log directory {}: {e}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
        let file = tracing_appender::rolling::RollingFileAppender::builder()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("arbdesk.log")
            .build(&dir);
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                let why = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
                error!(
                    "error: could not open the console's log file in {}: {why}. Make the \
                     directory writable, or give another data dir (--data-dir DIR)",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
        };
        let (writer, guard) = tracing_appender::non_blocking(file);
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(writer)
            .init();
        // Said on stderr too, which the console covers: its log view has them.
        for note in &settings.notes {
            tracing::warn!("{note}");
        }
        Some(guard)
    } else {
        // Colour only for a terminal: a redirected log stays plain text.
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .init();
        None
    };
    match commands::run(&cli, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<commands::Partial>().is_some() => {
            error!("warning: {e:#}");
            ExitCode::from(3)
        }
        Err(e) => failed(&e),
    }
}

/// Says why a command failed; the exit code is 2 for a bad value (a public address without
/// a token, one market, a file that would be overwritten without `--force`), 1 otherwise.
fn failed(e: &anyhow::Error) -> ExitCode {
    error!("error: {e:#}");
    if e.downcast_ref::<commands::BadValue>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
