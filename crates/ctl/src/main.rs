//! keelctl (being written).
fn main() {}
