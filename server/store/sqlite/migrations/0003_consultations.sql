-- Consultations: one row per consultation; its record carries every signed step, oldest first.
CREATE TABLE consultations (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    requester TEXT NOT NULL,
    responder TEXT NOT NULL,
    regime INTEGER NOT NULL,
    state INTEGER NOT NULL,
    answer_deadline TEXT NOT NULL,
    opened_on TEXT NOT NULL,
    decision INTEGER NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX consultations_by_requester ON consultations (requester, id);
CREATE INDEX consultations_by_responder ON consultations (responder, id);

-- Who was notified of a decision (a grant despite a denial).
CREATE TABLE consultation_notified (
    participant TEXT NOT NULL,
    consultation_id INTEGER NOT NULL REFERENCES consultations (id),
    PRIMARY KEY (participant, consultation_id)
) WITHOUT ROWID;
