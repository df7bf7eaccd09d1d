//! Where the workspace is, and the cargo invocations every task shares.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use anyhow::bail;

/// The build profile CI and `cargo xtask test` use: release with debug assertions.
pub(crate) const PROFILE: &str = "ci";

/// The workspace root (the parent of xtask's manifest directory).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The target directory: `CARGO_TARGET_DIR` when set, otherwise a persistent
/// one under the user's cache, so repeated runs (and fresh clones on the same
/// machine) reuse the expensive RocksDB build. A fresh machine simply builds it.
pub(crate) fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| root().join("target"));
    cache.join("keel").join("target")
}

/// A `cargo` command run at the workspace root with the shared target directory.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir());
    // `cargo run` gave xtask its own package variables; build scripts such as
    // ring's rerun when they differ, which would rebuild half the tree whenever
    // builds alternate between `cargo xtask` and plain cargo.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_str(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Runs a command, failing with its command line when it fails.
pub(crate) fn run(mut cmd: Command) -> anyhow::Result<()> {
    let line = format!("{cmd:?}");
    eprintln!("xtask: {line}");
    let status = cmd.status().with_context(|| format!("starting {line}"))?;
    if !status.success() {
        bail!("{line} failed: {status}");
    }
    Ok(())
}

/// True when `cargo nextest` is installed.
pub(crate) fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
