//! `arbdesk config show|path|init`.

use anyhow::{Context, Result};

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::config::{self, Settings};

/// Runs `config show` (the other subcommands need no settings: see [`file_command`]).
pub fn config(args: &GlobalArgs, settings: &Settings, cmd: &ConfigCommand) -> Result<()> {
    match cmd {
        ConfigCommand::Show => {
            out!("{}", config::render(settings));
            // Valid for a command (fetch, watch, export), but the pipeline refuses it.
            if settings.markets.len() < 2 {
                noteln!(
                    "note: one market is enough for fetch, watch and export, but the pipeline \
                     (arbdesk, --serve) needs two or more: a route buys in one and sells in \
                     another"
                );
            }
            Ok(())
        }
        _ => file_command(args, cmd),
    }
}

/// Runs `config path` and `config init`. They work on the file itself, so they run before
/// settings are loaded: a file that does not exist yet, or does not parse, is what they
/// are for.
pub fn file_command(args: &GlobalArgs, cmd: &ConfigCommand) -> Result<()> {
    match cmd {
        ConfigCommand::Show => anyhow::bail!("`config show` needs the loaded settings"),
        ConfigCommand::Path => {
            let (path, named) = config::config_path(args);
            match path {
                Some(p) => outln!(
                    "{}{}",
                    p.display(),
                    match (p.exists(), named) {
                        (true, _) => String::new(),
                        // Named by --config or ARBDESK_CONFIG: `config init` alone would
                        // write the default file, not this one.
                        (false, true) => format!(
                            " (does not exist yet; `arbdesk config init --config {}` creates it)",
                            p.display()
                        ),
                        (false, false) =>
                            " (does not exist yet; `arbdesk config init` creates it)".to_string(),
                    }
                ),
                None => outln!("no platform config directory; pass --config FILE"),
            }
        }
        ConfigCommand::Init { force } => {
            let (path, _) = config::config_path(args);
            let path = path.context("No platform config directory; pass --config FILE")?;
            // Bad arguments (exit code 2): a directory, a file that --force would replace.
            if path.is_dir() {
                return Err(super::BadValue(format!(
                    "{} is a directory: pass --config with a file name, e.g. {}",
                    path.display(),
                    path.join("config.toml").display()
                ))
                .into());
            }
            if path.exists() && !force {
                return Err(super::BadValue(format!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                ))
                .into());
            }
            if let Some(dir) = path.parent() {
                crate::config::create_private_dir(dir)
                    .with_context(|| format!("Could not create {}", dir.display()))?;
            }
            write_private(&path, config::TEMPLATE.as_bytes())
                .with_context(|| format!("Could not write {}", path.display()))?;
            outln!("Wrote {}", path.display());
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` readable by its owner only: the config file is where the Keepa
/// key and the API token go.
#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file (`--force`) keeps its mode on open: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
