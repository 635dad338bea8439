"""Training: datasets, purged walk-forward splits, the layers, fusion, MLflow logging, promotion."""
