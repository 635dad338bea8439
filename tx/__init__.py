"""The platform shell: settings, the store set-up, and the `tx` command line."""

__version__ = "0.1.0"  # the one place the version lives (pyproject.toml reads it; Sentry's release names it)
