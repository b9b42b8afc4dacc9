//! Kelisim collector binary (placeholder).
fn main() {}
