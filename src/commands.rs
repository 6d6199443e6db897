//! What each subcommand does, on top of the library.
//!
//! The binary parses the command line (`cli`), loads the settings once (`config::load`) and
//! calls `run`. Each command lives in its own file under `commands/`.

/// `println!` for command output: a closed pipe (`arbdesk … | head`) ends quietly.
macro_rules! outln {
    ($($t:tt)*) => { $crate::commands::emit(&format!($($t)*), true) };
}

/// `print!` for command output.
macro_rules! out {
    ($($t:tt)*) => { $crate::commands::emit(&format!($($t)*), false) };
}

mod config_cmd;
pub mod keepa;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::config::Settings;

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
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout failed: {e}");
        std::process::exit(1);
    }
}

/// Runs the command the user asked for.
pub async fn run(cli: &Cli, settings: Settings) -> Result<()> {
    match &cli.command {
        None => keepa::overview(&settings).await,
        Some(Command::KeepaSim(args)) => keepa::keepa_sim(args).await,
        Some(Command::Fetch(args)) => keepa::fetch(&settings, args).await,
        Some(Command::Token) => keepa::token(&settings).await,
        Some(Command::Config(c)) => config_cmd::config(&cli.global, &settings, c),
        Some(Command::Completions(args)) => {
            use clap::CommandFactory;
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "arbdesk",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Some(Command::Watch(_) | Command::Import(_) | Command::Export(_)) => {
            anyhow::bail!("this command needs the store, which is not available in this build yet")
        }
    }
}
