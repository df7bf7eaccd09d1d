//! `snapshot status` in etcdctl 3.4's four formats.

use server::restore::SnapshotStatus;

use super::Format;
use super::Printer;
use super::Text;
use super::table;
use crate::go_fmt::humanize_bytes;

const DB_STATUS_HEADER: [&str; 4] = ["hash", "revision", "total keys", "total size"];

impl Printer {
    /// A snapshot file's hash, revision, total keys and total size.
    pub(crate) fn db_status(&self, s: &SnapshotStatus) -> Text {
        let size = humanize_bytes(s.total_size_bytes);
        let text = match self.format {
            Format::Simple => format!("{:x}, {}, {}, {size}\n", s.hash, s.revision, s.total_keys),
            Format::Json => format!(
                "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}\n",
                s.hash, s.revision, s.total_keys, s.total_size_bytes
            ),
            Format::Fields => format!(
                "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
                s.hash, s.revision, s.total_keys, s.total_size_bytes
            ),
            Format::Table => {
                let row = vec![
                    format!("{:x}", s.hash),
                    s.revision.to_string(),
                    s.total_keys.to_string(),
                    size,
                ];
                table::render(&DB_STATUS_HEADER, &[row])
            }
        };
        Ok(text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> SnapshotStatus {
        SnapshotStatus {
            hash: 0xabc,
            revision: 12,
            total_keys: 3,
            total_size_bytes: 2080,
            applied_index: 20,
            compact_revision: -1,
            header: Default::default(),
        }
    }

    fn print(format: Format) -> String {
        String::from_utf8(Printer::new(format).db_status(&status()).unwrap()).unwrap()
    }

    #[test]
    fn db_status_prints_as_etcdctl() {
        assert_eq!(print(Format::Simple), "abc, 12, 3, 2.1 kB\n");
        assert_eq!(
            print(Format::Json),
            "{\"hash\":2748,\"revision\":12,\"totalKey\":3,\"totalSize\":2080}\n"
        );
        assert_eq!(
            print(Format::Fields),
            "\"Hash\" : 2748\n\"Revision\" : 12\n\"Keys\" : 3\n\"Size\" : 2080\n"
        );
        let table = print(Format::Table);
        assert!(
            table.contains("| HASH | REVISION | TOTAL KEYS | TOTAL SIZE |"),
            "{table}"
        );
        assert!(
            table.contains("|  abc |       12 |          3 |     2.1 kB |"),
            "{table}"
        );
    }
}
