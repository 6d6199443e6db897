//! Which environment variable is behind a bad value, for clap's error messages.

use clap::CommandFactory;

use super::Cli;

/// For a value error on a flag the command line did not give, the environment variable
/// that gave it (`is_set` tells whether a variable is set).
pub(super) fn env_note(
    e: &clap::Error,
    argv: &[String],
    is_set: impl Fn(&str) -> bool,
) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split_whitespace().next()?; // `--role <ROLES>` → `--role`
    let long = flag.strip_prefix("--")?;
    fn find(cmd: &clap::Command, long: &str) -> Option<std::ffi::OsString> {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env().map(ToOwned::to_owned))
            .or_else(|| cmd.get_subcommands().find_map(|c| find(c, long)))
    }
    let var = find(&Cli::command(), long)?.into_string().ok()?;
    (!given(argv, flag) && is_set(&var)).then(|| {
        format!(
            "  note: this value comes from the environment variable {var}, not the command line: correct it, or `unset {var}`"
        )
    })
}

/// Whether the command line `argv` gives `flag` (`--data-dir X` or `--data-dir=X`).
fn given(argv: &[String], flag: &str) -> bool {
    argv.iter()
        .skip(1)
        .any(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
}

/// The command line's definition for `argv`: a flag that `argv` gives is not read from
/// its environment variable at all. (clap reads a global flag's variable at every level of
/// subcommands, so a bad value there would fail the parse even with the flag given.)
pub(super) fn command_for(argv: &[String]) -> clap::Command {
    let mut cmd = Cli::command();
    let given_ids: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| a.get_env().is_some())
        .filter(|a| a.get_long().is_some_and(|l| given(argv, &format!("--{l}"))))
        .map(|a| a.get_id().clone())
        .collect();
    for id in given_ids {
        cmd = cmd.mut_arg(id, |a| a.env(None));
    }
    cmd
}

/// For a value that is not UTF-8, the environment variables that hold one (`is_bad` tells
/// whether a variable is set to such a value).
pub(super) fn non_utf8_env_note(is_bad: impl Fn(&str) -> bool) -> Option<String> {
    fn vars(cmd: &clap::Command, out: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if let Some(v) = a.get_env().and_then(|v| v.to_str())
                && !out.iter().any(|o| o == v)
            {
                out.push(v.to_string());
            }
        }
        for c in cmd.get_subcommands() {
            vars(c, out);
        }
    }
    let mut all = Vec::new();
    vars(&Cli::command(), &mut all);
    let bad: Vec<String> = all.into_iter().filter(|v| is_bad(v)).collect();
    (!bad.is_empty()).then(|| {
        let unset = bad.join(" ");
        format!(
            "  note: the environment variable {} {} not valid UTF-8: correct it, or `unset {unset}`",
            bad.join(", "),
            if bad.len() == 1 { "is" } else { "are" }
        )
    })
}
