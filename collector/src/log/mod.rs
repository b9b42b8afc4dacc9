//! The log's order: each receipt's signed `seq` (and, in payloads v1 and v2, its `prev`, the
//! SHA-256 of the JWS before it), [`Tip`] the rule the writer appends by, and [`audit`] walks a whole
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
