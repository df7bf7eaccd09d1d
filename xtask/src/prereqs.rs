//! Prerequisites: what a fresh Debian machine lacks for the build and the tests.
//!
//! RocksDB's bindings need libclang (clang, libclang-dev); the `etcd-client`
//! crate's build needs protoc (protobuf-compiler) and the well-known types it
//! imports, `google/protobuf/descriptor.proto` and others (libprotobuf-dev, only
//! recommended by protobuf-compiler, so absent under `--no-install-recommends`);
//! the compatibility tests and side-by-side benchmarks run Debian's etcd 3.4
//! (etcd-server, etcd-client).

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use anyhow::bail;

/// A Debian package and how to tell it is present without asking dpkg.
struct Prereq {
    package: &'static str,
    present: fn() -> bool,
}

const PREREQS: &[Prereq] = &[
    Prereq {
        package: "clang",
        present: || on_path("clang"),
    },
    Prereq {
        package: "libclang-dev",
        present: libclang_present,
    },
    Prereq {
        package: "protobuf-compiler",
        present: || on_path("protoc"),
    },
    Prereq {
        package: "libprotobuf-dev",
        present: well_known_protos_present,
    },
    Prereq {
        package: "etcd-server",
        present: || on_path("etcd"),
    },
    Prereq {
        package: "etcd-client",
        present: || on_path("etcdctl"),
    },
];

/// Makes sure every prerequisite is there: installs the missing ones with
/// apt-get when running as root on Debian/Ubuntu, otherwise prints the exact
/// command and fails.
pub(crate) fn ensure() -> anyhow::Result<()> {
    let missing: Vec<&str> = PREREQS
        .iter()
        .filter(|p| !(p.present)())
        .map(|p| p.package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!("apt-get install -y {}", missing.join(" "));
    if !(is_root() && on_path("apt-get")) {
        bail!(
            "missing prerequisites: {}\nrun: sudo apt-get update && sudo {install}",
            missing.join(", ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)?;
    let still: Vec<&str> = PREREQS
        .iter()
        .filter(|p| !(p.present)())
        .map(|p| p.package)
        .collect();
    if !still.is_empty() {
        bail!("apt-get did not provide: {}", still.join(", "));
    }
    Ok(())
}

fn apt(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed: {status}", args.join(" "));
    }
    Ok(())
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(cmd).is_file()))
        .unwrap_or(false)
}

/// protoc finds the well-known types in `$PROTOC_INCLUDE` or next to itself.
fn well_known_protos_present() -> bool {
    let from_env = std::env::var_os("PROTOC_INCLUDE").map(std::path::PathBuf::from);
    from_env
        .into_iter()
        .chain(["/usr/include".into(), "/usr/local/include".into()])
        .any(|dir| dir.join("google/protobuf/descriptor.proto").exists())
}

/// bindgen loads libclang.so at run time; libclang-dev provides the unversioned name.
fn libclang_present() -> bool {
    if let Some(dir) = std::env::var_os("LIBCLANG_PATH") {
        return Path::new(&dir).join("libclang.so").exists();
    }
    let roots = [
        "/usr/lib/llvm-14/lib",
        "/usr/lib/llvm-15/lib",
        "/usr/lib/llvm-16/lib",
    ];
    let arch_libs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ];
    roots
        .iter()
        .chain(arch_libs.iter())
        .any(|dir| Path::new(dir).join("libclang.so").exists())
        || llvm_dirs_have_libclang()
}

fn llvm_dirs_have_libclang() -> bool {
    let Ok(entries) = std::fs::read_dir("/usr/lib") else {
        return false;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .any(|e| e.path().join("lib/libclang.so").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
