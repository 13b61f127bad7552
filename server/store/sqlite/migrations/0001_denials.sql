-- Denial notifications, their versions and idempotency records.
CREATE TABLE denials (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    issuer TEXT NOT NULL,
    issuing_state TEXT NOT NULL,
    regime INTEGER NOT NULL,
    destination_country TEXT NOT NULL,
    status INTEGER NOT NULL,
    valid_until TEXT NOT NULL,
    renewed_on TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    latest_seq INTEGER NOT NULL
);
CREATE INDEX denials_by_state ON denials (issuing_state, id);
CREATE INDEX denials_by_destination ON denials (destination_country, id);

-- Every change is a new version; nothing here is updated or deleted.
CREATE TABLE denial_versions (
    seq INTEGER PRIMARY KEY,
    denial_id INTEGER NOT NULL REFERENCES denials (id),
    version INTEGER NOT NULL,
    regime INTEGER NOT NULL,
    issuer TEXT NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (denial_id, version)
);
CREATE INDEX denial_versions_by_regime ON denial_versions (regime, seq);

CREATE TABLE idempotency (
    caller TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    response BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, request_id)
) WITHOUT ROWID;
