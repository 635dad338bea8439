"""`tx api-key create|revoke`: API keys of the HTTP API (stored hashed in the app database)."""

import argparse

from tx.errors import ConfigError
from tx.settings import Settings


def add_parsers(sub) -> None:
    keys = sub.add_parser("api-key", help="create or revoke API keys of the HTTP API")
    verbs = keys.add_subparsers(dest="api_key_command", required=True, metavar="ACTION")
    create = verbs.add_parser("create", help="create a key; it is printed once, alone on the last line")
    create.add_argument("--scope", required=True, choices=("read", "trade", "admin"), help="admin includes trade, trade includes read")
    create.add_argument("--name", default="", help="who or what uses it (shown in logs and errors)")
    create.add_argument("--rate-limit", type=int, default=None, help="requests a minute (default: TX_RATE_LIMIT_PER_MINUTE)")
    revoke = verbs.add_parser("revoke", help="revoke a key by its prefix (the part after tx_)")
    revoke.add_argument("prefix")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from store.api_keys import create_key, revoke_key
    from store.db import make_engine
    from cli.stores import setup_app_database

    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    try:
        if args.api_key_command == "create":
            if args.rate_limit is not None and args.rate_limit < 1:
                raise ConfigError("--rate-limit", "must be at least 1 request a minute")
            key = create_key(engine, args.scope, args.name, args.rate_limit)
            print(f"created a {args.scope} key (prefix {key.split('_')[1]}); send it as X-API-Key. It is shown only now:")
            print(key)
            return 0
        if not revoke_key(engine, args.prefix):
            raise ConfigError("PREFIX", f"no active key with prefix {args.prefix}")
        print(f"revoked the key with prefix {args.prefix}")
        return 0
    finally:
        engine.dispose()
