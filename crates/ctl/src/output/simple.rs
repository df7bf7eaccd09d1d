//! etcdctl's `simple` format (`printer_simple.go`).

use std::fmt::Write;

use api::etcdserverpb::AlarmResponse;
use api::etcdserverpb::DeleteRangeResponse;
use api::etcdserverpb::LeaseLeasesResponse;
use api::etcdserverpb::LeaseTimeToLiveResponse;
use api::etcdserverpb::PutResponse;
use api::etcdserverpb::RangeResponse;
use api::etcdserverpb::TxnResponse;
use api::etcdserverpb::WatchResponse;
use api::etcdserverpb::response_op::Response;
use api::mvccpb::KeyValue;

use super::Printer;

/// The key (unless value-only) and the value, each on its own line, as
/// raw bytes: etcd values are often binary (Kubernetes stores protobuf).
fn kv(out: &mut Vec<u8>, printer: &Printer, kv: &KeyValue) {
    let mut line = |bytes: &[u8]| {
        if printer.hex {
            out.extend_from_slice(hex(bytes).as_bytes());
        } else {
            out.extend_from_slice(bytes);
        }
        out.push(b'\n');
    };
    if !printer.value_only {
        line(&kv.key);
    }
    line(&kv.value);
}

/// Bytes as `\x..` escapes, etcdctl's `--hex`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "\\x{byte:02x}");
        out
    })
}

pub(super) fn get(printer: &Printer, r: &RangeResponse) -> Vec<u8> {
    let mut out = Vec::new();
    for item in &r.kvs {
        kv(&mut out, printer, item);
    }
    out
}

pub(super) fn put(printer: &Printer, r: &PutResponse) -> Vec<u8> {
    let mut out = b"OK\n".to_vec();
    if let Some(prev) = &r.prev_kv {
        kv(&mut out, printer, prev);
    }
    out
}

pub(super) fn del(printer: &Printer, r: &DeleteRangeResponse) -> Vec<u8> {
    let mut out = format!("{}\n", r.deleted).into_bytes();
    for prev in &r.prev_kvs {
        kv(&mut out, printer, prev);
    }
    out
}

pub(super) fn txn(printer: &Printer, r: &TxnResponse) -> Vec<u8> {
    let outcome: &[u8] = if r.succeeded {
        b"SUCCESS\n"
    } else {
        b"FAILURE\n"
    };
    let mut out = outcome.to_vec();
    for response in r.responses.iter().filter_map(|op| op.response.as_ref()) {
        out.push(b'\n');
        let text = match response {
            Response::ResponseRange(range) => get(printer, range),
            Response::ResponsePut(put_response) => put(printer, put_response),
            Response::ResponseDeleteRange(delete) => del(printer, delete),
            Response::ResponseTxn(nested) => txn(printer, nested),
        };
        out.extend_from_slice(&text);
    }
    out
}

pub(super) fn watch(printer: &Printer, r: &WatchResponse) -> Vec<u8> {
    let mut out = Vec::new();
    for event in &r.events {
        out.extend_from_slice(event.r#type().as_str_name().as_bytes());
        out.push(b'\n');
        if let Some(prev) = &event.prev_kv {
            kv(&mut out, printer, prev);
        }
        kv(
            &mut out,
            printer,
            event.kv.as_ref().unwrap_or(&KeyValue::default()),
        );
    }
    out
}

pub(super) fn time_to_live(r: &LeaseTimeToLiveResponse, keys: bool) -> String {
    if r.granted_ttl == 0 && r.ttl == -1 {
        return format!("lease {:016x} already expired\n", r.id);
    }
    let mut out = format!(
        "lease {:016x} granted with TTL({}s), remaining({}s)",
        r.id, r.granted_ttl, r.ttl
    );
    if keys {
        let names: Vec<_> = r
            .keys
            .iter()
            .map(|key| String::from_utf8_lossy(key))
            .collect();
        let _ = write!(out, ", attached keys([{}])", names.join(" "));
    }
    out.push('\n');
    out
}

pub(super) fn leases(r: &LeaseLeasesResponse) -> String {
    let mut out = format!("found {} leases\n", r.leases.len());
    for lease in &r.leases {
        let _ = writeln!(out, "{:016x}", lease.id);
    }
    out
}

/// Go's `%+v` of an `AlarmMember`, which is its compact protobuf text.
pub(super) fn alarm(r: &AlarmResponse) -> String {
    let mut out = String::new();
    for alarm in &r.alarms {
        let mut line = String::new();
        if alarm.member_id != 0 {
            let _ = write!(line, "memberID:{} ", alarm.member_id);
        }
        if alarm.alarm != 0 {
            let _ = write!(line, "alarm:{} ", alarm.alarm().as_str_name());
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Rows joined with `", "`, one per line (member list, endpoint status).
pub(super) fn rows(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|row| format!("{}\n", row.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use api::etcdserverpb::LeaseStatus;
    use api::etcdserverpb::ResponseOp;
    use api::mvccpb::Event;
    use api::mvccpb::event::EventType;

    use super::*;
    use crate::output::Format;

    fn key_value(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }
    }

    #[test]
    fn get_prints_keys_and_values_or_values_only() {
        let r = RangeResponse {
            kvs: vec![key_value("foo", "bar"), key_value("foo2", "baz")],
            ..Default::default()
        };
        let mut printer = Printer::new(Format::Simple);
        assert_eq!(get(&printer, &r), b"foo\nbar\nfoo2\nbaz\n");
        printer.value_only = true;
        assert_eq!(get(&printer, &r), b"bar\nbaz\n");
        printer.value_only = false;
        printer.hex = true;
        assert_eq!(
            get(
                &printer,
                &RangeResponse {
                    kvs: vec![key_value("a", "b")],
                    ..Default::default()
                }
            ),
            b"\\x61\n\\x62\n"
        );
    }

    /// Binary values print as their raw bytes, as etcdctl prints them.
    #[test]
    fn binary_values_print_raw() {
        let binary = KeyValue {
            key: b"k".to_vec(),
            value: vec![0xff, 0x00, 0x80],
            ..Default::default()
        };
        let r = RangeResponse {
            kvs: vec![binary],
            ..Default::default()
        };
        assert_eq!(get(&Printer::new(Format::Simple), &r), b"k\n\xff\x00\x80\n");
    }

    #[test]
    fn put_and_del_print_ok_and_counts_with_previous_values() {
        let printer = Printer::new(Format::Simple);
        assert_eq!(put(&printer, &PutResponse::default()), b"OK\n");
        let with_prev = PutResponse {
            prev_kv: Some(key_value("foo", "x")),
            ..Default::default()
        };
        assert_eq!(put(&printer, &with_prev), b"OK\nfoo\nx\n");
        let deleted = DeleteRangeResponse {
            deleted: 1,
            prev_kvs: vec![key_value("k", "v")],
            ..Default::default()
        };
        assert_eq!(del(&printer, &deleted), b"1\nk\nv\n");
    }

    #[test]
    fn txn_prints_outcome_then_each_response_after_a_blank_line() {
        let printer = Printer::new(Format::Simple);
        let r = TxnResponse {
            succeeded: true,
            responses: vec![
                ResponseOp {
                    response: Some(Response::ResponsePut(PutResponse::default())),
                },
                ResponseOp {
                    response: Some(Response::ResponseRange(RangeResponse {
                        kvs: vec![key_value("foo", "z")],
                        ..Default::default()
                    })),
                },
            ],
            ..Default::default()
        };
        assert_eq!(txn(&printer, &r), b"SUCCESS\n\nOK\n\nfoo\nz\n");
        assert_eq!(txn(&printer, &TxnResponse::default()), b"FAILURE\n");
    }

    #[test]
    fn watch_prints_type_previous_and_current() {
        let printer = Printer::new(Format::Simple);
        let r = WatchResponse {
            events: vec![
                Event {
                    r#type: EventType::Put as i32,
                    kv: Some(key_value("foo", "w")),
                    prev_kv: None,
                },
                Event {
                    r#type: EventType::Delete as i32,
                    kv: Some(key_value("foo", "")),
                    prev_kv: Some(key_value("foo", "w")),
                },
            ],
            ..Default::default()
        };
        assert_eq!(watch(&printer, &r), b"PUT\nfoo\nw\nDELETE\nfoo\nw\nfoo\n\n");
    }

    #[test]
    fn lease_texts_match_etcdctl() {
        let live = LeaseTimeToLiveResponse {
            id: 0x3ceea200db0c9110,
            ttl: 99,
            granted_ttl: 100,
            keys: vec![b"k1".to_vec()],
            ..Default::default()
        };
        assert_eq!(
            time_to_live(&live, true),
            "lease 3ceea200db0c9110 granted with TTL(100s), remaining(99s), attached keys([k1])\n"
        );
        assert_eq!(
            time_to_live(&live, false),
            "lease 3ceea200db0c9110 granted with TTL(100s), remaining(99s)\n"
        );
        let expired = LeaseTimeToLiveResponse {
            id: 0x10,
            ttl: -1,
            ..Default::default()
        };
        assert_eq!(
            time_to_live(&expired, true),
            "lease 0000000000000010 already expired\n"
        );
        let list = LeaseLeasesResponse {
            leases: vec![LeaseStatus { id: 0x12 }],
            ..Default::default()
        };
        assert_eq!(leases(&list), "found 1 leases\n0000000000000012\n");
    }

    #[test]
    fn alarms_print_as_compact_text() {
        let r = AlarmResponse {
            alarms: vec![api::etcdserverpb::AlarmMember {
                member_id: 42,
                alarm: 1,
            }],
            ..Default::default()
        };
        assert_eq!(alarm(&r), "memberID:42 alarm:NOSPACE \n");
    }
}
