//! Compares keel's etcd protos with the ones etcd-client bundles (etcd's own
//! files), item by item: every message, field (number, name, type, label,
//! oneof), enum value, service and RPC (types and streaming).
//!
//! Ours must equal theirs wherever both have an item; an item of theirs we
//! lack fails unless [`DELIBERATELY_ABSENT`] lists it with a reason; an item
//! only we have fails too (it would be a typo or an invention).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use protox::prost_reflect::Cardinality;
use protox::prost_reflect::DescriptorPool;
use protox::prost_reflect::FieldDescriptor;
use protox::prost_reflect::Kind;

/// The packages of etcd's client API that keel implements.
const PACKAGES: [&str; 3] = ["etcdserverpb", "mvccpb", "authpb"];

const ETCD_FILES: [&str; 3] = [
    "etcd/api/mvccpb/kv.proto",
    "etcd/api/authpb/auth.proto",
    "etcd/api/etcdserverpb/rpc.proto",
];

/// Items of etcd's newer protos that keel leaves out on purpose, with why.
/// An absent message covers its fields.
const DELIBERATELY_ABSENT: [(&str, &str); 9] = [
    (
        "rpc etcdserverpb.KV.RangeStream",
        "3.7-dev; keel implements etcd 3.5's API",
    ),
    (
        "message etcdserverpb.RangeStreamResponse",
        "3.7-dev, only for RangeStream",
    ),
    (
        "field etcdserverpb.HashKVResponse#4",
        "hash_revision is etcd 3.6",
    ),
    (
        "field etcdserverpb.SnapshotResponse#4",
        "version is etcd 3.6",
    ),
    (
        "field etcdserverpb.StatusResponse#11",
        "storageVersion is etcd 3.6",
    ),
    (
        "field etcdserverpb.StatusResponse#12",
        "dbSizeQuota is etcd 3.6",
    ),
    (
        "field etcdserverpb.StatusResponse#13",
        "downgradeInfo is etcd 3.6",
    ),
    (
        "message etcdserverpb.DowngradeInfo",
        "etcd 3.6, only for StatusResponse#13",
    ),
    (
        "message etcdserverpb.DowngradeVersionTestRequest",
        "etcd 3.6 test-only raft request",
    ),
];

fn ours() -> DescriptorPool {
    // The runtime value first: a test binary reused from a checkout at
    // another path (a shared target directory) must read this checkout.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = crate_dir.join("proto");
    let mut compiler = protox::Compiler::new([root]).unwrap();
    compiler.open_files(ETCD_FILES).unwrap();
    compiler.descriptor_pool()
}

/// etcd-client's bundled `proto/` directory, found in cargo's registry sources.
fn etcd_client_proto_dir() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let registries = std::fs::read_dir(cargo_home.join("registry/src")).unwrap();
    let mut found: Vec<PathBuf> = registries
        .flat_map(|registry| std::fs::read_dir(registry.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("etcd-client-0.21.") && path.join("proto").is_dir()
        })
        .collect();
    found.sort();
    let dir = found
        .pop()
        .expect("etcd-client 0.21 sources are not in cargo's registry");
    dir.join("proto")
}

fn theirs() -> DescriptorPool {
    let mut compiler = protox::Compiler::new([etcd_client_proto_dir()]).unwrap();
    compiler.open_files(ETCD_FILES).unwrap();
    compiler.descriptor_pool()
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
        scalar => format!("{scalar:?}"),
    }
}

fn describe_field(field: &FieldDescriptor) -> String {
    let label = match field.cardinality() {
        Cardinality::Optional => "optional",
        Cardinality::Required => "required",
        Cardinality::Repeated => "repeated",
    };
    let oneof = field
        .containing_oneof()
        .map(|oneof| oneof.name().to_owned());
    format!(
        "{} {label} {} presence={} oneof={oneof:?}",
        field.name(),
        kind_name(&field.kind()),
        field.supports_presence()
    )
}

fn in_scope(full_name: &str) -> bool {
    PACKAGES
        .iter()
        .any(|package| full_name.starts_with(&format!("{package}.")))
}

/// Every item of the pool in our packages, keyed by identity (numbers for
/// fields and enum values, so a renamed field shows as a mismatch).
fn items(pool: &DescriptorPool) -> BTreeMap<String, String> {
    let mut items = BTreeMap::new();
    for message in pool.all_messages().filter(|m| in_scope(m.full_name())) {
        items.insert(format!("message {}", message.full_name()), String::new());
        for field in message.fields() {
            let key = format!("field {}#{}", message.full_name(), field.number());
            items.insert(key, describe_field(&field));
        }
    }
    for enumeration in pool.all_enums().filter(|e| in_scope(e.full_name())) {
        items.insert(format!("enum {}", enumeration.full_name()), String::new());
        for value in enumeration.values() {
            let key = format!("enum value {}#{}", enumeration.full_name(), value.number());
            items.insert(key, value.name().to_owned());
        }
    }
    for service in pool.services().filter(|s| in_scope(s.full_name())) {
        items.insert(format!("service {}", service.full_name()), String::new());
        for method in service.methods() {
            let shape = format!(
                "{}({}{}) -> {}{}",
                method.name(),
                if method.is_client_streaming() {
                    "stream "
                } else {
                    ""
                },
                method.input().full_name(),
                if method.is_server_streaming() {
                    "stream "
                } else {
                    ""
                },
                method.output().full_name(),
            );
            items.insert(format!("rpc {}", method.full_name()), shape);
        }
    }
    items
}

fn is_deliberately_absent(absent: &BTreeMap<&str, &str>, key: &str) -> bool {
    let owner = key
        .strip_prefix("field ")
        .and_then(|field| field.split_once('#'))
        .map(|(message, _)| format!("message {message}"));
    absent.contains_key(key) || owner.is_some_and(|owner| absent.contains_key(owner.as_str()))
}

#[test]
fn every_item_matches_etcds_protos() {
    let ours = items(&ours());
    let theirs = items(&theirs());
    let absent: BTreeMap<&str, &str> = DELIBERATELY_ABSENT.into_iter().collect();
    let mut problems = Vec::new();
    for (key, their_description) in &theirs {
        match ours.get(key) {
            Some(ours) if ours == their_description => {}
            Some(ours) => problems.push(format!(
                "{key}: ours `{ours}`, etcd's `{their_description}`"
            )),
            None if is_deliberately_absent(&absent, key) => {}
            None => problems.push(format!(
                "{key}: missing from ours (etcd: `{their_description}`)"
            )),
        }
    }
    for key in ours.keys().filter(|key| !theirs.contains_key(*key)) {
        problems.push(format!("{key}: only in ours"));
    }
    for key in absent.keys() {
        if ours.contains_key(*key) || !theirs.contains_key(*key) {
            problems.push(format!(
                "{key}: listed as absent but ours has it or etcd's lacks it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(ours.len() > 400, "only {} items compared", ours.len());
}

/// The embedded descriptor set is the one the build compiled: it decodes and
/// holds the three files with etcd's names.
#[test]
fn file_descriptor_set_holds_the_three_files() {
    let pool = DescriptorPool::decode(api::FILE_DESCRIPTOR_SET).unwrap();
    let mut names: Vec<_> = pool.files().map(|file| file.name().to_owned()).collect();
    let mut expected = ETCD_FILES.to_vec();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    assert!(pool.get_service_by_name("etcdserverpb.KV").is_some());
}
