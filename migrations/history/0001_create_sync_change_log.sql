SET lock_timeout = '2s';

-- One counter row per person. Writers bump it with UPDATE ... RETURNING inside their own
-- transaction: the row lock makes commit order equal version order, so a reader paging by
-- version never skips a commit that lands later with a smaller number.
CREATE TABLE sync_head (
    person_id   uuid PRIMARY KEY,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_change (
    person_id   uuid NOT NULL,
    version     bigint NOT NULL,
    entity      text NOT NULL,
    entity_id   uuid NOT NULL,
    op          text NOT NULL,
    data        jsonb,
    at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_change_pkey PRIMARY KEY (person_id, version),
    CONSTRAINT sync_change_op_check CHECK (op IN ('put', 'del')),
    CONSTRAINT sync_change_entity_check CHECK (entity IN ('wallet_item', 'application', 'draft', 'notification', 'consent')),
    CONSTRAINT sync_change_data_check CHECK ((op = 'put') = (data IS NOT NULL))
);

CREATE INDEX sync_change_entity_idx ON sync_change (person_id, entity, entity_id, version DESC);
