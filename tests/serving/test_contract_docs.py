"""docs/API.md's table of what each operation answers is the served spec's, not a copy
that drifts."""

import re
from pathlib import Path

from serving.app import create_app
from serving.openapi import status_table
from tx.settings import load_settings
from cli.stores import setup_app_database

API_MD = Path(__file__).parents[2] / "docs" / "API.md"


def test_the_documented_statuses_are_the_spec():
    settings = load_settings()
    setup_app_database(settings)
    documented = re.search(r"<!-- statuses:begin -->\n(.*?)\n<!-- statuses:end -->", API_MD.read_text(), re.S).group(1)
    assert documented == status_table(create_app(settings).openapi()), "run `python -m serving` and paste its table into docs/API.md"
