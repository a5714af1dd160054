"""The `hsmkms` command."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from hsmkms import __version__, config, dev, errors, server
from hsmkms.client import cli as client_cli
from hsmkms.domain import AccessBinding, Subject
from hsmkms.service.access import AccessService, CredentialService, expires_after
from hsmkms.service.background import reconcile
from hsmkms.store import Store


def _add_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", type=Path, metavar="DIR", help="a `hsmkms dev` data dir")
    source.add_argument("--config", type=Path, metavar="FILE", help="a `hsmkms serve` config")


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
    p_dev.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="server processes sharing the port (default: one per CPU)",
    )
    p_dev.add_argument(
        "--metrics-listen", metavar="ADDR", help="serve Prometheus metrics on ADDR (/metrics)"
    )
    p_dev.add_argument("--rest-listen", metavar="ADDR", help="serve the REST/JSON API on ADDR")
    p_dev.add_argument(
        "--auth",
        action="store_true",
        help="TLS (CA in DIR/tls/ca.pem) and authentication (admin token in DIR/admin.token)",
    )

    p_serve = sub.add_parser("serve", help="run the server from a TOML configuration file")
    p_serve.add_argument("--config", type=Path, required=True, metavar="FILE")
    p_serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the port (default: [server] workers, else one per CPU)",
    )
    p_serve.add_argument(
        "--insecure-allow-remote-plaintext",
        action="store_true",
        help="INSECURE: allow a non-loopback address without both TLS and authentication",
    )

    p_doctor = sub.add_parser(
        "doctor", help="compare the store with the token and report differences"
    )
    _add_source(p_doctor)
    p_doctor.add_argument(
        "--fix",
        action="store_true",
        help="finish interrupted destructions and creations (never touches a usable version)",
    )

    p_cred = sub.add_parser("credentials", help="API tokens for `authorization: Bearer`")
    cred = p_cred.add_subparsers(dest="action", required=True)
    p_issue = cred.add_parser("issue", help="issue a token (printed once, stored as a hash)")
    _add_source(p_issue)
    p_issue.add_argument("--subject", required=True, help="e.g. serviceAccount:billing")
    p_issue.add_argument("--expires-in", metavar="DURATION", help="e.g. 90d, 12h")
    p_issue.add_argument("--description", default="")
    p_revoke = cred.add_parser("revoke", help="revoke a token by its credential ID")
    _add_source(p_revoke)
    p_revoke.add_argument("credential_id")
    p_list = cred.add_parser("list", help="list credentials (never the tokens)")
    _add_source(p_list)

    p_bind = sub.add_parser("bindings", help="role bindings on folders ('*': every folder)")
    bind = p_bind.add_subparsers(dest="action", required=True)
    for action in ("add", "remove"):
        p = bind.add_parser(action, help=f"{action} a folder binding")
        _add_source(p)
        p.add_argument("--folder", required=True)
        p.add_argument("--role", required=True, help="e.g. kms.keys.encrypterDecrypter")
        p.add_argument("--subject", required=True, help="e.g. serviceAccount:billing")
    p_blist = bind.add_parser("list", help="list the bindings of a folder")
    _add_source(p_blist)
    p_blist.add_argument("--folder", required=True)
    client_cli.add_parser(sub)
    return parser


def _settings(args: argparse.Namespace) -> config.Settings:
    if args.data_dir is not None:
        return dev.prepare(args.data_dir, config.DEFAULT_LISTEN)
    return config.load(args.config)


def _store(args: argparse.Namespace) -> Store:
    """The metadata store alone: credential and binding commands need no HSM."""
    if args.data_dir is not None:
        return Store(dev.store_url(args.data_dir))
    return Store(config.load(args.config, read_pin=False).store_url)


def _subject(text: str) -> Subject:
    try:
        return Subject.parse(text)
    except ValueError as exc:
        raise config.ConfigError(f"--subject: {exc}") from None


def _doctor(args: argparse.Namespace) -> int:
    app = server.build_app(_settings(args), bootstrap=False)
    try:
        report = reconcile(app.store, app.hsm, fix=args.fix)
    finally:
        app.close()
    print("\n".join(report.lines()))
    return 0 if report.clean else 1


def _credentials(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        service = CredentialService(store)
        if args.action == "issue":
            expires = (
                None
                if args.expires_in is None
                else config.parse_duration(args.expires_in, "--expires-in")
            )
            credential, token = service.issue(_subject(args.subject), expires, args.description)
            print(f"credential {credential.id} for {credential.subject}", file=sys.stderr)
            print(token)  # the only time the token is ever shown
        elif args.action == "revoke":
            service.revoke(args.credential_id)
        else:
            for c in service.list_all():
                state = "revoked" if c.revoked_at else f"expires {expires_after(c)}"
                print(f"{c.id}\t{c.subject}\t{state}\t{c.description}")
    finally:
        store.close()
    return 0


def _bindings(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        access = AccessService(store, enforce=True)
        if args.action == "list":
            for b in access.list_folder_bindings(args.folder):
                print(f"{b.role_id}\t{b.subject}")
            return 0
        binding = AccessBinding(args.role, _subject(args.subject))
        if args.action == "add":
            access.add_folder_bindings(args.folder, [binding])
        else:
            access.remove_folder_bindings(args.folder, [binding])
    finally:
        store.close()
    return 0


def _serve(args: argparse.Namespace) -> int:
    if args.command == "dev":
        if not config.is_loopback(args.listen):
            raise config.ConfigError(
                f"--listen {args.listen}: the dev server listens on loopback only"
            )
        settings = dev.prepare(args.data_dir, args.listen, auth=args.auth)
        if args.metrics_listen:
            settings = replace(settings, metrics_listen=args.metrics_listen)
        if args.rest_listen:
            if not config.is_loopback(args.rest_listen):
                raise config.ConfigError(
                    f"--rest-listen {args.rest_listen}: the dev server listens on loopback only"
                )
            settings = replace(settings, rest_listen=args.rest_listen)
    else:
        settings = config.load(args.config)
        for name, address in (("listen", settings.listen), ("rest_listen", settings.rest_listen)):
            if (
                address
                and not config.is_loopback(address)
                and not settings.secure
                and not args.insecure_allow_remote_plaintext
            ):
                raise config.ConfigError(
                    f"server.{name} {address}: refusing a non-loopback address without "
                    "both [tls] and [auth] enabled (--insecure-allow-remote-plaintext overrides)"
                )
    if args.workers is not None:
        if args.workers < 0:
            raise config.ConfigError("--workers: must be 0 (one per CPU) or more")
        settings = replace(settings, workers=args.workers)
    server.serve(settings)
    return 0


COMMANDS = {
    "dev": _serve,
    "serve": _serve,
    "doctor": _doctor,
    "credentials": _credentials,
    "bindings": _bindings,
    "kms": client_cli.main,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return COMMANDS[args.command](args)
    except (config.ConfigError, errors.KmsError, FileNotFoundError, RuntimeError) as exc:
        message = exc.message if isinstance(exc, errors.KmsError) else str(exc)
        print(f"hsmkms: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
