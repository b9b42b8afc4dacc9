//! A run of receipts on its way into PostgreSQL, in a few statements per run rather than a
//! few per receipt: every round trip to the server is paid by the whole run, while the log's
//! lock is held.
//!
//! [`RunTx::prefetch`] asks once what the database already holds for the run's receipts
//! (stored receipts under the same site and reference, earlier withdrawals of the same
//! receipts, which withdrawn consents had their subject erased); the [`ReceiptTx`] answers
//! come from that. [`RunTx::insert`] buffers each signed receipt's rows; [`RunTx::flush`]
//! writes them as arrays (`unnest`): the receipts, then what is kept beside them (the status
//! index, cookie choices, subject index or erasures), with the same rules as SQLite's
//! writer. The caller flushes before anything else reads the tables (an admin change, the
//! commit).

use std::collections::{HashMap, HashSet};

use postgres::Transaction;

use super::PgError;
use crate::keys::Signer;
use crate::receipt::{PreparedReceipt, Stamp};
use crate::store::analytics::is_choice;
use crate::store::batch::{ReceiptTx, replay_or_conflict};
use crate::store::{Issued, StoreError};

/// A stored receipt as a replay is answered with, and the content hash it was stored for.
struct Stored {
    issued: Issued,
    request_sha256: String,
}

/// The rows of buffered receipts, one vector per column (as they are bound).
#[derive(Default)]
struct Buffer {
    seq: Vec<i64>,
    id: Vec<String>,
    site: Vec<String>,
    reference: Vec<String>,
    request_sha256: Vec<String>,
    kind: Vec<&'static str>,
    event: Vec<&'static str>,
    policy_version: Vec<String>,
    lang: Vec<String>,
    form_id: Vec<Option<String>>,
    browser_id: Vec<String>,
    issued_at: Vec<String>,
    kid: Vec<String>,
    jws: Vec<String>,
    jws_sha256: Vec<String>,
    withdraws: Vec<Option<String>>,
    holder_sha256: Vec<Option<String>>,
    subject_salt: Vec<Option<String>>,
    choices: Choices,
    /// Subject index: hmac, seq, kind.
    subjects: (Vec<String>, Vec<i64>, Vec<String>),
    /// Erased from the start (withdrawals of erased consents): seq, time.
    erased: (Vec<i64>, Vec<String>),
}

/// Cookie choices' rows, one vector per column.
#[derive(Default)]
struct Choices {
    site: Vec<String>,
    issued_at: Vec<String>,
    seq: Vec<i64>,
    category: Vec<String>,
    granted: Vec<bool>,
}

/// One run's view of the batch's transaction.
pub(super) struct RunTx<'t, 'c> {
    pub(super) tx: &'t mut Transaction<'c>,
    stored: HashMap<(String, String), Stored>,
    withdrawals: HashMap<String, Issued>,
    erased_targets: HashSet<String>,
    rows: Buffer,
}

impl<'t, 'c> RunTx<'t, 'c> {
    /// Reads, in three statements, what the database holds for `receipts` (a run's, before
    /// any is sequenced).
    pub(super) fn prefetch<'r>(
        tx: &'t mut Transaction<'c>,
        receipts: impl Iterator<Item = &'r PreparedReceipt> + Clone,
    ) -> Result<RunTx<'t, 'c>, PgError> {
        let sites: Vec<&str> = receipts.clone().map(|r| r.site.as_str()).collect();
        let refs: Vec<&str> = receipts.clone().map(|r| r.reference.as_str()).collect();
        let withdrawn: Vec<&str> = receipts.filter_map(|r| r.withdraws.as_deref()).collect();
        let mut stored = HashMap::new();
        for row in tx.query(
            "SELECT r.site, r.ref, r.id, r.seq, r.jws, r.request_sha256 FROM receipts r
             JOIN unnest($1::text[], $2::text[]) AS k(site, ref)
               ON r.site = k.site AND r.ref = k.ref",
            &[&sites, &refs],
        )? {
            stored.insert(
                (row.try_get(0)?, row.try_get(1)?),
                Stored {
                    issued: Issued {
                        id: row.try_get(2)?,
                        seq: row.try_get(3)?,
                        jws: row.try_get(4)?,
                        created: false,
                    },
                    request_sha256: row.try_get(5)?,
                },
            );
        }
        let mut withdrawals = HashMap::new();
        let mut erased_targets = HashSet::new();
        if !withdrawn.is_empty() {
            for row in tx.query(
                "SELECT withdraws, id, seq, jws FROM receipts WHERE withdraws = ANY($1)",
                &[&withdrawn],
            )? {
                withdrawals.insert(
                    row.try_get(0)?,
                    Issued {
                        id: row.try_get(1)?,
                        seq: row.try_get(2)?,
                        jws: row.try_get(3)?,
                        created: false,
                    },
                );
            }
            for row in tx.query(
                "SELECT r.id FROM receipts r JOIN erasures e ON e.seq = r.seq WHERE r.id = ANY($1)",
                &[&withdrawn],
            )? {
                erased_targets.insert(row.try_get(0)?);
            }
        }
        Ok(RunTx {
            tx,
            stored,
            withdrawals,
            erased_targets,
            rows: Buffer::default(),
        })
    }

    /// Writes the buffered receipts and everything kept beside them.
    pub(super) fn flush(&mut self) -> Result<(), PgError> {
        let rows = std::mem::take(&mut self.rows);
        if rows.seq.is_empty() {
            return Ok(());
        }
        let tx = &mut *self.tx;
        tx.execute(
            "INSERT INTO receipts (seq, id, site, ref, request_sha256, kind, event, policy_version,
                                   lang, form_id, browser_id, issued_at, kid, jws, jws_sha256,
                                   withdraws, holder_sha256, subject_salt)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                  $11::text[], $12::text[], $13::text[], $14::text[],
                                  $15::text[], $16::text[], $17::text[], $18::text[])",
            &[
                &rows.seq,
                &rows.id,
                &rows.site,
                &rows.reference,
                &rows.request_sha256,
                &rows.kind,
                &rows.event,
                &rows.policy_version,
                &rows.lang,
                &rows.form_id,
                &rows.browser_id,
                &rows.issued_at,
                &rows.kid,
                &rows.jws,
                &rows.jws_sha256,
                &rows.withdraws,
                &rows.holder_sha256,
                &rows.subject_salt,
            ],
        )?;
        // The status index (see migrations/0004_followed.sql): each new receipt's browser's
        // previous receipt of the same kind (perhaps one of this run), and what it withdraws.
        tx.execute(
            "INSERT INTO followed (seq)
             SELECT p.seq FROM unnest($1::bigint[]) AS n(seq)
             JOIN receipts r ON r.seq = n.seq
             CROSS JOIN LATERAL (
                 SELECT p.seq FROM receipts p
                 WHERE p.browser_id = r.browser_id AND p.kind = r.kind AND p.seq < r.seq
                 ORDER BY p.seq DESC LIMIT 1
             ) p
             ON CONFLICT DO NOTHING",
            &[&rows.seq],
        )?;
        let withdrawn: Vec<&str> = rows
            .withdraws
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !withdrawn.is_empty() {
            tx.execute(
                "INSERT INTO followed (seq) SELECT seq FROM receipts WHERE id = ANY($1)
                 ON CONFLICT DO NOTHING",
                &[&withdrawn],
            )?;
        }
        let c = &rows.choices;
        if !c.seq.is_empty() {
            tx.execute(
                "INSERT INTO cookie_choices (site, issued_at, seq, category, granted)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bool[])
                 ON CONFLICT DO NOTHING",
                &[&c.site, &c.issued_at, &c.seq, &c.category, &c.granted],
            )?;
        }
        let (s_hmac, s_seq, s_kind) = &rows.subjects;
        if !s_seq.is_empty() {
            tx.execute(
                "INSERT INTO subject_hashes (hmac, seq, kind)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
                 ON CONFLICT DO NOTHING",
                &[s_hmac, s_seq, s_kind],
            )?;
        }
        let (e_seq, e_at) = &rows.erased;
        if !e_seq.is_empty() {
            tx.execute(
                "INSERT INTO erasures (seq, erased_at) SELECT * FROM unnest($1::bigint[], $2::text[])",
                &[e_seq, e_at],
            )?;
        }
        Ok(())
    }
}

impl ReceiptTx for RunTx<'_, '_> {
    type Error = PgError;

    fn stored_answer(
        &mut self,
        receipt: &PreparedReceipt,
    ) -> Result<Option<Result<Issued, StoreError>>, PgError> {
        let key = (receipt.site.clone(), receipt.reference.clone());
        if let Some(stored) = self.stored.get(&key) {
            return Ok(Some(replay_or_conflict(
                receipt,
                stored.issued.clone(),
                &stored.request_sha256,
            )));
        }
        // A consent is withdrawn once; asking again gets that withdrawal.
        Ok(receipt
            .withdraws
            .as_ref()
            .and_then(|w| self.withdrawals.get(w))
            .map(|earlier| Ok(earlier.clone())))
    }

    /// Buffers the receipt's rows (written by [`RunTx::flush`]). A withdrawal of a consent
    /// whose subject was erased is erased from the start: no salt, no index rows.
    fn insert(
        &mut self,
        receipt: &PreparedReceipt,
        stamp: &Stamp,
        signer: &Signer,
        jws: &str,
        jws_sha256: &str,
    ) -> Result<(), PgError> {
        let erased = receipt
            .withdraws
            .as_ref()
            .is_some_and(|w| self.erased_targets.contains(w));
        let private = &receipt.private;
        let rows = &mut self.rows;
        rows.seq.push(stamp.seq);
        rows.id.push(stamp.id.clone());
        rows.site.push(receipt.site.clone());
        rows.reference.push(receipt.reference.clone());
        rows.request_sha256.push(receipt.request_sha256.clone());
        rows.kind.push(receipt.kind.as_str());
        rows.event.push(receipt.event.as_str());
        rows.policy_version.push(receipt.policy.version.clone());
        rows.lang.push(receipt.notice.lang.clone());
        rows.form_id.push(receipt.context.form_id.clone());
        rows.browser_id.push(private.browser.clone());
        rows.issued_at.push(stamp.issued_at.clone());
        rows.kid.push(signer.kid().to_owned());
        rows.jws.push(jws.to_owned());
        rows.jws_sha256.push(jws_sha256.to_owned());
        rows.withdraws.push(receipt.withdraws.clone());
        rows.holder_sha256.push(private.holder_sha256.clone());
        rows.subject_salt
            .push(if erased { None } else { private.salt.clone() });
        if let Some(choices) = &receipt.categories
            && is_choice(receipt.kind.as_str(), receipt.event.as_str())
        {
            for choice in choices {
                rows.choices.site.push(receipt.site.clone());
                rows.choices.issued_at.push(stamp.issued_at.clone());
                rows.choices.seq.push(stamp.seq);
                rows.choices.category.push(choice.id.clone());
                rows.choices.granted.push(choice.granted);
            }
        }
        if erased {
            rows.erased.0.push(stamp.seq);
            rows.erased.1.push(stamp.issued_at.clone());
        } else {
            for entry in &private.index {
                rows.subjects.0.push(entry.hmac.clone());
                rows.subjects.1.push(stamp.seq);
                rows.subjects.2.push(entry.kind.to_string());
            }
        }
        Ok(())
    }
}
