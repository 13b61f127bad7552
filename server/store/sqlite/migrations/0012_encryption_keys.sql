-- The encryption keys participants publish, in the order published. Each row holds the
-- PublishedKey as served (the signed envelope, signer, time and log entry); the columns beside
-- it only find it. A participant's current key is its latest, up to its not_after.
CREATE TABLE encryption_keys (
    seq INTEGER PRIMARY KEY,
    participant TEXT NOT NULL,
    key_id TEXT NOT NULL,
    not_after TEXT NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (participant, key_id)
);

CREATE INDEX encryption_keys_by_participant ON encryption_keys (participant, seq);

-- The issuer index of the withdrawn migration 11, which stores it was applied to still carry:
-- it cost every commit more pages than it saved.
DROP INDEX IF EXISTS denial_versions_by_issuer;
