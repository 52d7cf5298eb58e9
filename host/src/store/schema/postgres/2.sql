-- Migration 2: 2025-11-25 HTTP sessions, kept so that any host sharing the database serves them
-- (host/src/store/sessions.rs). `state` is the component's state for the session, `seen_at`
-- when a request last named it (milliseconds since the Unix epoch), for the idle timeout.
-- (No semicolon but those that end statements: the Python package splits on them.)
CREATE TABLE mcp_sessions (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    state   TEXT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX mcp_sessions_by_seen ON mcp_sessions (seen_at);
