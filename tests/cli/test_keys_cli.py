"""`tx api-key`: keys are printed once (alone on the last line), stored hashed, revocable."""

import pytest
from sqlalchemy import select

from store.api_keys import verify_key
from store.db import make_engine
from store.models import ApiKey
from cli.main import main
from tx.settings import load_settings


def test_create_verify_and_revoke(capsys):
    assert main(["api-key", "create", "--scope", "trade", "--name", "bot"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("tx_")
    engine = make_engine(load_settings().app_database_url)
    principal = verify_key(engine, key)
    assert principal.name == "bot" and principal.allows("read") and principal.allows("trade") and not principal.allows("admin")
    with engine.connect() as conn:
        stored = conn.execute(select(ApiKey.key_hash, ApiKey.prefix)).one()
    assert key not in stored.key_hash and len(stored.key_hash) == 64  # only the hash is kept
    assert verify_key(engine, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert main(["api-key", "revoke", stored.prefix]) == 0
    assert verify_key(engine, key) is None
    assert main(["api-key", "revoke", stored.prefix]) == 2 and "no active key with prefix" in capsys.readouterr().err
    engine.dispose()


def test_bad_scope_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["api-key", "create", "--scope", "root"])
    assert exited.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err
