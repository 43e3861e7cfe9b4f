SET lock_timeout = '2s';

-- The constraints 0007 added NOT VALID, checked against the rows there were: without a lock that stops writes.
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_delegation_id_fkey;
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_basis_check;
