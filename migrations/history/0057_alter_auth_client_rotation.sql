SET lock_timeout = '2s';

-- A department client's secret can be replaced (the old one stops working at once); when it last was.
ALTER TABLE auth_client ADD COLUMN secret_rotated_at timestamptz;
