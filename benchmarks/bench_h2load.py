"""Driving h2load with a pre-encoded gRPC request, and proving its responses were real.

h2load counts an HTTP 200 as a success, and a failed gRPC call is an HTTP 200 too: its status is
in the trailers, and it carries no message. So besides h2load's own counters, every run must
have received exactly `requests * (5 + response size)` bytes of DATA: one length-prefixed
response message of the expected size per request, which a trailers-only error never sends.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench_procs import BenchError

GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")

_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_STATUS_2XX = re.compile(r"status codes: (\d+) 2xx")
_DATA_BYTES = re.compile(r"\((\d+)\) data")
_RPS = re.compile(r"finished in \S+, ([\d.]+) req/s")


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def h2load_version() -> str:
    path = shutil.which("h2load")
    if path is None:
        raise BenchError("h2load not found: run `make bench-deps` (Debian: nghttp2-client)")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    return out.strip() or "h2load (unknown version)"


@dataclass(frozen=True)
class Load:
    """h2load's parallelism: connections and concurrent streams on each."""

    clients: int
    streams: int


@dataclass(frozen=True)
class Run:
    requests: int  # completed, all verified successful
    rps: float  # as h2load reports it
    latencies_us: list[int]  # per request, from h2load's --log-file

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_us)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] / 1000


def run_h2load(
    url: str,
    body_file: Path,
    load: Load,
    log_file: Path,
    response_size: int,
    *,
    requests: int | None = None,
    duration_s: int | None = None,
    rps_per_client: int | None = None,
    stagger_ms: int | None = None,
) -> Run:
    """Run h2load once (either `requests` or `duration_s`) and verify every response.

    With `requests`, exactly that many must complete; with `duration_s` (warm-up and
    calibration), whatever completed must all be successful. `rps_per_client` limits each
    connection's rate; `stagger_ms` opens the connections that far apart, so that their requests
    do not arrive in bursts of one per connection.
    """
    argv = ["h2load", "-t", "1", "-c", str(load.clients), "-m", str(load.streams)]
    for header in GRPC_HEADERS:
        argv += ["-H", header]
    argv += ["-d", str(body_file), "--log-file", str(log_file)]
    if requests is not None:
        argv += ["-n", str(requests)]
        timeout = 600.0
    else:
        assert duration_s is not None
        argv += ["-D", str(duration_s)]
        timeout = duration_s + 60.0
    if rps_per_client is not None:
        argv += ["--rps", str(rps_per_client)]
    if stagger_ms is not None:
        argv += ["--rate", "1", "--rate-period", f"{stagger_ms}ms"]
    argv.append(url)
    log_file.unlink(missing_ok=True)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"h2load did not finish in {timeout:.0f} s: {' '.join(argv)}") from None
    out = proc.stdout
    counts = _REQUESTS.search(out)
    status = _STATUS_2XX.search(out)
    data = _DATA_BYTES.search(out)
    rps = _RPS.search(out)
    if proc.returncode != 0 or not (counts and status and data and rps):
        raise BenchError(f"h2load failed ({proc.returncode}): {' '.join(argv)}\n{out}{proc.stderr}")
    _total, _started, done, succeeded, failed, errored, timed_out = map(int, counts.groups())
    ok_2xx, data_bytes = int(status.group(1)), int(data.group(1))
    expected = requests if requests is not None else done
    latencies = _read_log(log_file)
    problems = []
    if failed or errored or timed_out:
        problems.append(f"{failed} failed, {errored} errored, {timed_out} timed out")
    if not done == succeeded == ok_2xx == expected == len(latencies):
        problems.append(
            f"expected {expected} requests: {done} done, {succeeded} succeeded, {ok_2xx} 2xx, "
            f"{len(latencies)} logged with HTTP 200"
        )
    want_bytes = expected * (5 + response_size)
    if data_bytes != want_bytes:
        problems.append(
            f"received {data_bytes} bytes of response messages, expected {want_bytes} = "
            f"{expected} * (5 + {response_size}): some calls did not return a real response"
        )
    if problems:
        raise BenchError(f"h2load run not trustworthy: {'; '.join(problems)}\n{' '.join(argv)}")
    return Run(requests=expected, rps=float(rps.group(1)), latencies_us=latencies)


def _read_log(log_file: Path) -> list[int]:
    """Durations (µs) of the requests answered with HTTP 200: columns start, status, duration."""
    latencies = []
    with log_file.open() as f:
        for line in f:
            columns = line.split("\t")
            if len(columns) >= 3 and columns[1] == "200":
                latencies.append(int(columns[2]))
    return latencies
