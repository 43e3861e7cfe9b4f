SET lock_timeout = '2s';

-- Migration 0038 dropped these keys for batch issuing's speed. In a system of record a wallet item
-- names a person and a certificate that exist, and the database should say so, not only the code that
-- writes it; so they are back. Their cost, measured with bench/issue.py (a wallet item per
-- certificate) alternated without and with them in one sitting: about 7 µs of PostgreSQL CPU per
-- certificate (49 → 56 µs, some 4 % of all the CPU a certificate takes) and no loss of throughput the
-- machine's swing could show (docs/performance.md). A certificate's item has no department_id (only
-- a department's pushed record has), so that key costs the certificate path nothing; the other two
-- check rows the same transaction has just written. The notifications' keys (0036) stay dropped:
-- restored, they cost the dispatcher about a fifth of its PostgreSQL time (docs/performance.md).
-- NOT VALID: every row written from now on is checked, without a scan holding the table meanwhile;
-- rows written while the keys were away are not (VALIDATE CONSTRAINT each once they are known whole).
ALTER TABLE wallet_item
    ADD CONSTRAINT wallet_item_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id) NOT VALID,
    ADD CONSTRAINT wallet_item_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES esign_certificate (id)
        NOT VALID,
    ADD CONSTRAINT wallet_item_department_id_fkey FOREIGN KEY (department_id) REFERENCES department (id) NOT VALID;
