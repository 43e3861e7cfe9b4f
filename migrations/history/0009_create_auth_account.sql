SET lock_timeout = '2s';

-- A login identity: a WeChat user of our mini-program, a phone number, or an operator.
-- Several accounts may prove the same identity; they then share person_id.
-- wechat_openid stays in the clear: it is a pseudonym that only means something to our appid, and
-- notifications must hand it back to WeChat as `touser`. The phone is encrypted ("auth_account.phone")
-- and found by its blind index; the WeChat session_key is encrypted and never leaves the server.
CREATE TABLE auth_account (
    id                  uuid NOT NULL,
    roles               text[] NOT NULL DEFAULT '{citizen}',
    person_id           uuid,
    assurance_level     smallint NOT NULL DEFAULT 1,
    verified_at         timestamptz,
    phone               bytea,
    phone_index         bytea,
    wechat_openid       text,
    wechat_unionid      text,
    wechat_session_key  bytea,
    created_at          timestamptz NOT NULL,
    last_login_at       timestamptz,
    CONSTRAINT auth_account_pkey PRIMARY KEY (id),
    CONSTRAINT auth_account_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id),
    CONSTRAINT auth_account_phone_index_key UNIQUE (phone_index),
    CONSTRAINT auth_account_wechat_openid_key UNIQUE (wechat_openid),
    CONSTRAINT auth_account_wechat_unionid_key UNIQUE (wechat_unionid),
    CONSTRAINT auth_account_assurance_level_check CHECK (assurance_level BETWEEN 1 AND 3),
    CONSTRAINT auth_account_roles_check CHECK (roles <@ ARRAY['citizen', 'operator']::text[])
);

CREATE INDEX auth_account_person_id_idx ON auth_account (person_id);
