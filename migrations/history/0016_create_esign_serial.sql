SET lock_timeout = '2s';

-- Licence serials (证照标识 serial part), counted per certificate type, issuing department and
-- year: the serial is the year and the count, "2026" + "0000001".
CREATE TABLE esign_serial (
    type_code      text NOT NULL,
    department_id  uuid NOT NULL,
    year           integer NOT NULL,
    last_serial    bigint NOT NULL,
    CONSTRAINT esign_serial_pkey PRIMARY KEY (type_code, department_id, year)
);
