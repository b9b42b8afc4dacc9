-- Kelisim collector schema v6: withdrawal secrets and salted subject commitments (issue 13).
--
-- A receipt's reference used to be all a stranger needed to withdraw it (the payload showed
-- the browser id the withdrawal asked for), and payload v1 signed the subject's keyed hash
-- under the collector's one key, which `POST /v1/receipts` computed for any guessed phone.
-- From payload v2 on:
--
-- - `holder_sha256`: SHA-256 of the withdrawal secret the widget sent with the receipt, never
--   signed or served; `POST /v1/receipts/{id}/withdraw` asks for the secret. NULL for receipts
--   without one: every receipt stored before this migration, withdrawals, and requests that
--   sent none. Those are withdrawn by the site's admin only.
-- - `subject_salt`: the random salt of the payload's subject commitments (hex), NULL without
--   identifiers; erasure sets it to NULL, after which nobody can open the commitments again.
--
-- `browser_id` now holds the browser's pseudonym (a keyed hash, per site, of the secret the
-- widget keeps) for new receipts, 64 hex digits; v1 receipts keep the 32-hex id they signed.
-- `subject_hashes` gets per-site keyed hashes for new receipts; v1 entries stay as they were
-- and are still found (an admin search looks for both). Nothing else changes: old receipts
-- stay verifiable and auditable as they are.

ALTER TABLE receipts ADD COLUMN holder_sha256 TEXT;
ALTER TABLE receipts ADD COLUMN subject_salt TEXT;
