SET lock_timeout = '2s';

-- When a login also passed its second factor (a TOTP code): only such a login's tokens carry staff roles.
ALTER TABLE auth_refresh_family ADD COLUMN second_factor_at timestamptz;
