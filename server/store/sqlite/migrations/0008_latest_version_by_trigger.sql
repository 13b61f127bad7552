-- A denial's latest version is set by SQLite as the version is inserted, with no statement of
-- its own from the writer. (Versions are only ever inserted, in increasing seq.)
CREATE TRIGGER denial_version_added AFTER INSERT ON denial_versions BEGIN UPDATE denials SET latest_seq = NEW.seq WHERE id = NEW.denial_id; END;
