-- Sensitive notices: the hub holds routing metadata and the signed statements (ciphertext and
-- key wraps), never content. Each originator statement is a step of the notice's history and a
-- change in the one ordered feed: steps and denial versions take their seq from one sequence.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    originator TEXT NOT NULL,
    originating_state TEXT NOT NULL,
    kind INTEGER NOT NULL,
    classification INTEGER NOT NULL,
    state INTEGER NOT NULL,
    version INTEGER NOT NULL,
    content_version INTEGER NOT NULL,
    review_date TEXT NOT NULL,
    latest_seq INTEGER NOT NULL
);
CREATE INDEX notices_by_state ON notices (originating_state, id);

CREATE TABLE notice_steps (
    seq INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (notice_id, version)
);

-- Who may read a notice: its recipients and those granted since (the originator reads its own).
CREATE TABLE notice_readers (
    participant TEXT NOT NULL,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    PRIMARY KEY (participant, notice_id)
) WITHOUT ROWID;

-- Recipients' signed acknowledgements (kind 1) and requests for further sharing (kind 2), each
-- about one version.
CREATE TABLE notice_replies (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    participant TEXT NOT NULL,
    kind INTEGER NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (notice_id, participant, kind, version)
);
