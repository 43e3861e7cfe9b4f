SET lock_timeout = '2s';

-- Exceptions to the Monday–Friday week: 法定节假日 (holiday) and 调休 make-up workdays.
CREATE TABLE calendar_day (
    day      date NOT NULL,
    kind     text NOT NULL,
    note     text NOT NULL DEFAULT '',
    CONSTRAINT calendar_day_pkey PRIMARY KEY (day),
    CONSTRAINT calendar_day_kind_check CHECK (kind IN ('holiday', 'workday'))
);
