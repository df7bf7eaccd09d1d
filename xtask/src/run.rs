//! `cargo xtask run`: build and start one keel member in the foreground.

use crate::prereqs;
use crate::workspace;

/// Builds keel in release mode and runs it with `args`, in the current directory.
pub(crate) fn keel(args: &[String]) -> anyhow::Result<()> {
    prereqs::ensure()?;
    let manifest = workspace::root().join("Cargo.toml");
    let mut cmd = workspace::cargo(&["run", "--release", "--quiet", "--bin", "keel"]);
    cmd.arg("--manifest-path")
        .arg(manifest)
        .arg("--")
        .args(args);
    if let Ok(dir) = std::env::current_dir() {
        cmd.current_dir(dir);
    }
    workspace::run(cmd)
}
