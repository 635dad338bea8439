"""The platform's foundation: settings, errors, logs and error reporting, child processes."""

__version__ = "0.1.0"  # the one place the version lives (pyproject.toml reads it; Sentry's release names it)
