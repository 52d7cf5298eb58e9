-- The PostgreSQL store's schema, migration 1: the Rust host (host/src/store/postgres.rs) and the
-- packages' PostgreSQL stores (packages/typescript, packages/python) all apply these files, so
-- they share one database. The table mcp_tasks_schema counts the migrations applied.
CREATE TABLE mcp_tasks (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    lease_until BIGINT,
    version     BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX mcp_tasks_by_owner ON mcp_tasks (owner, created_at, id);
CREATE INDEX mcp_tasks_by_owner_status ON mcp_tasks (owner, status, created_at, id);
CREATE INDEX mcp_tasks_by_expiry ON mcp_tasks (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX mcp_tasks_by_lease ON mcp_tasks (lease_until) WHERE lease_until IS NOT NULL;
