-- Security: API tokens (recorded so admins can list and revoke them), browser sessions,
-- one-time sign-in links already used, and the audit trail.

-- Every API token issued, by `signalbox token create` or an admin. The token itself is never
-- stored: it is a signed JWT, identified here by its `jti`.
CREATE TABLE tokens (
    jti TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Browser sessions: the cookie holds a random secret; only its SHA-256 is stored, so a copy of
-- the database does not sign anyone in. `source` is the token (jti) the session was opened
-- with: revoking the token ends its sessions too.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_by_source ON sessions(source);

-- One-time sign-in links: a link's `jti` is recorded when it is used, and a second use fails.
CREATE TABLE used_sign_in_links (
    jti TEXT PRIMARY KEY,
    used_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Who did what, and when. Kept durably, newest first on the audit page.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    tenant TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_time ON audit(at DESC, id DESC);
