SET lock_timeout = '2s';

-- Per account: which outside channels it wants, and quiet hours in China time (from may be later
-- than to: 22:00-07:00 spans midnight). No row means both channels on and no quiet hours.
CREATE TABLE notify_preference (
    account_id  uuid NOT NULL,
    wechat      boolean NOT NULL,
    sms         boolean NOT NULL,
    quiet_from  time,
    quiet_to    time,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT notify_preference_pkey PRIMARY KEY (account_id),
    CONSTRAINT notify_preference_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT notify_preference_quiet_hours_check CHECK ((quiet_from IS NULL) = (quiet_to IS NULL))
);

-- What wx.requestSubscribeMessage returned, per account and template: one-time acceptances add a
-- credit that one message spends; a long-term grant is kept. WeChat's 43101 (the user refused)
-- clears both and records the opt-out until the user accepts again.
CREATE TABLE notify_wechat_grant (
    account_id     uuid NOT NULL,
    template_key   text NOT NULL,
    credits        integer NOT NULL DEFAULT 0,
    long_term      boolean NOT NULL DEFAULT false,
    opted_out_at   timestamptz,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT notify_wechat_grant_pkey PRIMARY KEY (account_id, template_key),
    CONSTRAINT notify_wechat_grant_account_id_fkey FOREIGN KEY (account_id) REFERENCES auth_account (id),
    CONSTRAINT notify_wechat_grant_credits_check CHECK (credits >= 0)
);
