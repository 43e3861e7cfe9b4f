SET lock_timeout = '2s';

-- Departments may read a blob when an application they handle names it in its materials
-- (`[{"code": …, "blob_sha256": …}]`); the containment test uses this index instead of scanning
-- every application of the department.
CREATE INDEX application_materials_idx ON application USING gin (materials jsonb_path_ops);
