-- Whose versions a SyncDenials call returned (the parties of its exchange-log entry) is found
-- once per call through this index, a lookup per issuer, instead of by collecting the distinct
-- issuers of every page of versions it sends.
CREATE INDEX denial_versions_by_issuer ON denial_versions (issuer, regime, seq);
