//! Witnessing (c2sp.org/tlog-witness), both roles. [`cosign`]: a collector configured with
//! `[witness]` cosigns the checkpoints of the logs it follows, each only if it is consistent
//! with the tree it cosigned before, and refuses any other (a log that was rewritten).
//! [`ask`]: a collector whose `[log]` names witnesses offers them its latest checkpoint now
//! and then, verifies each cosignature with the witness's key and keeps it beside the
//! checkpoint. The rules are `kelisim_receipt::log::witness`'s; this module adds the state,
//! the store and the network.

pub mod ask;
pub mod cosign;
