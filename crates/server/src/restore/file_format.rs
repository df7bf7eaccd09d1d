//! The snapshot file: header, store stream, padding and sha256 (see the
//! [module manual](super) for the layout).

use std::fs::File;
use std::io::BufReader;
use std::io::Read;
use std::io::Seek;
use std::io::SeekFrom;
use std::path::Path;

use sha2::Digest;
use sha2::Sha256;

use super::RestoreError;

/// First bytes of a keel snapshot file.
pub const FILE_MAGIC: &[u8; 16] = b"keel-snapshot-1\n";
/// Length of the header, magic included.
pub const HEADER_BYTES: u64 = 64;
/// The data before the sha256 is padded to a multiple of this (etcd's check).
pub const BLOCK_BYTES: u64 = 512;
/// Length of the sha256 that ends the file.
pub const SHA256_BYTES: u64 = 32;

const _: () = assert!(HEADER_BYTES <= BLOCK_BYTES && SHA256_BYTES < BLOCK_BYTES);

/// Bytes read at a time while hashing a file.
const HASH_BUFFER_BYTES: usize = 1 << 20;

/// What the header of a snapshot file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileHeader {
    /// The cluster the snapshot was taken from.
    pub cluster_id: u64,
    /// The member that served it.
    pub member_id: u64,
    /// Length of the store stream that follows the header.
    pub store_bytes: u64,
    /// When the member took it, in seconds since the Unix epoch.
    pub created_unix_seconds: u64,
}

impl FileHeader {
    /// The header's bytes: magic, then the four fields as little-endian u64, then zeros.
    pub fn encode(&self) -> [u8; HEADER_BYTES as usize] {
        let mut out = [0u8; HEADER_BYTES as usize];
        let fields = [
            self.cluster_id,
            self.member_id,
            self.store_bytes,
            self.created_unix_seconds,
        ];
        let magic = FILE_MAGIC.iter().copied();
        let numbers = fields.iter().flat_map(|f| f.to_le_bytes());
        for (slot, byte) in out.iter_mut().zip(magic.chain(numbers)) {
            *slot = byte;
        }
        out
    }

    /// Reads a header; `None` when the bytes do not start with [`FILE_MAGIC`].
    pub fn decode(bytes: &[u8; HEADER_BYTES as usize]) -> Option<FileHeader> {
        let (magic, rest) = bytes.split_at(FILE_MAGIC.len());
        if magic != FILE_MAGIC {
            return None;
        }
        let mut fields = rest
            .chunks_exact(8)
            .map(|c| c.try_into().map(u64::from_le_bytes).unwrap_or_default());
        let mut next = || fields.next().unwrap_or_default();
        Some(FileHeader {
            cluster_id: next(),
            member_id: next(),
            store_bytes: next(),
            created_unix_seconds: next(),
        })
    }

    /// Zero bytes after the store stream, up to the next multiple of [`BLOCK_BYTES`].
    pub fn padding_bytes(&self) -> u64 {
        let used = (HEADER_BYTES + self.store_bytes) % BLOCK_BYTES;
        (BLOCK_BYTES - used) % BLOCK_BYTES
    }

    /// Header, store and padding: the part the sha256 covers (etcd's database).
    pub fn data_bytes(&self) -> u64 {
        HEADER_BYTES + self.store_bytes + self.padding_bytes()
    }

    /// The length of the whole file.
    pub fn file_bytes(&self) -> u64 {
        self.data_bytes() + SHA256_BYTES
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens a snapshot file and reads its header, checking the magic and that
/// the length is the one the header implies.
fn open_with_header(path: &Path) -> Result<(File, FileHeader), RestoreError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let file_bytes = file.metadata().map_err(io_error(path))?.len();
    let truncated = || RestoreError::Truncated {
        path: path.to_path_buf(),
        file_bytes,
    };
    if file_bytes % BLOCK_BYTES != SHA256_BYTES || file_bytes < BLOCK_BYTES + SHA256_BYTES {
        return Err(truncated());
    }
    let mut raw = [0u8; HEADER_BYTES as usize];
    file.read_exact(&mut raw).map_err(io_error(path))?;
    let header = FileHeader::decode(&raw).ok_or_else(|| RestoreError::NotASnapshot {
        path: path.to_path_buf(),
    })?;
    if header.file_bytes() != file_bytes {
        return Err(truncated());
    }
    Ok((file, header))
}

/// Checks a snapshot file: its length, its magic, and the sha256 that ends it.
pub fn verify_file(path: &Path) -> Result<FileHeader, RestoreError> {
    let (mut file, header) = open_with_header(path)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut data = BufReader::new(&mut file).take(header.data_bytes());
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER_BYTES];
    loop {
        let n = data.read(&mut buf).map_err(io_error(path))?;
        let Some(read) = buf.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        hasher.update(read);
    }
    let mut stored = [0u8; SHA256_BYTES as usize];
    file.seek(SeekFrom::Start(header.data_bytes()))
        .map_err(io_error(path))?;
    file.read_exact(&mut stored).map_err(io_error(path))?;
    let computed = hasher.finalize();
    if computed.as_slice() != stored {
        return Err(RestoreError::ChecksumMismatch {
            path: path.to_path_buf(),
            stored: hex(&stored),
            computed: hex(&computed),
        });
    }
    Ok(header)
}

/// The store stream of a snapshot file, after checking the file (unless
/// `skip_hash_check`: then only the header; the stream's own CRC still guards it).
pub(super) fn store_section(
    path: &Path,
    skip_hash_check: bool,
) -> Result<(FileHeader, impl Read + use<>), RestoreError> {
    let header = if skip_hash_check {
        open_with_header(path)?.1
    } else {
        verify_file(path)?
    };
    let mut file = File::open(path).map_err(io_error(path))?;
    file.seek(SeekFrom::Start(HEADER_BYTES))
        .map_err(io_error(path))?;
    Ok((header, BufReader::new(file).take(header.store_bytes)))
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write_file(dir: &Path, store: &[u8]) -> std::path::PathBuf {
        let header = FileHeader {
            cluster_id: 1,
            member_id: 2,
            store_bytes: store.len() as u64,
            created_unix_seconds: 3,
        };
        let mut data = header.encode().to_vec();
        data.extend_from_slice(store);
        data.resize(header.data_bytes() as usize, 0);
        let digest = Sha256::digest(&data);
        data.extend_from_slice(&digest);
        assert_eq!(data.len() as u64 % BLOCK_BYTES, SHA256_BYTES);
        let path = dir.join("snap.db");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        path
    }

    #[test]
    fn header_round_trips_and_sizes_follow_etcds_rule() {
        for store_bytes in [0, 1, 447, 448, 449, 100_000] {
            let header = FileHeader {
                cluster_id: 0xdead,
                member_id: 0xbeef,
                store_bytes,
                created_unix_seconds: 1_700_000_000,
            };
            assert_eq!(FileHeader::decode(&header.encode()), Some(header));
            assert_eq!(header.data_bytes() % BLOCK_BYTES, 0);
            assert!(header.padding_bytes() < BLOCK_BYTES);
            assert_eq!(header.file_bytes() % BLOCK_BYTES, SHA256_BYTES);
        }
        assert_eq!(FileHeader::decode(&[0u8; 64]), None);
    }

    #[test]
    fn verify_refuses_truncated_and_flipped_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), b"store stream bytes");
        assert_eq!(verify_file(&path).unwrap().store_bytes, 18);
        let (_, mut section) = store_section(&path, false).unwrap();
        let mut read = Vec::new();
        section.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"store stream bytes");

        let mut bytes = std::fs::read(&path).unwrap();
        bytes[70] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            verify_file(&path),
            Err(RestoreError::ChecksumMismatch { .. })
        ));
        assert!(
            store_section(&path, true).is_ok(),
            "--skip-hash-check skips the sha256"
        );

        bytes[70] ^= 0x10;
        bytes.truncate(bytes.len() - 512);
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            verify_file(&path),
            Err(RestoreError::Truncated { .. })
        ));
        bytes.truncate(100);
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            verify_file(&path),
            Err(RestoreError::Truncated { .. })
        ));
    }
}
