"""The `hsmkms` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hsmkms import __version__, config, dev, errors, server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hsmkms", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hsmkms {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    sub = parser.add_subparsers(dest="command", required=True)

    p_dev = sub.add_parser(
        "dev", help="run a development server on a SoftHSM2 token and SQLite under DIR"
    )
    p_dev.add_argument("--data-dir", type=Path, default=Path(".hsmkms-dev"), metavar="DIR")
    p_dev.add_argument("--listen", default=config.DEFAULT_LISTEN, metavar="ADDR")

    p_serve = sub.add_parser("serve", help="run the server from a TOML configuration file")
    p_serve.add_argument("--config", type=Path, required=True, metavar="FILE")
    p_serve.add_argument(
        "--insecure-allow-remote-plaintext",
        action="store_true",
        help="allow listening on a non-loopback address without TLS or authentication",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "dev":
            if not config.is_loopback(args.listen):
                raise config.ConfigError(
                    f"--listen {args.listen}: the dev server listens on loopback only"
                )
            settings = dev.prepare(args.data_dir, args.listen)
        else:
            settings = config.load(args.config)
            if not config.is_loopback(settings.listen) and not args.insecure_allow_remote_plaintext:
                raise config.ConfigError(
                    f"server.listen {settings.listen}: refusing a non-loopback address without "
                    "TLS and authentication (pass --insecure-allow-remote-plaintext to override)"
                )
        server.serve(settings)
    except (config.ConfigError, errors.KmsError, FileNotFoundError, RuntimeError) as exc:
        print(f"hsmkms: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
