//! wal (being written).
