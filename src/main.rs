//! The `arbdesk` binary: parse the command line, set up logging, run the command.

use anyhow::Result;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use arbdesk::cli::{Cli, Command};
use arbdesk::commands;

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log)
        .map_err(|e| anyhow::anyhow!("invalid --log filter '{}': {e}", cli.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match &cli.command {
        None => commands::overview(&cli.keepa).await,
        Some(Command::KeepaSim(args)) => commands::keepa_sim(args).await,
        Some(Command::Fetch(args)) => commands::fetch(&cli.keepa, args).await,
        Some(Command::Token) => commands::token(&cli.keepa).await,
    }
}
