//! The hash chain, the collector's tamper evidence: each receipt's `prev` is the SHA-256 of
//! the JWS before it. `audit` walks the whole log and re-checks every link and signature.

pub mod audit;
