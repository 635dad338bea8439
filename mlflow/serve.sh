#!/usr/bin/env bash
# Start the MLflow tracking server (UI + REST) on the configured store: the embedded
# SQLite file by default, PostgreSQL when MLFLOW_TRACKING_URI or TX_POSTGRES_URL says so.
# Usage: mlflow/serve.sh [--port 5000] [--host 127.0.0.1]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/tx mlflow-server "$@"
