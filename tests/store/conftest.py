"""Store tests: a migrated app database on both backends (see the `db_url` fixture)."""

import pytest

from store.db import make_engine, upgrade


@pytest.fixture
def engine(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
