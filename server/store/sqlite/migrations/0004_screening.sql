-- Screening index: the names of each denial's latest version with their precomputed match keys,
-- and the blocking tokens that retrieve candidates without scanning every denial.
ALTER TABLE denials ADD COLUMN control_entries TEXT NOT NULL DEFAULT '';

CREATE TABLE denial_names (
    denial_id INTEGER NOT NULL REFERENCES denials (id),
    field TEXT NOT NULL,
    name TEXT NOT NULL,
    match_key TEXT NOT NULL,
    -- This name's blocking tokens, separated by U+001F: a query name is compared only with the
    -- names it shares one with.
    tokens TEXT NOT NULL
);
CREATE INDEX denial_names_by_denial ON denial_names (denial_id);

CREATE TABLE denial_tokens (
    token TEXT NOT NULL,
    denial_id INTEGER NOT NULL REFERENCES denials (id),
    PRIMARY KEY (token, denial_id)
) WITHOUT ROWID;
CREATE INDEX denial_tokens_by_denial ON denial_tokens (denial_id);
