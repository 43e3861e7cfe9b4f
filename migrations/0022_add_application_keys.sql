SET lock_timeout = '2s';

-- An application id is the client's UUID and names an application across everyone: a department, a certificate
-- issued for it (`application_id`), a rating or a window visit name it by id alone. Since 0018 the application
-- is keyed by its person (`application (for_person_id, id)`), so the id is kept unique where it is looked up, as
-- 0017 did for certificates and ID numbers: `application_key` stays on the coordinator of a cluster, one
-- primary-key read away, and says whose the application is, so a lookup by id then runs on that person's shard.
-- A submit claims the id here in its own transaction; another person's reuse of it is refused.
--
-- A task's id (made by the server) is found the same way: a department's read, claim and decision name a task
-- by id alone, and `application_task_key` says on whose rows it is.
CREATE TABLE application_key (
    id uuid NOT NULL,
    for_person_id uuid NOT NULL,
    CONSTRAINT application_key_pkey PRIMARY KEY (id)
);

-- Should two persons' applications share an id (submitted between 0018 and this migration), the first keeps it.
INSERT INTO application_key (id, for_person_id)
SELECT DISTINCT ON (id) id, for_person_id FROM application ORDER BY id, submitted_at, for_person_id;

CREATE TABLE application_task_key (
    id uuid NOT NULL,
    for_person_id uuid NOT NULL,
    CONSTRAINT application_task_key_pkey PRIMARY KEY (id)
);

INSERT INTO application_task_key (id, for_person_id)
SELECT DISTINCT ON (id) id, for_person_id FROM application_task ORDER BY id, for_person_id;
