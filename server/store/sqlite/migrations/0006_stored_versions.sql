-- Each denial version is stored as an entry of SyncDenialsResponse.changes (the serialized Denial
-- as a length-delimited field 1) instead of the bare Denial, so that SyncDenials reads a page of
-- versions as one value. stored_version() is the store's own encoder, registered before migrating.
UPDATE denial_versions SET record = stored_version(record);
