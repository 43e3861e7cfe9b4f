SET lock_timeout = '2s';

-- A certificate item's token is kept once, in esign_certificate: nothing reads it from the item, and
-- its change-log entry (what the holder's devices receive) still carries it (esign/delivery.py).
-- A copy in every item was a third of what batch issuing wrote per certificate.
UPDATE wallet_item SET data = (data::jsonb - 'token')::json
WHERE certificate_id IS NOT NULL AND (data::jsonb) ? 'token';
