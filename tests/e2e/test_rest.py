"""REST/JSON on Yandex Cloud KMS's paths, through a real HTTP client, same rules as gRPC."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DevServer
from test_metrics import free_port


class Http:
    def __init__(self, base: str, token: str | None = None, ca: Path | None = None) -> None:
        self.base = base
        self.token = token
        self.context = ssl.create_default_context(cafile=str(ca)) if ca else None

    def __call__(self, verb: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=verb)
        request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    base = tmp_path_factory.mktemp("rest")
    port = free_port()
    dev = DevServer(
        base / "data",
        base / "server.log",
        extra_args=("--workers", "1", "--rest-listen", f"127.0.0.1:{port}"),
    )
    dev.start()
    yield Http(f"http://127.0.0.1:{port}")
    dev.stop()


def create(http: Http, folder: str = "rest-folder", **extra: Any) -> dict[str, Any]:
    status, op = http(
        "POST", "/kms/v1/keys", {"folderId": folder, "defaultAlgorithm": "AES_256", **extra}
    )
    assert status == 200, op
    assert (
        op["done"]
        and op["response"]["@type"] == "type.googleapis.com/yandex.cloud.kms.v1.SymmetricKey"
    )
    return dict(op["response"])


def test_every_path(rest: Http) -> None:
    key = create(rest, name="r", labels={"env": "test"})
    key_id, first = key["id"], key["primaryVersion"]["id"]
    assert rest("GET", f"/kms/v1/keys/{key_id}")[1]["name"] == "r"
    listed = rest("GET", "/kms/v1/keys?folderId=rest-folder&pageSize=1000")[1]
    assert key_id in [k["id"] for k in listed["keys"]]
    status, enc = rest(
        "POST",
        f"/kms/v1/keys/{key_id}:encrypt",
        {"plaintext": b64(b"hello"), "aadContext": b64(b"a")},
    )
    assert status == 200 and enc["versionId"] == first
    dec = rest(
        "POST",
        f"/kms/v1/keys/{key_id}:decrypt",
        {"ciphertext": enc["ciphertext"], "aadContext": b64(b"a")},
    )[1]
    assert base64.b64decode(dec["plaintext"]) == b"hello"
    rotated = rest("POST", f"/kms/v1/keys/{key_id}:rotate")[1]
    second = rotated["response"]["primaryVersion"]["id"]
    other = create(rest)
    re = rest(
        "POST",
        f"/kms/v1/keys/{other['id']}:reEncrypt",
        {"sourceKeyId": key_id, "ciphertext": enc["ciphertext"], "sourceAadContext": b64(b"a")},
    )[1]
    assert re["sourceVersionId"] == first and re["keyId"] == other["id"]
    dk = rest("POST", f"/kms/v1/keys/{key_id}:generateDataKey", {"dataKeySpec": "AES_128"})[1]
    assert len(base64.b64decode(dk["dataKeyPlaintext"])) == 16 and dk["versionId"] == second
    versions = rest("GET", f"/kms/v1/keys/{key_id}/versions")[1]["keyVersions"]
    assert {v["id"] for v in versions} == {first, second}
    assert rest("POST", f"/kms/v1/keys/{key_id}:setPrimaryVersion", {"versionId": first})[0] == 200
    assert rest("POST", f"/kms/v1/keys/{key_id}:setPrimaryVersion", {"versionId": second})[0] == 200
    sched = rest(
        "POST",
        f"/kms/v1/keys/{key_id}:scheduleVersionDestruction",
        {"versionId": first, "pendingPeriod": "3600s"},
    )[1]
    assert sched["response"]["status"] == "SCHEDULED_FOR_DESTRUCTION"
    assert (
        rest("POST", f"/kms/v1/keys/{key_id}:cancelVersionDestruction", {"versionId": first})[1][
            "response"
        ]["status"]
        == "ACTIVE"
    )
    updated = rest(
        "PATCH",
        f"/kms/v1/keys/{key_id}",
        {
            "updateMask": "description,deletionProtection",
            "description": "d",
            "deletionProtection": True,
        },
    )[1]
    assert updated["response"]["description"] == "d" and updated["response"]["deletionProtection"]
    ops = rest("GET", f"/kms/v1/keys/{key_id}/operations?pageSize=2")[1]
    assert len(ops["operations"]) == 2 and ops["nextPageToken"]
    assert rest("GET", f"/operations/{ops['operations'][0]['id']}")[1] == ops["operations"][0]
    binding = {"roleId": "kms.viewer", "subject": {"id": "v", "type": "userAccount"}}
    assert (
        rest("POST", f"/kms/v1/keys/{key_id}:setAccessBindings", {"accessBindings": [binding]})[0]
        == 200
    )
    assert (
        rest(
            "POST",
            f"/kms/v1/keys/{key_id}:updateAccessBindings",
            {
                "accessBindingDeltas": [
                    {"action": "ADD", "accessBinding": {**binding, "roleId": "kms.editor"}}
                ]
            },
        )[0]
        == 200
    )
    bindings = rest("GET", f"/kms/v1/keys/{key_id}:listAccessBindings")[1]["accessBindings"]
    assert sorted(b["roleId"] for b in bindings) == ["kms.editor", "kms.viewer"]
    status, err = rest("DELETE", f"/kms/v1/keys/{key_id}")
    assert status == 400 and "deletion_protection" in err["message"]  # FAILED_PRECONDITION
    rest(
        "PATCH",
        f"/kms/v1/keys/{key_id}",
        {"updateMask": "deletionProtection", "deletionProtection": False},
    )
    assert rest("DELETE", f"/kms/v1/keys/{key_id}")[0] == 200
    assert rest("GET", f"/kms/v1/keys/{key_id}")[0] == 404


@pytest.mark.parametrize(
    ("verb", "path", "body", "status", "fragment"),
    [
        ("POST", "/kms/v1/keys/hkknope:encrypt", {"plaintext": "eA=="}, 404, "not found"),
        ("POST", "/kms/v1/keys/k:encrypt", {}, 400, "plaintext"),
        (
            "POST",
            "/kms/v1/keys/k:encrypt",
            {"plaintext": "eA==", "bogus": 1},
            400,
            "invalid request",
        ),
        ("POST", "/kms/v1/keys", {"folderId": "f"}, 400, "default_algorithm"),
        ("GET", "/kms/v1/keys", None, 400, "folder_id"),
        ("GET", "/kms/v1/nothing-here", None, 404, "no API"),
    ],
)
def test_errors(rest: Http, verb: str, path: str, body: Any, status: int, fragment: str) -> None:
    got, err = rest(verb, path, body)
    assert got == status and fragment in err["message"], err


def test_bad_ciphertext_is_400(rest: Http) -> None:
    key_id = create(rest)["id"]
    status, err = rest("POST", f"/kms/v1/keys/{key_id}:decrypt", {"ciphertext": b64(b"garbage")})
    assert status == 400 and err["code"] == 3


def test_auth_and_tls(tmp_path: Path) -> None:
    port = free_port()
    dev = DevServer(
        tmp_path / "data",
        tmp_path / "server.log",
        extra_args=("--auth", "--workers", "1", "--rest-listen", f"127.0.0.1:{port}"),
    )
    dev.start()
    try:
        ca = dev.data_dir / "tls" / "ca.pem"
        anonymous = Http(f"https://127.0.0.1:{port}", ca=ca)
        assert anonymous("GET", "/kms/v1/keys?folderId=f")[0] == 401
        assert (
            Http(f"https://127.0.0.1:{port}", token="hkt1.nope.nope", ca=ca)(
                "GET", "/kms/v1/keys?folderId=f"
            )[0]
            == 401
        )
        admin = Http(
            f"https://127.0.0.1:{port}",
            token=(dev.data_dir / "admin.token").read_text().strip(),
            ca=ca,
        )
        key = create(admin, folder="secure")
        assert admin("GET", f"/kms/v1/keys/{key['id']}")[0] == 200
        audit = (dev.data_dir / "audit.log").read_text()
        assert f'"key_id":"{key["id"]}"' in audit and "http:127.0.0.1" in audit
    finally:
        dev.stop()


def test_rest_with_two_workers(tmp_path: Path) -> None:
    port = free_port()
    dev = DevServer(
        tmp_path / "data",
        tmp_path / "server.log",
        extra_args=("--workers", "2", "--rest-listen", f"127.0.0.1:{port}"),
    )
    dev.start()
    try:
        http = Http(f"http://127.0.0.1:{port}")
        for _ in range(10):  # new connections, spread over both workers
            key = create(http)
            enc = http("POST", f"/kms/v1/keys/{key['id']}:encrypt", {"plaintext": b64(b"w")})[1]
            dec = http(
                "POST", f"/kms/v1/keys/{key['id']}:decrypt", {"ciphertext": enc["ciphertext"]}
            )[1]
            assert base64.b64decode(dec["plaintext"]) == b"w"
        pids = {
            json.loads(line)["pid"]
            for line in (dev.data_dir / "audit.log").read_text().splitlines()
        }
        assert len(pids) == 2
    finally:
        dev.stop()
