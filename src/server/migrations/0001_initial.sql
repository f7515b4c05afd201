-- The foundation's schema. `IF NOT EXISTS` lets this first migration adopt a database created
-- before migrations were tracked.
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT,
    name TEXT NOT NULL,
    graph TEXT NOT NULL,
    executor INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events(run_id, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS logs (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    n INTEGER NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, step, n)
) WITHOUT ROWID;
