"""The `tx` command line: the platform's own operations."""

import argparse
import os
import sys
from collections.abc import Sequence

from cli import keys_cli, market_cli, model_cli, scale_cli
from tx import observability
from tx.errors import TxError
from tx.settings import Settings, load_settings


def _config(settings: Settings) -> int:
    from store.db import redact

    rows = {
        "app database": f"{redact(settings.app_database_url)}  (from {settings.app_database_setting})",
        "mlflow tracking": f"{settings.tracking_uri if settings.tracking_is_server else redact(settings.tracking_uri)}  (from {settings.tracking_setting})",
        "mlflow artifacts": "proxied by the MLflow server" if settings.tracking_is_server else settings.mlflow_artifacts,
        "dagster storage": f"{redact(settings.dagster_storage_url) if settings.dagster_storage_url else 'SQLite'}  (from {settings.dagster_setting})",
        "DAGSTER_HOME": str(settings.dagster_home_dir),
        "data dir": str(settings.data_dir or "(bundled sample only)"),
        "universe": settings.universe or "(every available series)",
    }
    for key, value in rows.items():
        print(f"{key:<17} {value}")
    return 0


def _migrate(settings: Settings) -> int:
    from cli.stores import setup_all

    for store in setup_all(settings):
        print(f"{store.name:<13} {store.location}  ({store.detail})")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from cli.demo import demo

    print(demo(settings, serve=not args.no_serve))
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from cli.platform import run_platform

    return run_platform(settings, skip_pipeline=args.skip_pipeline)


def _showcase(settings: Settings) -> int:
    from cli.platform import run_platform
    from cli.showcase import has_champion

    served = has_champion(settings)
    if served:
        print(f"the showcase's stores (.tx/showcase) hold champion v{served}: serving it (`make clean` starts over)")
    return run_platform(settings, skip_pipeline=bool(served), showcase=True)


def _mlflow_server(settings: Settings, args: argparse.Namespace) -> int:
    from cli.stores import setup_mlflow

    setup_mlflow(settings, serving=True)  # its database, even where MLFLOW_TRACKING_URI names this server
    from tx.processes import mlflow_server

    server = mlflow_server(settings.mlflow_store_uri, settings.mlflow_artifacts, args.host or settings.host, args.port or settings.mlflow_port)
    os.chdir(os.path.dirname(os.path.dirname(__file__)))
    os.execve(server.argv[0], server.argv, {**os.environ, **server.env})  # the server replaces this process: Ctrl-C reaches it directly


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from cli.stores import setup_app_database, setup_mlflow
    from tx.processes import bentoml_server
    from tx.settings import ROOT

    setup_app_database(settings)
    setup_mlflow(settings)
    server = bentoml_server(args.host or settings.host, args.port or settings.serving_port, workers=settings.serve_workers or 1)
    os.chdir(ROOT)
    os.execve(server.argv[0], server.argv, {**os.environ, **server.env})  # the server replaces this process: Ctrl-C reaches it directly


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tx", description="TX Predictive Intelligence: platform operations.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("config", help="show where each store lives and what data is used")
    sub.add_parser("migrate", help="create and migrate the app database, the MLflow store and the Dagster instance")
    demo = sub.add_parser("demo", help="run the whole pipeline headless and print a summary")
    demo.add_argument("--no-serve", action="store_true", help="skip starting the BentoML service")
    run = sub.add_parser("run", help="run the pipeline, then the Dagster UI, MLflow UI and BentoML service until Ctrl-C")
    run.add_argument("--skip-pipeline", action="store_true", help="start the servers on the stores as they are")
    sub.add_parser("showcase", help="a planted-signal universe in stores of its own (.tx/showcase): the pipeline, the gate "
                   "promoting a champion, and the three servers on it until Ctrl-C")
    market_cli.add_parsers(sub)
    model_cli.add_parsers(sub)
    keys_cli.add_parsers(sub)
    scale_cli.add_parsers(sub)
    srv = sub.add_parser("serve", help="only the BentoML service on the configured stores (TX_SERVE_WORKERS workers, default 1)")
    srv.add_argument("--host", default=None)
    srv.add_argument("--port", type=int, default=None)
    mlf = sub.add_parser("mlflow-server", help="start the MLflow UI/tracking server on MLflow's database (MLFLOW_TRACKING_URI when it "
                         "names one, else TX_POSTGRES_URL's _mlflow, else the embedded file), artifacts proxied into TX_MLFLOW_ARTIFACTS")
    mlf.add_argument("--host", default=None, help="address to listen on (TX_HOST; 0.0.0.0 to serve other machines)")
    mlf.add_argument("--port", type=int, default=None, help="port (TX_MLFLOW_PORT)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "showcase":
            from cli.showcase import enter

            enter()  # before the settings are read: its own stores and the planted series
        settings = observability.setup("cli", load_settings())
        match args.command:
            case "config":
                return _config(settings)
            case "migrate":
                return _migrate(settings)
            case "demo":
                return _demo(settings, args)
            case "run":
                return _run(settings, args)
            case "showcase":
                return _showcase(settings)
            case "train":
                return model_cli.train(settings, args)
            case "api-key":
                return keys_cli.run(settings, args)
            case "promote":
                return model_cli.promote(settings, args)
            case "mlflow-server":
                return _mlflow_server(settings, args)
            case "serve":
                return _serve(settings, args)
            case "features":
                return market_cli.show_features(settings, args)
            case "universe":
                return market_cli.universe(settings)
            case "candles" if args.candles_command == "fetch":
                return market_cli.fetch(settings, args)
            case "candles":
                return market_cli.show(settings, args)
            case "worker":
                return scale_cli.worker(settings, args)
            case "backfill":
                return scale_cli.backfill(settings, args)
    except TxError as exc:
        print(f"tx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tx: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
