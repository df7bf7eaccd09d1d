//! Where flag values come from, in order of precedence: the command line,
//! `ETCD_*` environment variables, `KEEL_*` aliases; or, when
//! `--config-file` is given, that YAML file alone (as etcd does).

use std::ffi::OsString;

use clap::ArgMatches;
use clap::Command;
use clap::CommandFactory;

use super::ConfigError;
use super::file;
use super::flags::Flags;
use super::ignored;

/// Looks an environment variable up (the process environment in production, a map in tests).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The full command: the flags keel acts on plus the accepted-but-ignored ones.
pub(crate) fn command() -> Command {
    ignored::register(Flags::command())
}

/// Parses the command line (`args[0]` is the program) with the environment.
pub(crate) fn matches(args: Vec<OsString>, env: EnvLookup<'_>) -> Result<ArgMatches, ConfigError> {
    let args = normalize_dashes(args);
    let cmd = command();
    let with_aliases = with_keel_aliases(&cmd, args, env);
    let matches = cmd
        .try_get_matches_from(with_aliases)
        .map_err(ConfigError::Clap)?;
    let Some(path) = matches.get_one::<std::path::PathBuf>("config_file") else {
        return Ok(matches);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::Invalid(format!("cannot read --config-file {}: {e}", path.display()))
    })?;
    let mut file_args = vec![OsString::from("keel")];
    file_args.extend(file::to_args(&text)?.into_iter().map(OsString::from));
    command()
        .mut_args(|arg| arg.env(None))
        .try_get_matches_from(file_args)
        .map_err(ConfigError::Clap)
}

/// Go's flag package accepts `-name` as well as `--name`: rewrite the former.
fn normalize_dashes(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest_verbatim = false;
    for (position, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().unwrap_or_default();
        if text == "--" {
            rest_verbatim = true;
        }
        let single_dash_long = text.len() > 2
            && text.starts_with('-')
            && !text.starts_with("--")
            && text.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic);
        if position > 0 && !rest_verbatim && single_dash_long {
            out.push(OsString::from(format!("-{text}")));
        } else {
            out.push(arg);
        }
    }
    out
}

/// For every flag whose `ETCD_*` variable is unset but whose `KEEL_*` alias is
/// set, puts `--flag=value` before the user's arguments (so the command line still wins).
fn with_keel_aliases(cmd: &Command, args: Vec<OsString>, env: EnvLookup<'_>) -> Vec<OsString> {
    let mut iter = args.into_iter();
    let mut out: Vec<OsString> = iter.next().into_iter().collect();
    for arg in cmd.get_arguments() {
        let (Some(long), Some(etcd_var)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let Some(suffix) = etcd_var.to_str().and_then(|v| v.strip_prefix("ETCD_")) else {
            continue;
        };
        if env(etcd_var.to_str().unwrap_or_default()).is_some() {
            continue;
        }
        if let Some(value) = env(&format!("KEEL_{suffix}")) {
            let mut flag = OsString::from(format!("--{long}="));
            flag.push(value);
            out.push(flag);
        }
    }
    out.extend(iter);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        let out = normalize_dashes(os(&[
            "keel",
            "-name",
            "a",
            "--data-dir",
            "d",
            "-",
            "--",
            "-x",
        ]));
        assert_eq!(
            out,
            os(&["keel", "--name", "a", "--data-dir", "d", "-", "--", "-x"])
        );
    }

    #[test]
    fn keel_alias_applies_only_when_etcd_variable_is_unset() {
        let env = |name: &str| match name {
            "KEEL_NAME" => Some(OsString::from("from-keel")),
            "KEEL_DATA_DIR" => Some(OsString::from("/keel")),
            "ETCD_DATA_DIR" => Some(OsString::from("/etcd")),
            _ => None,
        };
        let out = with_keel_aliases(&command(), os(&["keel", "--snapshot-count", "5"]), &env);
        assert_eq!(
            out,
            os(&["keel", "--name=from-keel", "--snapshot-count", "5"])
        );
    }
}
