SET lock_timeout = '2s';

-- No query looks certificates up by holder: a holder's certificates are reached through their wallet
-- items (wallet_item_person_id_at_idx), and the jobs that read certificates go by creation time or by
-- end of validity. Every issued certificate still paid for an entry here.
DROP INDEX IF EXISTS esign_certificate_person_id_idx;
