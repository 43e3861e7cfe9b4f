SET lock_timeout = '2s';

-- The hourly auth.prune_refresh_tokens sweep deletes tokens past their expiry in
-- batches: without this index every batch would read the whole table.
CREATE INDEX auth_refresh_token_expires_at_idx ON auth_refresh_token (expires_at);
