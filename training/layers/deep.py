"""Deep layer: a 1D-CNN and an LSTM (PyTorch Lightning) on windows of normalized OHLCV and
indicators (training/windows.py); the layer's output is the mean of their probabilities.

Seeded and deterministic (same seed, same data: same weights). Trains on a GPU when one is
present (`accelerator="auto"`, the default), else on the CPU; "cpu" forces the CPU.
Inference always runs on the CPU so the fitted layer pickles and serves anywhere.
"""

import logging
import os
import warnings

import lightning as L
import numpy as np
import optuna
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

KINDS = ("cnn", "lstm")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS on a GPU: set before CUDA starts

for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed"):
    logging.getLogger(_name).setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


class Batches(TensorDataset):
    """A TensorDataset the DataLoader reads a whole batch of at once (`__getitems__`): the same
    samples in the same order as item by item, without a Python call and a stack per sample
    (about a tenth of a deep-layer fit on the CPU)."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(indices)
        return tuple(tensor[index] for tensor in self.tensors)


def as_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The DataLoader's collate_fn for `Batches`: the batch is already one."""
    return batch


class Net(L.LightningModule):
    def __init__(self, kind: str, channels: int, hidden: int, lr: float, dropout: float = 0.1) -> None:
        super().__init__()
        self.kind, self.lr = kind, lr
        if kind == "cnn":
            self.body = nn.Sequential(
                nn.Conv1d(channels, hidden, kernel_size=5, padding=2), nn.ReLU(),
                nn.Conv1d(hidden, hidden, kernel_size=5, padding=2), nn.ReLU(),
                nn.AdaptiveAvgPool1d(1), nn.Flatten(),
            )
        elif kind == "lstm":
            self.body = nn.LSTM(channels, hidden, batch_first=True)
        else:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, window, channels) -> logits (batch,)
        if self.kind == "cnn":
            h = self.body(x.transpose(1, 2))
        else:
            h = self.body(x)[0][:, -1]
        return self.head(h).squeeze(-1)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self(x), y)  # nothing logs it (logger=False): not self.log'd

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)


class DeepLayer:
    name = "deep"

    def __init__(self, hidden: int = 32, lr: float = 2e-3, epochs: int = 3, batch_size: int = 512, seed: int = 0,
                 accelerator: str = "auto") -> None:
        self.hidden, self.lr, self.epochs, self.batch_size = hidden, lr, epochs, batch_size
        self.seed, self.accelerator = seed, accelerator
        self.nets_: dict[str, Net] = {}
        self.note = ""

    @staticmethod
    def search_space(trial: optuna.Trial) -> dict:
        return {"hidden": trial.suggest_categorical("hidden", [16, 32, 64]), "lr": trial.suggest_float("lr", 5e-4, 1e-2, log=True)}

    def _scale(self, windows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((windows - self.mean_) / self.std_).astype(np.float32))

    def fit(self, X: pd.DataFrame, windows: np.ndarray, y: np.ndarray) -> "DeepLayer":
        if windows.ndim != 3 or windows.shape[1] == 0:
            raise ValueError("the deep layer needs candle windows: build the dataset with candles")
        self.window_ = windows.shape[1]
        self.mean_ = windows.mean(axis=(0, 1), keepdims=True)[0]
        self.std_ = windows.std(axis=(0, 1), keepdims=True)[0] + 1e-6
        data = Batches(self._scale(windows), torch.from_numpy(y.astype(np.float32)))
        self.nets_ = {}
        for k, kind in enumerate(KINDS):
            L.seed_everything(self.seed + k, workers=True, verbose=False)
            net = Net(kind, windows.shape[2], self.hidden, self.lr)
            loader = DataLoader(data, batch_size=self.batch_size, shuffle=True, generator=torch.Generator().manual_seed(self.seed + k),
                                collate_fn=as_batch)
            trainer = L.Trainer(max_epochs=self.epochs, accelerator=self.accelerator, devices=1, deterministic=True, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
            trainer.fit(net, loader)
            self.nets_[kind] = net.cpu().eval()
        self.note = f"trained on {trainer.strategy.root_device.type}"
        return self

    def predict_parts(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        x = self._scale(windows)
        with torch.no_grad():
            return {kind: torch.sigmoid(torch.cat([net(b) for b in x.split(4096)])).numpy().astype("float64")
                    for kind, net in self.nets_.items()}

    def predict(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray:
        parts = self.predict_parts(windows)
        return np.mean(list(parts.values()), axis=0)

    def params(self) -> dict:
        return {"kinds": "+".join(KINDS), "hidden": self.hidden, "lr": self.lr, "epochs": self.epochs,
                "batch_size": self.batch_size, "window": getattr(self, "window_", 0)}
