"""`hsmkms kms ...`: the client commands, in the style of `yc kms`, over gRPC only."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import duration_pb2, field_mask_pb2
from google.protobuf.message import Message

from hsmkms._pb.yandex.cloud.access import access_pb2 as access_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as crypto_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_pb2 as key_pb
from hsmkms._pb.yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from hsmkms.client import reencrypt
from hsmkms.client.connection import (
    DEFAULT_ENDPOINT,
    Client,
    ClientError,
    OperationError,
    resolve,
)
from hsmkms.client.files import STDIO, read_input, write_output
from hsmkms.client.output import FORMATS, render

ALGORITHMS = {
    name.lower().replace("_", "-"): value
    for name, value in key_pb.SymmetricAlgorithm.items()
    if value != key_pb.SYMMETRIC_ALGORITHM_UNSPECIFIED
}
KEY_STATUSES = {"active": key_pb.SymmetricKey.ACTIVE, "inactive": key_pb.SymmetricKey.INACTIVE}
_DURATION = re.compile(r"(?:\d+[smhd])+")
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Context:
    client: Client
    fmt: str

    def show(
        self, value: Message | list[Message] | dict[str, Any], stream: IO[str] | None = None
    ) -> None:
        text = render(value, self.fmt)
        if text:
            print(text, file=stream or sys.stdout, flush=True)

    def operation(self, method: Any, request: Message) -> int:
        """Call a method that returns an operation; show what it made."""
        self.show(self.client.result(self.client.call(method, request)))
        return 0


Handler = Callable[[argparse.Namespace, Context], int]


# Argument types.


def duration(text: str) -> duration_pb2.Duration:
    """`90s`, `30m`, `24h`, `7d`, or combinations such as `1d12h`."""
    if not _DURATION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 24h, 7d, 1d12h")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    value = duration_pb2.Duration()
    value.FromTimedelta(timedelta(seconds=seconds))
    return value


def labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2`; an empty string is no labels."""
    result: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{item!r}: expected key=value")
        result[key] = value
    return result


def subject(text: str) -> access_pb.Subject:
    type_, sep, id_ = text.partition(":")
    if not sep or not type_ or not id_:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected type:id, e.g. serviceAccount:billing or system:allUsers"
        )
    return access_pb.Subject(type=type_, id=id_)


def page_size(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number from 0 to 1000")
    return value


def count(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 1_000_000_000:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number")
    return value


def _aad(text: str | None) -> bytes:
    # The argument's own bytes, even when they are not UTF-8.
    return os.fsencode(text or "")


# symmetric-key


def _pages(ctx: Context, method: Any, request: Any, items: str) -> list[Message]:
    """Every item of a paginated list, following next_page_token."""
    result: list[Message] = []
    seen: set[str] = set()
    while True:
        response = ctx.client.call(method, request)
        result.extend(getattr(response, items))
        token = response.next_page_token
        if not token:
            return result
        if token in seen:
            raise ClientError("the server repeated a page token")
        seen.add(token)
        request.page_token = token


def key_create(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.CreateSymmetricKeyRequest(
        folder_id=args.folder_id,
        name=args.name,
        description=args.description,
        labels=args.labels,
        default_algorithm=ALGORITHMS[args.default_algorithm],
        deletion_protection=args.deletion_protection,
    )
    if args.rotation_period is not None:
        request.rotation_period.CopyFrom(args.rotation_period)
    return ctx.operation(ctx.client.keys.Create, request)


def key_list(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.ListSymmetricKeysRequest(folder_id=args.folder_id, page_size=args.page_size)
    ctx.show(_pages(ctx, ctx.client.keys.List, request, "keys"))
    return 0


def key_get(args: argparse.Namespace, ctx: Context) -> int:
    ctx.show(ctx.client.call(ctx.client.keys.Get, ks.GetSymmetricKeyRequest(key_id=args.key_id)))
    return 0


def key_update(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.UpdateSymmetricKeyRequest(key_id=args.key_id)
    paths: list[str] = []
    for name in ("name", "description", "deletion_protection"):
        value = getattr(args, name)
        if value is not None:
            setattr(request, name, value)
            paths.append(name)
    if args.labels is not None:
        request.labels.update(args.labels)
        paths.append("labels")
    if args.status is not None:
        request.status = KEY_STATUSES[args.status]
        paths.append("status")
    if args.default_algorithm is not None:
        request.default_algorithm = ALGORITHMS[args.default_algorithm]
        paths.append("default_algorithm")
    if args.rotation_period is not None:
        if args.rotation_period != "none":
            request.rotation_period.CopyFrom(duration(args.rotation_period))
        paths.append("rotation_period")
    if not paths:
        raise ClientError("update: give at least one field to change (see --help)")
    request.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=paths))
    return ctx.operation(ctx.client.keys.Update, request)


def key_delete(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.operation(ctx.client.keys.Delete, ks.DeleteSymmetricKeyRequest(key_id=args.key_id))


def key_rotate(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.operation(ctx.client.keys.Rotate, ks.RotateSymmetricKeyRequest(key_id=args.key_id))


def key_list_versions(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.ListSymmetricKeyVersionsRequest(key_id=args.key_id, page_size=args.page_size)
    ctx.show(_pages(ctx, ctx.client.keys.ListVersions, request, "key_versions"))
    return 0


def key_set_primary_version(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.SetPrimarySymmetricKeyVersionRequest(
        key_id=args.key_id, version_id=args.version_id
    )
    return ctx.operation(ctx.client.keys.SetPrimaryVersion, request)


def key_schedule_version_destruction(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.ScheduleSymmetricKeyVersionDestructionRequest(
        key_id=args.key_id, version_id=args.version_id
    )
    if args.pending_period is not None:
        request.pending_period.CopyFrom(args.pending_period)
    return ctx.operation(ctx.client.keys.ScheduleVersionDestruction, request)


def key_cancel_version_destruction(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.CancelSymmetricKeyVersionDestructionRequest(
        key_id=args.key_id, version_id=args.version_id
    )
    return ctx.operation(ctx.client.keys.CancelVersionDestruction, request)


def key_list_operations(args: argparse.Namespace, ctx: Context) -> int:
    request = ks.ListSymmetricKeyOperationsRequest(key_id=args.key_id, page_size=args.page_size)
    ctx.show(_pages(ctx, ctx.client.keys.ListOperations, request, "operations"))
    return 0


def key_list_access_bindings(args: argparse.Namespace, ctx: Context) -> int:
    request = access_pb.ListAccessBindingsRequest(resource_id=args.key_id, page_size=args.page_size)
    ctx.show(_pages(ctx, ctx.client.keys.ListAccessBindings, request, "access_bindings"))
    return 0


def _update_bindings(action: int) -> Handler:
    def handler(args: argparse.Namespace, ctx: Context) -> int:
        request = access_pb.UpdateAccessBindingsRequest(
            resource_id=args.key_id,
            access_binding_deltas=[
                access_pb.AccessBindingDelta(
                    action=action,  # type: ignore[arg-type]
                    access_binding=access_pb.AccessBinding(role_id=args.role, subject=s),
                )
                for s in args.subject
            ],
        )
        return ctx.operation(ctx.client.keys.UpdateAccessBindings, request)

    return handler


# symmetric-crypto


def _metadata_stream(*outputs: str) -> IO[str]:
    """Where to show a call's result: stderr when stdout carries the data."""
    return sys.stderr if STDIO in outputs else sys.stdout


def crypto_encrypt(args: argparse.Namespace, ctx: Context) -> int:
    request = crypto_pb.SymmetricEncryptRequest(
        key_id=args.id,
        version_id=args.version_id,
        aad_context=_aad(args.aad_context),
        plaintext=read_input(args.plaintext_file),
    )
    response = ctx.client.call(ctx.client.crypto.Encrypt, request)
    write_output(args.ciphertext_file, response.ciphertext, secret=False)
    shown = {"key_id": response.key_id, "version_id": response.version_id}
    ctx.show(shown, _metadata_stream(args.ciphertext_file))
    return 0


def crypto_decrypt(args: argparse.Namespace, ctx: Context) -> int:
    request = crypto_pb.SymmetricDecryptRequest(
        key_id=args.id,
        aad_context=_aad(args.aad_context),
        ciphertext=read_input(args.ciphertext_file),
    )
    response = ctx.client.call(ctx.client.crypto.Decrypt, request)
    write_output(args.plaintext_file, response.plaintext, secret=True)
    shown = {"key_id": response.key_id, "version_id": response.version_id}
    ctx.show(shown, _metadata_stream(args.plaintext_file))
    return 0


def crypto_re_encrypt(args: argparse.Namespace, ctx: Context) -> int:
    request = crypto_pb.SymmetricReEncryptRequest(
        key_id=args.id,
        version_id=args.version_id,
        aad_context=_aad(args.aad_context),
        source_key_id=args.source_key_id,
        source_aad_context=_aad(args.source_aad_context),
        ciphertext=read_input(args.ciphertext_file),
    )
    response = ctx.client.call(ctx.client.crypto.ReEncrypt, request)
    write_output(args.new_ciphertext_file, response.ciphertext, secret=False)
    shown = {
        "key_id": response.key_id,
        "version_id": response.version_id,
        "source_key_id": response.source_key_id,
        "source_version_id": response.source_version_id,
    }
    ctx.show(shown, _metadata_stream(args.new_ciphertext_file))
    return 0


def crypto_generate_data_key(args: argparse.Namespace, ctx: Context) -> int:
    outputs = [args.data_key_ciphertext_file, args.data_key_plaintext_file or ""]
    if outputs.count(STDIO) > 1:
        raise ClientError("only one of the data key files may be '-' (stdout)")
    request = crypto_pb.GenerateDataKeyRequest(
        key_id=args.id,
        version_id=args.version_id,
        aad_context=_aad(args.aad_context),
        data_key_spec=ALGORITHMS[args.data_key_spec],
        skip_plaintext=args.skip_plaintext,
    )
    response = ctx.client.call(ctx.client.crypto.GenerateDataKey, request)
    write_output(args.data_key_ciphertext_file, response.data_key_ciphertext, secret=False)
    if args.data_key_plaintext_file:
        write_output(args.data_key_plaintext_file, response.data_key_plaintext, secret=True)
    shown = {"key_id": response.key_id, "version_id": response.version_id}
    ctx.show(shown, _metadata_stream(*outputs))
    return 0


# reencrypt-files


def reencrypt_files(args: argparse.Namespace, ctx: Context) -> int:
    job = reencrypt.Job(
        target_key_id=args.id,
        source_key_id=args.source_key_id,
        root=Path(args.dir),
        pattern=args.pattern,
        aad_context=_aad(args.aad_context),
        source_aad_context=_aad(
            args.aad_context if args.source_aad_context is None else args.source_aad_context
        ),
        concurrency=args.concurrency,
        state_file=Path(args.state_file) if args.state_file else None,
        limit=args.limit,
    )
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    summary = reencrypt.run(ctx.client, job, sys.stderr, progress)
    for failure in summary["failures"]:
        print(f"hsmkms: failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    if ctx.fmt == "text":
        print(
            f"re-encrypted {summary['reencrypted']} of {summary['files']} files to "
            f"{summary['key_id']} version {summary['primary_version_id']} "
            f"({summary['reencrypt_calls']} ReEncrypt calls)\n"
            f"already current {summary['already_current']}, "
            f"resumed {summary['resumed']}, failed {summary['failed']}, "
            f"skipped {summary['skipped']}, remaining {summary['remaining']}\n"
            f"state file: {summary['state_file']}"
        )
    else:
        ctx.show(summary)
    if summary["failed"]:
        return 1
    return 130 if summary["interrupted"] else 0


# The parser.


class _RefuseSecret(argparse.Action):
    """`--token VALUE`: refused without echoing the value (argv is visible to every user)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            f"{option_string}: a token is never taken from the command line; "
            "use --token-file FILE or the HSMKMS_TOKEN environment variable"
        )


def _connection_flags(parser: argparse.ArgumentParser, *, leaf: bool) -> None:
    """The same flags on `kms` and on every command (after the command they win)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if leaf else value

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--endpoint",
        metavar="HOST:PORT",
        default=default(None),
        help=f"server address (env HSMKMS_ENDPOINT; default {DEFAULT_ENDPOINT})",
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        default=default(None),
        help="file holding a bearer token, mode 0600 (env HSMKMS_TOKEN holds the token itself)",
    )
    group.add_argument(
        "--ca",
        metavar="FILE",
        default=default(None),
        help="PEM CA certificate of the server: use TLS (env HSMKMS_CA; default plaintext)",
    )
    group.add_argument(
        "--profile",
        metavar="NAME",
        default=default(None),
        help="a [NAME] table of the profile file (env HSMKMS_PROFILE; file "
        "~/.config/hsmkms/profiles.toml or env HSMKMS_PROFILES)",
    )
    group.add_argument("--token", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)
    group.add_argument("--format", choices=FORMATS, default=default("text"))
    group.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=default(30.0),
        help="deadline of each call (default 30)",
    )


def _command(
    actions: Any, name: str, handler: Handler, help: str, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help, description=help, parents=[common], allow_abbrev=False
    )
    parser.set_defaults(kms_run=handler)
    return parser


def _key_commands(actions: Any, common: argparse.ArgumentParser) -> None:
    algorithms = sorted(ALGORITHMS)

    p = _command(actions, "create", key_create, "create a symmetric key", common)
    p.add_argument("--folder-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--labels", type=labels, default={}, metavar="K=V,...")
    p.add_argument("--default-algorithm", choices=algorithms, default="aes-256")
    p.add_argument("--rotation-period", type=duration, metavar="DURATION", help="e.g. 24h, 30d")
    p.add_argument("--deletion-protection", action="store_true")

    p = _command(actions, "list", key_list, "list the keys of a folder (every page)", common)
    p.add_argument("--folder-id", required=True)
    p.add_argument("--page-size", type=page_size, default=0, metavar="N")

    p = _command(actions, "get", key_get, "show a key", common)
    p.add_argument("key_id", metavar="KEY_ID")

    p = _command(actions, "update", key_update, "change the given attributes of a key", common)
    p.add_argument("key_id", metavar="KEY_ID")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--labels", type=labels, metavar="K=V,...", help="replaces all labels")
    p.add_argument("--status", choices=sorted(KEY_STATUSES))
    p.add_argument("--default-algorithm", choices=algorithms)
    p.add_argument("--rotation-period", metavar="DURATION", help="e.g. 24h; 'none' to turn off")
    p.add_argument("--deletion-protection", action=argparse.BooleanOptionalAction)

    for name, handler, text in (
        ("delete", key_delete, "delete a key (its versions are destroyed)"),
        ("rotate", key_rotate, "make a new primary version"),
    ):
        p = _command(actions, name, handler, text, common)
        p.add_argument("key_id", metavar="KEY_ID")

    for name, handler, text in (
        ("list-versions", key_list_versions, "list the versions of a key"),
        ("list-operations", key_list_operations, "list the operations on a key"),
        ("list-access-bindings", key_list_access_bindings, "list the role bindings of a key"),
    ):
        p = _command(actions, name, handler, text, common)
        p.add_argument("key_id", metavar="KEY_ID")
        p.add_argument("--page-size", type=page_size, default=0, metavar="N")

    for name, handler, text in (
        ("set-primary-version", key_set_primary_version, "make a version the primary one"),
        (
            "schedule-version-destruction",
            key_schedule_version_destruction,
            "schedule the destruction of a version",
        ),
        (
            "cancel-version-destruction",
            key_cancel_version_destruction,
            "cancel a scheduled destruction",
        ),
    ):
        p = _command(actions, name, handler, text, common)
        p.add_argument("key_id", metavar="KEY_ID")
        p.add_argument("--version-id", required=True)
        if name == "schedule-version-destruction":
            p.add_argument(
                "--pending-period",
                type=duration,
                metavar="DURATION",
                help="e.g. 7d (server default)",
            )

    for name, action in (
        ("add-access-binding", access_pb.ADD),
        ("remove-access-binding", access_pb.REMOVE),
    ):
        p = _command(
            actions, name, _update_bindings(action), f"{name.split('-')[0]} a key binding", common
        )
        p.add_argument("key_id", metavar="KEY_ID")
        p.add_argument("--role", required=True, help="e.g. kms.keys.encrypterDecrypter")
        p.add_argument(
            "--subject",
            type=subject,
            action="append",
            required=True,
            metavar="TYPE:ID",
            help="e.g. serviceAccount:billing (repeatable)",
        )


def _crypto_commands(actions: Any, common: argparse.ArgumentParser) -> None:
    aad = "additional authenticated data (UTF-8 text)"

    p = _command(actions, "encrypt", crypto_encrypt, "encrypt a file (at most 32 KiB)", common)
    p.add_argument("--id", required=True, metavar="KEY_ID")
    p.add_argument("--version-id", default="", help="default: the primary version")
    p.add_argument("--plaintext-file", required=True, metavar="IN", help="'-': stdin")
    p.add_argument("--ciphertext-file", required=True, metavar="OUT", help="'-': stdout")
    p.add_argument("--aad-context", metavar="TEXT", help=aad)

    p = _command(actions, "decrypt", crypto_decrypt, "decrypt a file", common)
    p.add_argument("--id", required=True, metavar="KEY_ID")
    p.add_argument("--ciphertext-file", required=True, metavar="IN", help="'-': stdin")
    p.add_argument(
        "--plaintext-file", required=True, metavar="OUT", help="written with mode 0600; '-': stdout"
    )
    p.add_argument("--aad-context", metavar="TEXT", help=aad)

    p = _command(
        actions, "re-encrypt", crypto_re_encrypt, "re-encrypt a ciphertext to another key", common
    )
    p.add_argument("--id", required=True, metavar="KEY_ID", help="the new key")
    p.add_argument("--version-id", default="", help="default: the new key's primary version")
    p.add_argument("--source-key-id", required=True, metavar="KEY_ID")
    p.add_argument("--ciphertext-file", required=True, metavar="IN", help="'-': stdin")
    p.add_argument("--new-ciphertext-file", required=True, metavar="OUT", help="'-': stdout")
    p.add_argument("--aad-context", metavar="TEXT", help=f"{aad} for the new ciphertext")
    p.add_argument("--source-aad-context", metavar="TEXT", help=f"{aad} of the old ciphertext")

    p = _command(
        actions,
        "generate-data-key",
        crypto_generate_data_key,
        "generate a data key for envelope encryption",
        common,
    )
    p.add_argument("--id", required=True, metavar="KEY_ID")
    p.add_argument("--version-id", default="", help="default: the primary version")
    p.add_argument("--data-key-spec", choices=sorted(ALGORITHMS), default="aes-256")
    p.add_argument("--aad-context", metavar="TEXT", help=aad)
    p.add_argument("--data-key-ciphertext-file", required=True, metavar="OUT", help="'-': stdout")
    plain = p.add_mutually_exclusive_group(required=True)
    plain.add_argument(
        "--data-key-plaintext-file", metavar="OUT", help="written with mode 0600; '-': stdout"
    )
    plain.add_argument(
        "--skip-plaintext", action="store_true", help="get only the encrypted data key"
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `kms` on the `hsmkms` command's subparsers."""
    kms: argparse.ArgumentParser = subparsers.add_parser(
        "kms",
        help="client: manage keys and encrypt data on a server (like `yc kms`)",
        description="Client commands: gRPC calls to a hsmkms server. Connection settings come "
        "from flags, else environment variables, else a profile.",
        allow_abbrev=False,
    )
    _connection_flags(kms, leaf=False)
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    _connection_flags(common, leaf=True)
    groups = kms.add_subparsers(dest="kms_group", required=True, metavar="GROUP")

    keys = groups.add_parser(
        "symmetric-key", help="manage symmetric keys and their versions", allow_abbrev=False
    )
    _key_commands(keys.add_subparsers(dest="kms_action", required=True, metavar="ACTION"), common)

    crypto = groups.add_parser(
        "symmetric-crypto",
        help="encrypt, decrypt, re-encrypt, generate data keys",
        allow_abbrev=False,
    )
    _crypto_commands(
        crypto.add_subparsers(dest="kms_action", required=True, metavar="ACTION"), common
    )

    p = _command(
        groups,
        "reencrypt-files",
        reencrypt_files,
        "re-encrypt every ciphertext file under DIR to a key's primary version, resumably",
        common,
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--id", required=True, metavar="KEY_ID", help="the target key")
    p.add_argument(
        "--source-key-id", required=True, metavar="KEY_ID", help="the key the files are under"
    )
    p.add_argument("--pattern", default="*", help="file name pattern (default '*')")
    p.add_argument("--aad-context", metavar="TEXT", help="AAD of the files (old and new)")
    p.add_argument(
        "--source-aad-context", metavar="TEXT", help="AAD of the old files if it differs"
    )
    p.add_argument("--concurrency", type=count, default=8, metavar="N", help="files in flight")
    p.add_argument(
        "--state-file",
        metavar="FILE",
        help=f"record of finished files (default DIR/{reencrypt.STATE_FILE_NAME})",
    )
    p.add_argument(
        "--limit", type=count, metavar="N", help="re-encrypt at most N files in this run"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    return kms


def _os_error(exc: OSError) -> str:
    if exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc.strerror or exc)


def main(args: argparse.Namespace) -> int:
    """Run a `hsmkms kms` command: 0 on success, 1 when the server refuses, 2 on local errors."""
    try:
        connection = resolve(
            endpoint=args.endpoint,
            token_file=args.token_file,
            ca=args.ca,
            profile=args.profile,
            timeout=args.timeout,
            environ=os.environ,
        )
        with Client(connection) as client:
            status: int = args.kms_run(args, Context(client, args.format))
            return status
    except grpc.RpcError as exc:
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
        name = code.name if code is not None else "UNKNOWN"
        print(f"hsmkms: {name}: {details}", file=sys.stderr)
        return 1
    except OperationError as exc:
        print(f"hsmkms: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(f"hsmkms: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hsmkms: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hsmkms: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a one-line report, never a stack trace
        print(f"hsmkms: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
