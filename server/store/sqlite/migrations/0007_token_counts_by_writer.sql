-- The writer keeps denial_token_counts itself, with one statement per denial instead of a
-- trigger run per token.
DROP TRIGGER IF EXISTS denial_token_added;

DROP TRIGGER IF EXISTS denial_token_removed;
