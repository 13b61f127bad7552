-- Idempotency records move from a table clustered on (caller, request_id) to rows in the order
-- they were recorded, with the key in an index of its own. A record carries the whole response
-- (about a kilobyte), so a few fit on a page: clustered by key, every commit rewrote and split
-- pages in the middle of the table; now its records go to the table's last pages, and only the
-- small index entries go to their places in the key order.
CREATE TABLE idempotency_records (
    id INTEGER PRIMARY KEY,
    caller TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    response BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (caller, request_id)
);

INSERT INTO idempotency_records (caller, request_id, method, request_sha256, response, created_at)
SELECT caller, request_id, method, request_sha256, response, created_at FROM idempotency
ORDER BY created_at, caller, request_id;

DROP TABLE idempotency;

ALTER TABLE idempotency_records RENAME TO idempotency;
