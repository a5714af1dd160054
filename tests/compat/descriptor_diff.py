"""Compare descriptors with the official yandexcloud package (run under its interpreter).

Reads a serialized FileDescriptorSet (ours) from argv[1], loads the official module of each
file, and prints one line per file: "IDENTICAL name" or "DIFF name" followed by a diff.
Exit status 1 if any file differs or is missing from the official package.
"""

from __future__ import annotations

import difflib
import importlib
import sys

from google.protobuf import descriptor_pb2
from google.protobuf.message import Message


def normalise(msg: Message) -> None:
    # json_name is filled in by protoc for some inputs and not others; it is not on the wire.
    for fd, value in msg.ListFields():
        if fd.name == "json_name":
            msg.ClearField("json_name")
        elif fd.message_type is not None:
            for item in value if fd.is_repeated else [value]:
                normalise(item)


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    names = [fdp.name for fdp in descriptor_pb2.FileDescriptorSet.FromString(raw).file]
    modules = {
        name: importlib.import_module(name[: -len(".proto")].replace("/", ".") + "_pb2")
        for name in names
    }
    # Parse again now that the option extensions are registered, so they are not left unknown.
    ours = descriptor_pb2.FileDescriptorSet.FromString(raw)
    failed = False
    for mine in ours.file:
        module = modules[mine.name]
        official = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(official)
        for fdp in (mine, official):
            fdp.ClearField("source_code_info")
            normalise(fdp)
        a, b = str(official).splitlines(), str(mine).splitlines()
        if a == b:
            print("IDENTICAL", mine.name)
            continue
        failed = True
        print("DIFF", mine.name)
        print("\n".join(difflib.unified_diff(a, b, "official", "ours", lineterm="", n=2)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
