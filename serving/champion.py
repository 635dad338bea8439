"""The served model: `models:/tx-fused@champion`, re-read in the background and swapped whole.

Each worker process holds one `Champion` (and one for the head of the online line, the
newest version, behind /api/ml/online-*). A daemon thread polls the alias every `poll_s`
seconds; a new champion is loaded completely *before* the reference is swapped, so a
request in flight keeps the model it started with and the next one gets the new one — no
lock on the request path, no request ever sees a half-loaded model.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from training.model import FusedModel
from training.promotion import no_champion_reason
from training.recorder import CHAMPION, FUSED_MODEL, RL_MODEL, Recorder, TrackingError, Version

log = logging.getLogger("tx.serving")
NO_CHAMPION = f"no version of {FUSED_MODEL} is {CHAMPION} yet: train one and let the gate promote it"
NO_VERSION = f"no version of {FUSED_MODEL} is registered yet: train one first"
NO_RL_CHAMPION = f"no version of {RL_MODEL} is {CHAMPION} yet: train the agent (the rl_policy asset) and let the gate promote it"


@dataclass(frozen=True)
class Served:
    version: str
    model: FusedModel
    run_id: str
    loaded_at: str
    metrics: dict[str, float]
    tags: dict[str, str]
    registered_at: float | None = None  # when this version was registered (Unix seconds): the champion's age


class NoChampion(RuntimeError):
    """No version of tx-fused is champion yet (or it cannot be loaded). `public`: the message
    may go to clients as it is (the gate's reason); otherwise it may carry driver text."""

    def __init__(self, message: str, public: bool = True) -> None:
        super().__init__(message)
        self.public = public


class Champion:
    """Holds the version `resolve` names (default: the champion alias) and keeps it current."""

    def __init__(self, tracking_uri: str, poll_s: float = 30.0, resolve: Callable[[Recorder], Version | None] = Recorder.champion,
                 missing: str = NO_CHAMPION, on_swap=None, explain: Callable[[Recorder], str] | None = None, name: str = FUSED_MODEL,
                 load: Callable[[Recorder, Version], object] | None = None) -> None:
        self.tracking_uri, self.poll_s, self.resolve, self.missing, self.on_swap = tracking_uri, poll_s, resolve, missing, on_swap
        self.name = name
        self.load = load or (lambda recorder, version: recorder.load(version.version, name))
        # Why nothing resolves, asked of MLflow when nothing does (the champion: the gate's reason).
        if explain is None and resolve is Recorder.champion:
            explain = lambda recorder: no_champion_reason(recorder, FUSED_MODEL)  # noqa: E731
        self.explain = explain
        self._why_missing: str | None = None
        self._served: Served | None = None
        self._load_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.last_error: str | None = None
        self.last_poll: str | None = None

    @property
    def served(self) -> Served | None:
        """The model now served, if any (for status reports; requests use `current`)."""
        return self._served

    @property
    def why_not_served(self) -> str | None:
        """Why no model is served (None while one is): a load or MLflow error, else the reason
        nothing resolves (for the champion: the gate's)."""
        if self._served is not None:
            return None
        return self.last_error or self._why_missing or self.missing

    def current(self) -> Served:
        served = self._served  # one read of the reference: the request keeps this model
        if served is None:
            raise NoChampion(self.last_error or self._why_missing or self.missing, public=not self.last_error)
        return served

    def refresh(self) -> bool:
        """Load the champion if it moved; True when a new model was swapped in."""
        with self._load_lock:
            self.last_poll = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                recorder = Recorder(self.tracking_uri)
                version = self.resolve(recorder)
            except TrackingError as exc:
                self.last_error = f"MLflow unreachable: {exc}"
                return False
            if version is None:
                try:
                    self._why_missing = self.explain(recorder) if self.explain else None
                except TrackingError:
                    self._why_missing = None
                self.last_error = None
                return False
            current = self._served
            if current is not None and current.version == version.version:
                return False
            try:
                model = self.load(recorder, version)
                run = recorder.read_run(version.run_id)
            except Exception as exc:  # a broken artifact must not take the worker down: keep serving the old one
                self.last_error = f"loading {self.name} v{version.version} failed: {type(exc).__name__}: {exc}"
                log.error(self.last_error)
                if self.on_swap:
                    self.on_swap(None)
                return False
            self._served = Served(version.version, model, version.run_id, datetime.now(UTC).isoformat(timespec="seconds"),
                                  run.metrics, run.tags, version.registered_at)
            self.last_error = None
            log.info("serving %s v%s", self.name, version.version)
            if self.on_swap:
                self.on_swap(self._served)
            return True

    def start(self) -> "Champion":
        """Load now, then poll in a daemon thread (idempotent)."""
        if self._thread is None:
            self.refresh()
            self._thread = threading.Thread(target=self._poll, name="champion-poll", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the poller (a worker never does; a test or script that started one does)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_s + 30)

    def _poll(self) -> None:
        while not self._stopped.wait(self.poll_s):
            try:
                self.refresh()
            except Exception as exc:  # never let the poller die
                self.last_error = f"{type(exc).__name__}: {exc}"


def rl_champion(tracking_uri: str, poll_s: float = 30.0, on_swap=None) -> Champion:
    """`models:/tx-rl@champion`: the RL policy, hot-swapped like the fused model; a version whose
    files fail to load leaves the old one serving (and says why in `last_error`)."""
    from training.rl.agent import load_version  # torch and stable-baselines3: only where the agent is served

    return Champion(tracking_uri, poll_s, resolve=lambda recorder: recorder.champion(RL_MODEL), missing=NO_RL_CHAMPION,
                    on_swap=on_swap, explain=lambda recorder: no_champion_reason(recorder, RL_MODEL), name=RL_MODEL, load=load_version)


def online_head(tracking_uri: str, poll_s: float = 30.0) -> Champion:
    """The newest version: where the online line stands (served by /api/ml/online-predict)."""
    return Champion(tracking_uri, poll_s, resolve=Recorder.newest, missing=NO_VERSION)
