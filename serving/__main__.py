"""`python -m serving`: print docs/API.md's table of what each operation answers, from the spec."""

from serving.app import create_app
from serving.openapi import status_table

print(status_table(create_app().openapi()))
