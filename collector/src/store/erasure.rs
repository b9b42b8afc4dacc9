//! The erasure flow both backends run inside a transaction: a request recorded (and carried
//! out at once, or left pending until its due time), a pending request carried out on
//! demand, the due ones carried out by the deadline task; every step in the admin audit
//! trail in the same transaction. The rules are here once; each backend gives the
//! statements in its dialect ([`ErasureTx`]).

use crate::store::{Affected, AuditEntry, BY_DEADLINE, ErasureRequest, StoreError};

/// A request as found: `None` if there is none; `Some(None)` while pending; `Some(Some((at,
/// by)))` once carried out.
pub(super) type RequestState = Option<Option<(String, String)>>;

/// The statements an erasure needs, on one open transaction.
pub(super) trait ErasureTx {
    type Error;

    /// Stores `request`, covering the receipts stored when it is made (those this batch
    /// inserted before it included), not consents given afterwards.
    fn insert_request(&mut self, request: &ErasureRequest) -> Result<(), Self::Error>;

    /// Whether `site` has request `id`, and when and by whom it was carried out.
    fn request_state(&mut self, site: &str, id: &str) -> Result<RequestState, Self::Error>;

    /// Carries out `site`'s pending request `id`: destroys the subject index (and the
    /// commitments' salt) of the receipts it covers and of their withdrawals, and its own
    /// copy of the keyed hashes, marking it done at `at` by `by`. How many receipts; `None`
    /// if there is no such pending request.
    fn carry_out(
        &mut self,
        site: &str,
        id: &str,
        at: &str,
        by: &str,
    ) -> Result<Option<Affected>, Self::Error>;

    /// The pending requests due before `before`: `(id, site, due_at)`, earliest first.
    fn due(&mut self, before: &str) -> Result<Vec<(String, String, String)>, Self::Error>;

    /// Appends `entry` to the admin audit trail.
    fn audit(&mut self, entry: &AuditEntry) -> Result<(), Self::Error>;
}

/// `RequestErasure`: records the request, carries it out now if asked, and audits it.
/// Affected: the receipts erased now.
pub(super) fn request<T: ErasureTx>(tx: &mut T, r: &ErasureRequest) -> Result<Affected, T::Error> {
    tx.insert_request(r)?;
    let (action, n) = if r.execute {
        let n = tx.carry_out(&r.site, &r.id, &r.recorded_at, &r.recorded_by)?;
        ("erase", n.unwrap_or(0))
    } else {
        ("erase_pending", 0)
    };
    let detail = format!(
        "subject=(keyed hash) request={} received={} due={} receipts={n}",
        r.id, r.received_at, r.due_at
    );
    tx.audit(&AuditEntry::erasure(
        &r.recorded_at,
        &r.recorded_by,
        &r.site,
        action,
        detail,
    ))?;
    Ok(n)
}

/// `ExecuteErasure`: carries out the request if it is still pending, and records in the
/// audit trail what happened. The inner `Err` is the job's own answer (no such request, or
/// done already), committed with its audit entry.
pub(super) fn execute<T: ErasureTx>(
    tx: &mut T,
    site: &str,
    id: &str,
    at: &str,
    by: &str,
) -> Result<Result<Affected, StoreError>, T::Error> {
    let Some(done) = tx.request_state(site, id)? else {
        return Ok(Err(StoreError::NoErasureRequest {
            site: site.to_owned(),
            id: id.to_owned(),
        }));
    };
    if let Some((done_at, done_by)) = done {
        let detail = format!("request={id} already done at {done_at} by {done_by}");
        tx.audit(&AuditEntry::erasure(at, by, site, "erase_execute", detail))?;
        return Ok(Err(StoreError::ErasureDone {
            id: id.to_owned(),
            done_at,
            done_by,
        }));
    }
    let n = tx.carry_out(site, id, at, by)?.unwrap_or(0);
    let detail = format!("request={id} receipts={n}");
    tx.audit(&AuditEntry::erasure(at, by, site, "erase_execute", detail))?;
    Ok(Ok(n))
}

/// `ExecuteDueErasures`: carries out every pending request due before `before`, each audited
/// by [`BY_DEADLINE`]. Affected: the requests carried out.
pub(super) fn execute_due<T: ErasureTx>(
    tx: &mut T,
    before: &str,
    at: &str,
) -> Result<Affected, T::Error> {
    let due = tx.due(before)?;
    for (id, site, due_at) in &due {
        let n = tx.carry_out(site, id, at, BY_DEADLINE)?.unwrap_or(0);
        let detail = format!("request={id} due={due_at} receipts={n}");
        tx.audit(&AuditEntry::erasure(
            at,
            BY_DEADLINE,
            site,
            "erase_due",
            detail,
        ))?;
    }
    Ok(due.len() as u64)
}
