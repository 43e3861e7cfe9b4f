SET lock_timeout = '2s';

-- The check 0009 added NOT VALID, checked against the rows there were: without a lock that stops writes.
ALTER TABLE sync_change VALIDATE CONSTRAINT sync_change_entity_check;
