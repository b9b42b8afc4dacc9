//! The hash chain, the collector's tamper evidence: each receipt's `prev` is the SHA-256 of
//! the JWS before it, [`Tip`] is the rule the writer appends by, and [`audit`] walks a whole
//! log given as rows by any [`LogSource`]. The rule and the walk are `kelisim_receipt`'s
//! (`chain`, `audit`), re-exported here so that a third party checks a log exactly as the
//! collector does; `store` reads and writes the rows. The transparency log's collector
//! side is [`tree`] (leaf rule, origin, the `TreeReads` the store implements) and
//! [`tree_check`] (offline proof verification, the tree rebuild of `audit`).

pub use kelisim_receipt::audit;

pub mod tree;
pub mod tree_check;

pub use kelisim_receipt::chain::{
    GENESIS_PREV, Head, LogRow, LogSource, ReceiptRow, Tip, link_hash,
};
