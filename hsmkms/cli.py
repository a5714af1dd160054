"""The `hsmkms` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hsmkms import __version__, config, dev, errors, server
from hsmkms.service.background import reconcile


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
    p_doctor = sub.add_parser(
        "doctor", help="compare the store with the token and report differences"
    )
    source = p_doctor.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", type=Path, metavar="DIR", help="a `hsmkms dev` data dir")
    source.add_argument("--config", type=Path, metavar="FILE", help="a `hsmkms serve` config")
    p_doctor.add_argument(
        "--fix",
        action="store_true",
        help="destroy key objects left behind by interrupted destructions (nothing else)",
    )
    return parser


def _doctor(settings: config.Settings, fix: bool) -> int:
    app = server.build_app(settings)
    try:
        report = reconcile(app.store, app.hsm, fix=fix)
    finally:
        app.close()
    print("\n".join(report.lines()))
    return 0 if report.clean else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "doctor":
            if args.data_dir is not None:
                settings = dev.prepare(args.data_dir, config.DEFAULT_LISTEN)
            else:
                settings = config.load(args.config)
            return _doctor(settings, args.fix)
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
