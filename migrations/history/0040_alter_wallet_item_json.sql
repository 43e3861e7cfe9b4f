SET lock_timeout = '2s';

-- A wallet item's summary and data are written whole (thousands a second in batch issuing) and read
-- whole: json keeps the text as written, where jsonb parsed it on every insert and printed it again
-- on every read. The one update that merges keys into them (a certificate's status) goes through
-- jsonb for that statement (api/wallet/store.py).
ALTER TABLE wallet_item ALTER COLUMN summary DROP DEFAULT, ALTER COLUMN data DROP DEFAULT;
ALTER TABLE wallet_item ALTER COLUMN summary TYPE json USING summary::json,
                        ALTER COLUMN data TYPE json USING data::json;
ALTER TABLE wallet_item ALTER COLUMN summary SET DEFAULT '{}', ALTER COLUMN data SET DEFAULT '{}';
