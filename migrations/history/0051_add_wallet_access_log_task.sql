SET lock_timeout = '2s';

-- 免提交: a department handling a task reads the certificates and uploads of its matter's
-- materials, and each read is shown to the holder beside the reads under consents. Such a read
-- names the task (and the material) instead of a consent.
ALTER TABLE wallet_access_log ALTER COLUMN consent_id DROP NOT NULL;
ALTER TABLE wallet_access_log ADD COLUMN task_id uuid;
ALTER TABLE wallet_access_log ADD COLUMN material text;
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_task_id_fkey
    FOREIGN KEY (task_id) REFERENCES application_task (id) NOT VALID;
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_task_id_fkey;
ALTER TABLE wallet_access_log ADD CONSTRAINT wallet_access_log_basis_check
    CHECK (consent_id IS NOT NULL OR task_id IS NOT NULL) NOT VALID;
ALTER TABLE wallet_access_log VALIDATE CONSTRAINT wallet_access_log_basis_check;
