"""The promotion gate: a new `tx-fused` version becomes `champion` only through it.

Policy (`decide`, pure): a version is promoted when its purged walk-forward AUC (`wf_auc`)
exceeds the threshold AND is not worse than the current champion's AUC on the same
evaluation window. An admin may force a promotion; it is recorded as forced. Every
decision — promoted or not — is written on the model version as `tx.gate.*` tags (read
back, typed, by `recorded`), and each candidate first gets the `challenger` alias.

Scoring the champion on the candidate's window is the caller's job (the training
pipeline has the data): it passes the champion's AUC and the candidate's on the same
samples (those the champion never trained on); without them, a champion evaluated on
another window blocks the promotion with a reason that says so.
"""

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from training.recorder import CHALLENGER, CHAMPION, Recorder, Version

WF_AUC = "wf_auc"
WINDOW_TAG = "tx.eval_window"  # the evaluation window a run's wf_auc was measured on
DEFAULT_THRESHOLD = 0.6
GATE_TAG = "tx.gate."  # prefix of the tags a decision is recorded in on its model version


@dataclass(frozen=True)
class Decision:
    name: str
    version: str
    promoted: bool
    reason: str
    wf_auc: float | None
    threshold: float
    champion_version: str | None
    champion_auc: float | None
    forced: bool
    decided_at: str
    compared_auc: float | None = None  # the candidate's AUC on the champion's comparison samples, if not its wf_auc

    def record(self) -> dict[str, str]:
        """The decision as the gate records it (tag name after `tx.gate.` -> text; None as "")."""
        return {key: "" if value is None else str(value) for key, value in asdict(self).items() if key not in ("name", "version")}


def recorded(version: Version) -> Decision | None:
    """The gate's decision recorded on `version`, typed; None for a version never gated."""
    tags = {k.removeprefix(GATE_TAG): v for k, v in version.tags.items() if k.startswith(GATE_TAG)}
    if "promoted" not in tags:
        return None

    def number(key: str) -> float | None:
        return float(tags[key]) if tags.get(key) else None

    return Decision(version.name, version.version, tags["promoted"] == "True", tags.get("reason", ""), number("wf_auc"),
                    number("threshold"), tags.get("champion_version") or None, number("champion_auc"),
                    tags.get("forced") == "True", tags.get("decided_at", ""), number("compared_auc"))


def decide(auc: float | None, threshold: float, champion_auc: float | None, *, force: bool = False,
           actor: str | None = None, compared_auc: float | None = None) -> tuple[bool, str]:
    """(promote?, why) — the whole policy, free of MLflow. `compared_auc` is the candidate's
    AUC on the samples `champion_auc` was measured on, when that is not its whole window."""
    if force:
        return True, f"forced by {actor or 'an admin'} (wf_auc {_fmt(auc)}, threshold {threshold})"
    if auc is None:
        return False, f"the run has no {WF_AUC} metric"
    if not auc > threshold:
        return False, f"wf_auc {auc:.4f} does not exceed the threshold {threshold}"
    mine = auc if compared_auc is None else compared_auc
    if champion_auc is not None and (math.isnan(mine) or math.isnan(champion_auc)):
        return False, "the AUC against the champion is undefined on the compared samples (one class only)"
    if champion_auc is not None and mine < champion_auc:
        return False, f"AUC {mine:.4f} is worse than the champion's {champion_auc:.4f} on the same window"
    return True, f"wf_auc {auc:.4f} exceeds {threshold}" + (f" and AUC {mine:.4f} is not worse than the champion's {champion_auc:.4f}" if champion_auc is not None else " (no champion yet)")


def gate(
    recorder: Recorder,
    name: str,
    version: str | int,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    champion_auc_on_window: float | None = None,
    candidate_auc_on_window: float | None = None,
    comparison: str | None = None,
    force: bool = False,
    actor: str | None = None,
) -> Decision:
    """Run the gate for `version` of `name`, move the aliases, record the decision.
    `comparison` says why no champion figure was passed, when that blocks the promotion."""
    version = str(version)  # an int from SQLite stores, a str over REST
    candidate = recorder.version(name, version)
    run = recorder.read_run(candidate.run_id)
    auc, window = run.metrics.get(WF_AUC), run.tags.get(WINDOW_TAG)
    recorder.set_alias(name, CHALLENGER, version)

    champion = recorder.champion(name)
    champion_version = champion_auc = None
    blocked = None
    if champion is not None and champion.version != version:
        champion_version = champion.version
        champion_run = recorder.read_run(champion.run_id)
        if champion_auc_on_window is not None:
            champion_auc = champion_auc_on_window
        elif champion_run.tags.get(WINDOW_TAG) == window:
            champion_auc = champion_run.metrics.get(WF_AUC)
        else:
            blocked = (f"not compared with the champion (version {champion_version}): {comparison}" if comparison else
                       f"the champion (version {champion_version}) was evaluated on another window "
                       f"({champion_run.tags.get(WINDOW_TAG)} vs {window}); score it on this one first")
    if blocked and not force:
        promoted, reason = False, blocked
    else:
        compared = candidate_auc_on_window if champion_auc_on_window is not None else None
        promoted, reason = decide(auc, threshold, champion_auc, force=force, actor=actor, compared_auc=compared)
    if promoted:
        recorder.set_alias(name, CHAMPION, version)
    decision = Decision(name, version, promoted, reason, auc, threshold, champion_version, champion_auc, force,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                        candidate_auc_on_window if champion_auc_on_window is not None else None)
    recorder.set_version_tags(name, version, {GATE_TAG + key: value for key, value in decision.record().items()})
    return decision


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def no_champion_reason(recorder: Recorder, name: str) -> str:
    """Why `name` has no champion, in one line a client may read: nothing registered yet, the
    newest version awaiting the gate, or the gate's recorded reason for refusing it."""
    newest = recorder.newest(name)
    if newest is None:
        return f"no version of {name} is {CHAMPION} yet: none is registered; the training pipeline registers one and the gate decides"
    decision = recorded(newest)
    if decision is None:
        return f"no version of {name} is {CHAMPION} yet: v{newest.version} awaits the gate"
    return f"no version of {name} is {CHAMPION} yet: the gate did not promote v{newest.version}: {decision.reason}"


# --- the RL agent: the same gate (challenger first, champion when promoted, tx.gate.* tags) on a trading criterion

RL_SHARPE, RL_TSTAT, RL_BASELINE_SHARPE = "rl_sharpe", "rl_sharpe_tstat", "fused_threshold_sharpe"  # metrics of a tx-rl run (trading/rl.py)
RL_MIN_TSTAT = 2.0  # about 2.3 % one-sided: a policy without skill passes about once in 40 evaluations
RL_RULE = (f"promoted when the stitched out-of-sample Sharpe after costs (rl_sharpe) is significantly > 0 (its t-statistic, "
           f"rl_sharpe_tstat = mean per-bar return / its standard error, >= {RL_MIN_TSTAT:g}) AND > the fused-threshold strategy's "
           "Sharpe on the same windows (fused_threshold_sharpe; a strategy that never trades counts as 0)")


@dataclass(frozen=True)
class RlDecision:
    name: str
    version: str
    promoted: bool
    reason: str
    rl_sharpe: float | None
    rl_sharpe_tstat: float | None
    baseline_sharpe: float | None
    rule: str
    champion_version: str | None  # the champion it would replace (recorded, not compared: the rule is absolute)
    forced: bool
    decided_at: str

    def record(self) -> dict[str, str]:
        return {key: "" if value is None else str(value) for key, value in asdict(self).items() if key not in ("name", "version")}


def decide_rl(sharpe: float | None, baseline: float | None, tstat: float | None = None, *, force: bool = False,
              actor: str | None = None) -> tuple[bool, str]:
    """(promote?, why) for an RL policy: RL_RULE, free of MLflow."""
    if force:
        return True, f"forced by {actor or 'an admin'} (Sharpe {_fmt(sharpe)}, fused-threshold {_fmt(baseline)})"
    if sharpe is None or math.isnan(sharpe):
        return False, "the agent's out-of-sample Sharpe is undefined (it never traded, or the run has no rl_sharpe)"
    bar = 0.0 if baseline is None or math.isnan(baseline) else baseline
    if not sharpe > 0:
        return False, f"out-of-sample Sharpe after costs {sharpe:.4f} is not > 0"
    if tstat is None or math.isnan(tstat) or not tstat >= RL_MIN_TSTAT:
        return False, (f"out-of-sample Sharpe after costs {sharpe:.4f} is not significantly > 0 (t-statistic {_fmt(tstat)} "
                       f"< {RL_MIN_TSTAT:g})")
    if not sharpe > bar:
        return False, f"out-of-sample Sharpe after costs {sharpe:.4f} is not > the fused-threshold strategy's {bar:.4f} on the same windows"
    return True, (f"out-of-sample Sharpe after costs {sharpe:.4f} significantly > 0 (t {tstat:.2f}) and > the fused-threshold "
                  f"strategy's {bar:.4f} on the same windows")


def gate_rl(recorder: Recorder, name: str, version: str | int, *, force: bool = False, actor: str | None = None) -> RlDecision:
    """Run the RL gate for `version` of `name` (the figures read from its run), move the
    aliases as `gate` does, record the decision as `tx.gate.*` tags on the version."""
    version = str(version)
    run = recorder.read_run(recorder.version(name, version).run_id)
    sharpe, baseline, tstat = run.metrics.get(RL_SHARPE), run.metrics.get(RL_BASELINE_SHARPE), run.metrics.get(RL_TSTAT)
    recorder.set_alias(name, CHALLENGER, version)
    champion = recorder.champion(name)
    promoted, reason = decide_rl(sharpe, baseline, tstat, force=force, actor=actor)
    if promoted:
        recorder.set_alias(name, CHAMPION, version)
    decision = RlDecision(name, version, promoted, reason, sharpe, tstat, baseline, RL_RULE,
                          champion.version if champion is not None and champion.version != version else None, force,
                          datetime.now(UTC).isoformat(timespec="seconds"))
    recorder.set_version_tags(name, version, {GATE_TAG + key: value for key, value in decision.record().items()})
    return decision
