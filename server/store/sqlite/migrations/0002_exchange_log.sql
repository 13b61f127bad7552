-- The exchange log: entries (the leaf data), the stored Merkle subtree hashes and the signed
-- checkpoints. Append-only.
CREATE TABLE log_entries (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX log_entries_by_actor ON log_entries (actor, idx);
CREATE INDEX log_entries_by_time ON log_entries (recorded_at, idx);

CREATE TABLE log_objects (
    object_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (object_id, idx)
) WITHOUT ROWID;

CREATE TABLE log_parties (
    party TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (party, idx)
) WITHOUT ROWID;
CREATE INDEX log_parties_by_idx ON log_parties (idx);

-- Root of the perfect subtree at (level, index), keyed as level << 40 | index.
CREATE TABLE log_nodes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

CREATE TABLE checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
