-- The file store's schema, migration 1: the Rust host (host/src/store/sqlite.rs) and the
-- packages' SQLite stores (packages/typescript, packages/python) all apply these files, so they
-- share one file. `PRAGMA user_version` counts the migrations applied.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    lease_until INTEGER,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX tasks_by_owner ON tasks (owner, created_at, id);
CREATE INDEX tasks_by_owner_status ON tasks (owner, status, created_at, id);
CREATE INDEX tasks_by_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX tasks_by_lease ON tasks (lease_until) WHERE lease_until IS NOT NULL;
