//! Writes a cluster CA and member certificates for a local keel cluster.
//!
//! Usage: `keel-gen-certs <dir> <member-name>...`; prints the files written.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: keel-gen-certs <dir> <member-name>...");
        return ExitCode::from(2);
    };
    let names: Vec<String> = args.collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match transport_quic::generate_cluster_certs(&dir, &names) {
        Ok(certs) => {
            println!("ca {} {}", certs.ca_cert.display(), certs.ca_key.display());
            for m in certs.members {
                println!("member {} {} {}", m.name, m.cert.display(), m.key.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keel-gen-certs: {e}");
            ExitCode::FAILURE
        }
    }
}
