SET lock_timeout = '2s';

-- A record is what a department pushed (wallet.pushes), so it always names that department: the wallet shows
-- who stated it, and a record without one could not be shown. Added NOT VALID; 0016 checks the rows there are.
ALTER TABLE wallet_item ADD CONSTRAINT wallet_item_record_department_check
    CHECK (kind <> 'record' OR department_id IS NOT NULL) NOT VALID;
