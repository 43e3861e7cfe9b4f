SET lock_timeout = '2s';

-- Status-list slots come from one sequence: slot s is index s % 131072 of list s / 131072, so a
-- list fills before the next opens and concurrent issuers never wait on each other (a sequence
-- does not roll back: a failed issue leaves an unused slot, which stays "valid" and is named by
-- no token). It starts at 131072 so that the first list is list 1.
CREATE SEQUENCE esign_status_slot_seq AS bigint MINVALUE 0 START WITH 131072;

-- One row per status list that has slots in use. version counts status changes; the signed
-- token is a cache, current while signed_version = version and recent enough.
CREATE TABLE esign_status_list (
    id              integer NOT NULL,
    version         bigint NOT NULL DEFAULT 0,
    signed_version  bigint,
    signed_token    text,
    signed_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT esign_status_list_pkey PRIMARY KEY (id),
    CONSTRAINT esign_status_list_id_check CHECK (id > 0)
);

-- The signed trust list, cached the same way: version bumps with every change of a seal or a new
-- status list, and the list is signed again when stale or older than the re-signing interval.
CREATE TABLE esign_trust_list (
    id              boolean NOT NULL DEFAULT true,
    version         bigint NOT NULL DEFAULT 0,
    signed_version  bigint,
    signed_token    text,
    signed_at       timestamptz,
    CONSTRAINT esign_trust_list_pkey PRIMARY KEY (id),
    CONSTRAINT esign_trust_list_single_check CHECK (id)
);

INSERT INTO esign_trust_list (id, version) VALUES (true, 1);
