"""The agent: a stable-baselines3 policy trained on `TradingEnv`, seeded and deterministic on CPU.

`RlConfig` holds every knob (the algorithm is a setting: PPO by default, A2C or DQN). A
trained `Policy` carries what serving needs to act the same way as in evaluation: the
network, the feature columns and the standardization learned on its training bars only.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.rl.env import ACTION_NAMES, ACTIONS, Costs, Market, OrderFn, Segment, TradingEnv, observation

ALGORITHMS = ("ppo", "a2c", "dqn")
# Default observation features: returns, volatility, trend and oscillators of the one feature
# path (features.indicators); few enough for a small budget to learn from.
FEATURES = ("ret_1", "ret_5", "ret_20", "rvol_20", "rsi_14", "macd_hist", "bb_pctb", "natr_14", "adx_14", "ema_dist_50")
POLICY_FILE, SPEC_FILE = "policy.zip", "spec.json"


class RlInputError(ValueError):
    """A setting or input the agent cannot work with; the message says which."""


@dataclass(frozen=True)
class RlConfig:
    algorithm: str = "ppo"
    timesteps: int = 4_096  # environment steps per walk-forward window (and for the final policy)
    n_splits: int = 4  # walk-forward test windows
    min_train_fraction: float = 0.4
    embargo_bars: int = 10
    episode_bars: int = 256
    features: tuple[str, ...] = FEATURES
    fee: float = 0.001  # the strategy backtests' costs (TX_BACKTEST_FEE / _SLIPPAGE)
    slippage: float = 0.0005
    learning_rate: float = 1e-3
    n_envs: int = 8  # environments stepped side by side (one batched forward pass for all: the rollout's speed)
    n_steps: int = 512  # PPO / A2C rollout length, over all environments
    batch_size: int = 128
    gamma: float = 0.5  # short-sighted: the reward is each bar's log-equity change; learns fastest in a small budget
    ent_coef: float = 0.01
    hidden: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise RlInputError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r} (TX_RL_ALGORITHM)")
        if self.timesteps < 1 or self.n_splits < 1 or self.episode_bars < 2 or self.n_envs < 1:
            raise RlInputError("timesteps >= 1, n_splits >= 1, episode_bars >= 2 and n_envs >= 1 are required")
        if not self.features:
            raise RlInputError("the agent needs at least one feature column")

    def costs(self, order: OrderFn) -> Costs:
        """These costs with the engine's order step (trading.backtest.fill_order)."""
        return Costs(order, self.fee, self.slippage)

    def params(self) -> dict:
        return {f"rl_{k}": (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Scaler:
    """Feature standardization fitted on training bars only (NaN -> 0 after scaling), and the
    fused probability's spread there: its root-mean-square distance from 0.5, so that a
    calibrated but timid probability (0.47..0.53) reaches the network as clearly as a bold one."""

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    spread: float = 0.5  # 0.5: the probability enters as 2 (p - 0.5), as policies saved before the spread did

    @classmethod
    def fit(cls, frames: list[pd.DataFrame], columns: tuple[str, ...], probabilities: list[pd.Series] | None = None) -> "Scaler":
        missing = [c for c in columns if c not in frames[0].columns]
        if missing:
            raise RlInputError(f"feature columns not in the feature frame: {missing}")
        X = pd.concat([f[list(columns)] for f in frames]).to_numpy(dtype="float64")
        mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        spread = 0.5
        if probabilities:
            p = pd.concat(probabilities).to_numpy(dtype="float64")
            p = p[np.isfinite(p)]
            if len(p) and (rms := float(np.sqrt(np.mean((p - 0.5) ** 2)))) > 1e-6:
                spread = rms
        return cls(tuple(columns), tuple(map(float, mean)), tuple(map(float, std)), spread)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        X = (frame[list(self.columns)].to_numpy(dtype="float64") - np.array(self.mean)) / np.array(self.std)
        return np.clip(np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0), -5, 5).astype(np.float32)


def market_of(scaler: Scaler, symbol: str, timeframe: str, candles: pd.DataFrame, features: pd.DataFrame,
              probability: pd.Series) -> Market:
    """A series as an agent with this scaler observes it."""
    return Market(symbol, timeframe, candles.index, candles["open"].to_numpy("float64"), candles["close"].to_numpy("float64"),
                  scaler.transform(features), probability.reindex(candles.index).to_numpy("float64"), scaler.spread)


@dataclass
class Action:
    """One decision: the action, its target position, the policy's probabilities and value."""

    action: str
    target: float
    probabilities: dict[str, float]
    value: float


@dataclass
class Policy:
    """A trained agent with its observation spec; acts greedily (the most probable action)."""

    model: object  # a stable-baselines3 algorithm
    scaler: Scaler
    config: RlConfig
    trained_on: dict = field(default_factory=dict)  # span and series of its training bars
    curve: list[tuple[int, float]] = field(default_factory=list)  # (timestep, mean episode reward) while learning
    seconds: float = 0.0
    steps: int = 0  # env steps it learned from (PPO and A2C round the budget up to whole rollouts)

    def market(self, symbol: str, timeframe: str, candles: pd.DataFrame, features: pd.DataFrame, probability: pd.Series) -> Market:
        """The series as this policy observes it (features standardized with its own scaler)."""
        return market_of(self.scaler, symbol, timeframe, candles, features, probability)

    def act(self, obs: np.ndarray) -> Action:
        import torch

        policy = self.model.policy
        with torch.no_grad():
            tensor = policy.obs_to_tensor(obs[None, :])[0]
            if hasattr(policy, "get_distribution"):  # actor-critic (PPO, A2C)
                probs = policy.get_distribution(tensor).distribution.probs[0].cpu().numpy()
                value = float(policy.predict_values(tensor)[0, 0])
            else:  # DQN: q-values, a softmax of them as the preference
                q = policy.q_net(tensor)[0].cpu().numpy()
                probs = np.exp(q - q.max()) / np.exp(q - q.max()).sum()
                value = float(q.max())
        k = int(np.argmax(probs))
        return Action(ACTION_NAMES[k], ACTIONS[k], {n: float(p) for n, p in zip(ACTION_NAMES, probs, strict=True)}, value)

    def greedy(self, obs: np.ndarray) -> int:
        action, _ = self.model.predict(obs, deterministic=True)
        return int(action)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / POLICY_FILE)
        (folder / SPEC_FILE).write_text(json.dumps({"scaler": asdict(self.scaler), "config": asdict(self.config),
                                                    "trained_on": self.trained_on}, indent=1, default=str))

    @classmethod
    def load(cls, folder: Path) -> "Policy":
        """A saved policy (RlInputError naming the file when it cannot be read)."""
        try:
            spec = json.loads((Path(folder) / SPEC_FILE).read_text())
            config = RlConfig(**{k: tuple(v) if k == "features" else v for k, v in spec["config"].items()})
            scaler = Scaler(tuple(spec["scaler"]["columns"]), tuple(spec["scaler"]["mean"]), tuple(spec["scaler"]["std"]),
                            float(spec["scaler"].get("spread", 0.5)))
            model = _algorithm(config.algorithm).load(Path(folder) / POLICY_FILE, device="cpu")
        except Exception as exc:
            raise RlInputError(f"the policy in {folder} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        return cls(model, scaler, config, spec.get("trained_on", {}))


def _algorithm(name: str):
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[name]


def train_policy(markets: list[Market], segments: list[Segment], scaler: Scaler, config: RlConfig, order: OrderFn,
                 trained_on: dict | None = None) -> Policy:
    """Train the configured algorithm for `config.timesteps` steps on the segments, filling
    through the engine's `order` step; the same seed, data and config give the same network
    (CPU, one thread for torch)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    torch.set_num_threads(1)  # determinism, and polite to a shared machine
    set_random_seed(config.seed)

    def make(i: int):
        def build() -> TradingEnv:
            env = TradingEnv(markets, segments, config.costs(order), config.episode_bars)
            env.reset(seed=config.seed + i)
            env.action_space.seed(config.seed + i)
            return env
        return build

    env = DummyVecEnv([make(i) for i in range(config.n_envs)])
    env.seed(config.seed)
    # rewards (log-equity changes of about 1e-2) scaled by their running spread: what the
    # network learns from; the learning curve reports the environments' own rewards
    env = VecNormalize(env, norm_obs=False, norm_reward=True, gamma=config.gamma)
    kwargs: dict = {"learning_rate": config.learning_rate, "gamma": config.gamma, "seed": config.seed, "device": "cpu", "verbose": 0,
                    "policy_kwargs": {"net_arch": [config.hidden, config.hidden]}}
    per_env = max(config.n_steps // config.n_envs, 2)
    if config.algorithm == "ppo":
        kwargs |= {"n_steps": per_env, "batch_size": min(config.batch_size, per_env * config.n_envs), "ent_coef": config.ent_coef, "n_epochs": 4}
    elif config.algorithm == "a2c":
        kwargs |= {"n_steps": min(per_env, 32), "ent_coef": config.ent_coef}
    else:
        kwargs |= {"batch_size": config.batch_size, "learning_starts": min(1000, config.timesteps // 4), "buffer_size": 50_000}
    model = _algorithm(config.algorithm)("MlpPolicy", env, **kwargs)
    curve: list[tuple[int, float]] = []

    class Curve(BaseCallback):
        """Mean reward of the episodes finished since the last point, once per rollout."""

        def __init__(self) -> None:
            super().__init__()
            self.episode, self.done = np.zeros(config.n_envs), []

        def _on_step(self) -> bool:
            self.episode += self.training_env.get_original_reward()
            for i in np.flatnonzero(self.locals["dones"]):
                self.done.append(float(self.episode[i]))
                self.episode[i] = 0.0
            return True

        def _on_rollout_end(self) -> None:
            if self.done:
                curve.append((self.num_timesteps, float(np.mean(self.done))))
                self.done = []

    started = time.perf_counter()
    model.learn(total_timesteps=config.timesteps, callback=Curve())
    return Policy(model, scaler, config, trained_on or {}, curve, time.perf_counter() - started, int(model.num_timesteps))


def rollout(policy: Policy, market: Market, start: int, end: int, order: OrderFn, book=None) -> tuple[np.ndarray, object]:
    """Greedy actions at bars start .. end - 1 of `market`, the book carried through (filled
    at each next open like the env); returns (target positions, the book after end's close)."""
    from training.rl.env import Book

    book = book if book is not None else Book()
    targets = np.zeros(end - start)
    costs = policy.config.costs(order)
    for i, t in enumerate(range(start, end)):
        k = policy.greedy(observation(market, t, book.state(market.close[t])))
        targets[i] = ACTIONS[k]
        book.step(ACTIONS[k], market.open[t + 1], costs)
    return targets, book


def load_version(recorder, version) -> Policy:
    """A registered version's policy, read through the recorder (serving's loader)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return Policy.load(recorder.download(version, tmp))
