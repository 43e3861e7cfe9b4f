SET lock_timeout = '2s';

-- A 代办人's use of a person's authorisation — acting for them in the app, or at a window — is shown in
-- the person's access log beside the departments' reads. Such an entry names the authorisation, and a
-- department only when one was involved (a window).
ALTER TABLE wallet_access_log ADD COLUMN delegation_id uuid;
-- Checked against existing rows by the next migration (VALIDATE takes no lock that stops writes).
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_delegation_id_fkey
    FOREIGN KEY (delegation_id) REFERENCES delegation (id) NOT VALID;
-- An entry of a 代办人 acting in the app involves no department. Readers of the log (AccessEntry's
-- `department`, the app's access-log screen) take it as optional from this change on.
-- squawk-ignore ban-drop-not-null
ALTER TABLE wallet_access_log ALTER COLUMN department_id DROP NOT NULL;
-- Every entry has a ground: a consent, a task, or now an authorisation. The check is replaced by a wider
-- one in the same transaction, so no row is ever without the guarantee.
-- squawk-ignore ban-drop-constraint
ALTER TABLE wallet_access_log DROP CONSTRAINT wallet_access_log_basis_check;
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_basis_check
    CHECK (consent_id IS NOT NULL OR task_id IS NOT NULL OR delegation_id IS NOT NULL) NOT VALID;
