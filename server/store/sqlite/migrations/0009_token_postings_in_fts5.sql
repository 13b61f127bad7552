-- The postings of the screening index move from one b-tree keyed by (token, denial) to an FTS5
-- index: a commit adds a segment of its own postings, written in token order, and FTS5 merges
-- segments in the background. Inserting each posting into one large b-tree touched a page per
-- posting at random, so every commit rewrote hundreds of pages, more as the store grew.
-- Each denial is a row (rowid = denials.id) whose text is its blocking tokens, each written as
-- the lowercase hex of its UTF-8 bytes so that the ascii tokenizer keeps it whole. The table is
-- contentless: a denial's tokens are removed by repeating them (from denial_names.tokens).
CREATE VIRTUAL TABLE denial_token_index USING fts5 (
    tokens, content = '', columnsize = 0, detail = none, tokenize = 'ascii'
);

INSERT INTO denial_token_index (rowid, tokens)
SELECT denial_id, group_concat(lower(hex(token)), ' ') FROM denial_tokens GROUP BY denial_id;

DROP TABLE denial_tokens;
