SET lock_timeout = '2s';

-- Tokens of format v2 (FORMATS.md "Signed tokens") key a certificate's fields by a number that is
-- stable for ever: the type registry of the trust list names each field by it. Existing fields are
-- numbered in the order the type lists them; last_field_n remembers the highest number a type ever
-- gave, so a field added later takes the next one and a removed field's number is never reused.
ALTER TABLE certificate_type ADD COLUMN last_field_n integer NOT NULL DEFAULT 0;

UPDATE certificate_type t SET
    fields = numbered.fields,
    last_field_n = numbered.last_n
FROM (
    SELECT code,
           jsonb_agg(e.f || jsonb_build_object('n', e.i) ORDER BY e.i) AS fields,
           max(e.i)::integer AS last_n
    FROM certificate_type, jsonb_array_elements(fields) WITH ORDINALITY AS e(f, i)
    GROUP BY code
) AS numbered
WHERE numbered.code = t.code;

-- The 16 random bytes mixed into each certificate's canonical record before it is hashed into the
-- token's "d" claim, so that the digest cannot confirm a guessed name or ID number behind a mask.
-- Kept with the archived certificate only, never put in a token. Certificates issued before have none.
ALTER TABLE esign_certificate ADD COLUMN record_salt bytea;
