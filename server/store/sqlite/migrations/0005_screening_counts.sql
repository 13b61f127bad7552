-- How many denials hold each blocking token, kept up to date as tokens come and go, so
-- that screening weighs and skips tokens without counting their postings.
CREATE TABLE denial_token_counts (
    token TEXT PRIMARY KEY,
    denials INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO denial_token_counts (token, denials)
SELECT token, COUNT(*) FROM denial_tokens GROUP BY token;

CREATE TRIGGER denial_token_added AFTER INSERT ON denial_tokens BEGIN INSERT INTO denial_token_counts (token, denials) VALUES (NEW.token, 1) ON CONFLICT (token) DO UPDATE SET denials = denials + 1; END;

CREATE TRIGGER denial_token_removed AFTER DELETE ON denial_tokens BEGIN UPDATE denial_token_counts SET denials = denials - 1 WHERE token = OLD.token; END;
