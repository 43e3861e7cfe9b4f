SET lock_timeout = '2s';

-- The check 0015 added NOT VALID, checked against the rows there were: without a lock that stops writes.
ALTER TABLE wallet_item VALIDATE CONSTRAINT wallet_item_record_department_check;
