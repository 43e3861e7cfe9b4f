SET lock_timeout = '2s';

-- A 代办人's use of a person's authorisation — acting for them in the app, or at a window — is shown in
-- the person's access log beside the departments' reads. Such an entry names the authorisation, and a
-- department only when one was involved (a window).
ALTER TABLE wallet_access_log ADD COLUMN delegation_id uuid;
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_delegation_id_fkey
    FOREIGN KEY (delegation_id) REFERENCES delegation (id) NOT VALID;
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_delegation_id_fkey;
ALTER TABLE wallet_access_log ALTER COLUMN department_id DROP NOT NULL;
ALTER TABLE wallet_access_log DROP CONSTRAINT wallet_access_log_basis_check;
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_basis_check
    CHECK (consent_id IS NOT NULL OR task_id IS NOT NULL OR delegation_id IS NOT NULL) NOT VALID;
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_basis_check;
