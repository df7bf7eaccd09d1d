//! transport-quic (being written).
