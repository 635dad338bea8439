"""Errors the `tx` command line reports as one clear line and a non-zero exit."""


class TxError(Exception):
    """An expected failure: the message says what is wrong and what to do."""

    exit_code = 1


class ConfigError(TxError, ValueError):
    """A setting with a wrong value; `setting` names the variable to fix."""

    exit_code = 2

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
