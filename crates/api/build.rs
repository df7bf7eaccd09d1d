//! Compiles etcd's v3 protos with protox (pure Rust, no protoc needed) and
//! generates prost messages and tonic clients and servers from them.

use std::env;
use std::path::PathBuf;

use prost::Message;

/// The protos, relative to `proto/`, in the layout etcd uses so that the
/// descriptor file names equal etcd's (gRPC reflection shows the same files).
const PROTOS: [&str; 3] = [
    "etcd/api/mvccpb/kv.proto",
    "etcd/api/authpb/auth.proto",
    "etcd/api/etcdserverpb/rpc.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    std::fs::write(out_dir.join("etcd_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
