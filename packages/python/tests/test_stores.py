"""Every store of the package keeps the contract the Rust stores keep: conformance/store.json."""

import itertools

import pytest
from conftest import postgres_url
from store import check_store, fixture

from mcp_tasks import MemoryStore, PostgresStore, SqliteStore, StoreError, Task, Tasks
from mcp_tasks.component import InputRequest


def test_the_memory_store_passes_the_store_cases():
    cases, steps = check_store(MemoryStore, Task, InputRequest, StoreError)
    assert cases > 0 and steps > cases


def test_the_sqlite_store_passes_the_store_cases(tmp_path):
    n = itertools.count()
    cases, _ = check_store(lambda: SqliteStore(str(tmp_path / f"case-{next(n)}.db")), Task, InputRequest, StoreError)
    assert next(n) == cases


def test_the_postgres_store_passes_the_store_cases():
    urls = iter([postgres_url() for _ in fixture["cases"]])
    cases, _ = check_store(lambda: PostgresStore(next(urls)), Task, InputRequest, StoreError)
    assert cases == len(fixture["cases"])


def test_a_bad_store_url_is_a_clear_error_at_start():
    with pytest.raises(ValueError, match="unknown store 'carrier-pigeon://coop': use memory:, file:PATH or postgres://"):
        Tasks("carrier-pigeon://coop")
    with pytest.raises(ValueError, match="a file: store names its file"):
        Tasks("file:")
    with pytest.raises(ValueError, match="cannot open the store file /no/such/dir/tasks.db"):
        Tasks("file:/no/such/dir/tasks.db")
    with pytest.raises(ValueError, match=r"cannot open the store postgres://nobody:\*\*\*@127.0.0.1:1/test"):
        Tasks("postgres://nobody:secret@127.0.0.1:1/test")
