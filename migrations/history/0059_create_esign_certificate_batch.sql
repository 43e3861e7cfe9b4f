SET lock_timeout = '2s';

-- Batch issuing as a job (esign/batches.py): POST /v1/dept/certificates:batch stores the request
-- here and answers 202; a worker claims the batch (state running, claim and lease_until, renewed
-- while it works; a worker killed mid-batch lets the lease run out and another takes the batch up
-- again) and issues it chunk by chunk. The items hold holders' ID numbers and names, so they are
-- stored sealed (AES-GCM under the master key, context "esign_certificate_batch.items") and
-- dropped once the batch has finished. The counts move with each chunk, in its transaction.
CREATE TABLE esign_certificate_batch (
    id              uuid PRIMARY KEY,
    department_id   uuid NOT NULL
        CONSTRAINT esign_certificate_batch_department_fkey REFERENCES department (id),
    actor           text NOT NULL,
    state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total           integer NOT NULL CHECK (total > 0),
    issued          integer NOT NULL DEFAULT 0,
    existing        integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    items           bytea,
    route           text NOT NULL,
    client_address  text,
    attempts        integer NOT NULL DEFAULT 0,
    claim           uuid,
    lease_until     timestamptz,
    error           json,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    CONSTRAINT esign_certificate_batch_finished_check CHECK ((state IN ('done', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX esign_certificate_batch_department_idx ON esign_certificate_batch (department_id, id);
-- What the workers poll: the few batches not finished.
CREATE INDEX esign_certificate_batch_open_idx ON esign_certificate_batch (created_at)
    WHERE state IN ('queued', 'running');

-- One row per item once it is settled, written in the transaction that settles it (the chunk that
-- issues it, or the one-by-one retry), so a batch taken up again skips exactly what was done.
-- error: the problem document a single request would have received.
CREATE TABLE esign_certificate_batch_result (
    batch_id        uuid NOT NULL
        CONSTRAINT esign_certificate_batch_result_batch_fkey REFERENCES esign_certificate_batch (id) ON DELETE CASCADE,
    index           integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('issued', 'existing', 'failed')),
    certificate_id  uuid,
    error           json,
    PRIMARY KEY (batch_id, index)
);
