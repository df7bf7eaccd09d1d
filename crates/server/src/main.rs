//! keel (being written).
fn main() {}
