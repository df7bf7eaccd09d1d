//! The etcd v3 client protocol, as protobuf messages and tonic services.
//!
//! keel speaks etcd's gRPC API on the wire, so that etcdctl, client libraries
//! and Kubernetes talk to it unchanged. This crate holds that contract and
//! nothing else: the `.proto` files under `proto/etcd/api/` carry etcd 3.5's
//! package, service, message and field names and numbers (without etcd's HTTP
//! gateway and gogoproto annotations, which do not reach the wire), and the
//! build script compiles them with [protox](https://docs.rs/protox) (pure
//! Rust, no `protoc`) and `tonic-prost-build`.
//!
//! # Modules
//!
//! - [`etcdserverpb`]: the services `KV`, `Watch`, `Lease`, `Cluster`,
//!   `Maintenance` and `Auth`, with a server module (trait + tonic service)
//!   and a client module for each, e.g. [`etcdserverpb::kv_server::Kv`],
//!   [`etcdserverpb::kv_server::KvServer`] and
//!   [`etcdserverpb::kv_client::KvClient`]; and their request and response
//!   messages.
//! - [`mvccpb`]: [`mvccpb::KeyValue`] and the watch [`mvccpb::Event`].
//! - [`authpb`]: users, roles and permissions.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded `FileDescriptorSet` of the three
//!   files, for gRPC reflection or tests.
//!
//! # Compatibility
//!
//! `tests/proto_compat.rs` compares every message, enum, field (name,
//! number, type, label) and RPC with the etcd protos bundled in the
//! `etcd-client` crate, so a wrong field number cannot go unnoticed. What
//! etcd added after 3.5 (`KV.RangeStream`, the 3.6 status and hash fields)
//! is deliberately absent and listed with its reason in that test.
//!
//! # Example
//!
//! ```
//! use api::etcdserverpb::PutRequest;
//! use api::etcdserverpb::RangeRequest;
//! use api::etcdserverpb::range_request::SortOrder;
//! use prost::Message;
//!
//! let put = PutRequest { key: b"foo".to_vec(), value: b"bar".to_vec(), ..Default::default() };
//! let wire = put.encode_to_vec();
//! assert_eq!(PutRequest::decode(wire.as_slice()).unwrap(), put);
//!
//! let range = RangeRequest { key: b"a".to_vec(), range_end: b"b".to_vec(), ..Default::default() };
//! assert_eq!(range.sort_order(), SortOrder::None);
//! ```

#![deny(missing_docs)]

/// etcd's MVCC records: `KeyValue` and `Event` (package `mvccpb`).
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod mvccpb {
    include!(concat!(env!("OUT_DIR"), "/mvccpb.rs"));
}

/// etcd's auth records: `User`, `Role`, `Permission` (package `authpb`).
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod authpb {
    include!(concat!(env!("OUT_DIR"), "/authpb.rs"));
}

/// etcd's client services and their messages (package `etcdserverpb`).
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod etcdserverpb {
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
}

/// The encoded `google.protobuf.FileDescriptorSet` of `kv.proto`,
/// `auth.proto` and `rpc.proto`, with source info, as protox compiled them.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/etcd_descriptor.bin"));
