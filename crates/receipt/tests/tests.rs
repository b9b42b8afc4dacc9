//! The crate's one integration-test binary: each module tests one part as an outsider would,
//! through the public API only.

mod log;
