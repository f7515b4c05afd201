-- `epoch` names the history a resume position belongs to: it changes whenever the run's stored
-- history could have been rewritten (a restored backup, a rebuilt database), so a client never
-- replays events from one history onto state folded from another.
ALTER TABLE runs ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
UPDATE runs SET epoch = lower(hex(randomblob(6)));
-- A checkpoint of the folded run state (as of the `seq` inside it): loading a run folds only the
-- events after it, and a finished run (checkpointed at its last event) is not refolded at all.
ALTER TABLE runs ADD COLUMN state TEXT;
