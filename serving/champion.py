"""The served model: `models:/tx-fused@champion`, re-read in the background and swapped whole.

Each worker process holds one `Champion`. A daemon thread polls the alias every `poll_s`
seconds; a new champion is loaded completely *before* the reference is swapped, so a
request in flight keeps the model it started with and the next one gets the new one — no
lock on the request path, no request ever sees a half-loaded model.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from training.model import FusedModel
from training.pipeline import load_version
from training.tracking import CHAMPION, FUSED_MODEL, TrackingError, champion_version, client

log = logging.getLogger("tx.serving")
NO_CHAMPION = f"no version of {FUSED_MODEL} is {CHAMPION} yet: train one and let the gate promote it"


@dataclass(frozen=True)
class Served:
    version: str
    model: FusedModel
    run_id: str
    loaded_at: str
    metrics: dict[str, float]
    tags: dict[str, str]


class NoChampion(RuntimeError):
    """No version of tx-fused is champion yet (or it cannot be loaded)."""


class Champion:
    def __init__(self, tracking_uri: str, poll_s: float = 30.0) -> None:
        self.tracking_uri, self.poll_s = tracking_uri, poll_s
        self._served: Served | None = None
        self._load_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_poll: str | None = None

    @property
    def served(self) -> Served | None:
        """The model now served, if any (for status reports; requests use `current`)."""
        return self._served

    def current(self) -> Served:
        served = self._served  # one read of the reference: the request keeps this model
        if served is None:
            raise NoChampion(self.last_error or NO_CHAMPION)
        return served

    def refresh(self) -> bool:
        """Load the champion if it moved; True when a new model was swapped in."""
        with self._load_lock:
            self.last_poll = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                mlflow_client = client(self.tracking_uri)
                version = champion_version(mlflow_client)
            except TrackingError as exc:
                self.last_error = f"MLflow unreachable: {exc}"
                return False
            if version is None:
                self.last_error = NO_CHAMPION
                return False
            current = self._served
            if current is not None and current.version == str(version.version):
                return False
            try:
                model = load_version(self.tracking_uri, str(version.version))
                run = mlflow_client.get_run(version.run_id)
            except Exception as exc:  # a broken artifact must not take the worker down: keep serving the old one
                self.last_error = f"loading {FUSED_MODEL} v{version.version} failed: {type(exc).__name__}: {exc}"
                log.error(self.last_error)
                return False
            self._served = Served(str(version.version), model, version.run_id, datetime.now(UTC).isoformat(timespec="seconds"),
                                  dict(run.data.metrics), dict(run.data.tags))
            self.last_error = None
            log.info("serving %s v%s", FUSED_MODEL, version.version)
            return True

    def start(self) -> "Champion":
        """Load now, then poll in a daemon thread (idempotent)."""
        if self._thread is None:
            self.refresh()
            self._thread = threading.Thread(target=self._poll, name="champion-poll", daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while True:
            time.sleep(self.poll_s)
            try:
                self.refresh()
            except Exception as exc:  # never let the poller die
                self.last_error = f"{type(exc).__name__}: {exc}"
