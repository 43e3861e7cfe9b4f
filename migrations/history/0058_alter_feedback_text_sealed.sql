SET lock_timeout = '2s';

-- What citizens write in their own words (找茬 feedback, a rating's comment) is personal data: from now
-- on it is stored sealed (AES-GCM under the master key, like ID numbers) in *_sealed, and the clear
-- columns stay empty. Rows written before keep their clear column, with the ID numbers and mobile
-- numbers in it masked here (the key is not at hand in SQL).
ALTER TABLE feedback ADD COLUMN text_sealed bytea;
ALTER TABLE feedback ALTER COLUMN text DROP NOT NULL;
ALTER TABLE feedback
    ADD CONSTRAINT feedback_text_check CHECK (text IS NOT NULL OR text_sealed IS NOT NULL) NOT VALID;
ALTER TABLE evaluation ADD COLUMN comment_sealed bytea;

UPDATE feedback SET text = regexp_replace(
    regexp_replace(text, '(^|[^0-9A-Za-z])([1-9][0-9]{2})[0-9]{8,11}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])', '\1\2***********\3', 'g'),
    '(^|[^0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])', '\1\2****\3', 'g')
WHERE text ~ '[0-9]{11}';
UPDATE evaluation SET comment = regexp_replace(
    regexp_replace(comment, '(^|[^0-9A-Za-z])([1-9][0-9]{2})[0-9]{8,11}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])', '\1\2***********\3', 'g'),
    '(^|[^0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])', '\1\2****\3', 'g')
WHERE comment ~ '[0-9]{11}';
