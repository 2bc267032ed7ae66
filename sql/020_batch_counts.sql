-- 020_batch_counts.sql — what a batch counts when capacity is short (issue 10 §4).
--
-- With the standard weights a batch counts households: when persons' capacity is short, two
-- single adults are placed before a family of four. The kommuntal of the Settlement Act is a
-- number of persons, and a cooperation that wants its batches to serve that figure counts
-- persons instead: the engine's `placed_person` weight (FORMAT.md) then carries what `placed`
-- carried, once per member (ReceptionKit's BatchCounting holds the two sets of weights).
--
-- One setting for the cooperation, like its time zone: set by the schema owner (`reception db
-- counts persons`), read by everyone; a batch records in its summary what it counted.

ALTER TABLE reception_settings
    ADD COLUMN counts text NOT NULL DEFAULT 'households'
        CONSTRAINT reception_settings_counts CHECK (counts IN ('households', 'persons'));

COMMENT ON COLUMN reception_settings.counts IS
    'What a batch counts when capacity is short: households (the standard weights) or persons (placed_person).';
