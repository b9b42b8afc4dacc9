//! Build pipeline (placeholder).
fn main() {}
