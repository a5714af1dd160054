"""`make bench`: hsmkms throughput, latency and CPU per call, beside the floors, in one table.

Measured in one run on this machine: Encrypt 64 B, Encrypt 32 KiB, Decrypt, ReEncrypt and
GenerateDataKey driven by h2load with pre-encoded gRPC requests; beside them the framework floor
(a trivial RPC on the same grpcio server stack, benchmarks/floor_server.py) and the HSM floor
(raw python-pkcs11 AES-GCM on the same token, benchmarks/hsm_floor.py); one worker process
against all; one key against many (10,000 by default). Floors and servers are measured
interleaved, in several rounds (alternating the order), and the table shows medians. See
docs/benchmarks.md.

Usage: python benchmarks/bench.py [--quick] [--rounds N] [--seconds S] [--keys N] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import grpc
from bench_h2load import Load, grpc_frame, h2load_version, run_h2load
from bench_kms import KeyRef, KmsRpcs, Rpc, create_key, create_keys, floor_rpc, response_size
from bench_procs import BenchError, Service

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable

TARGET_FLOOR_RATIO = 0.8
TARGET_KEYS_RATIO = 0.9
TARGET_P99_MS = 10.0
HALF = 0.5


# -- options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: float  # per measured h2load run and per HSM floor run
    warmup_s: int  # per h2load case, once, before the rounds (also calibrates the run length)
    keys: int  # for the many-keys case
    workers: int  # "all workers"
    clients_per_worker: int
    concurrency: int  # requests in flight, in total
    out: Path | None

    def load(self, workers: int) -> Load:
        clients = self.clients_per_worker * workers
        return Load(clients, max(1, math.ceil(self.concurrency / clients)))


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: about a minute")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 2)")
    parser.add_argument("--seconds", type=float, help="length of each run (default 2; quick 1)")
    parser.add_argument("--keys", type=int, help="keys in the many-keys case (default 10000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="'all workers' (default: nproc)",
    )
    parser.add_argument("--clients-per-worker", type=int, default=4, help="h2load -c per worker")
    parser.add_argument("--concurrency", type=int, default=16, help="h2load -c times -m, in total")
    parser.add_argument("--out", type=Path, help="also write the results as markdown to FILE")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (1.0 if args.quick else 2.0)
    keys = args.keys or (300 if args.quick else 10_000)
    if rounds < 1 or seconds <= 0 or keys < 1 or args.workers < 1:
        parser.error("--rounds, --seconds, --keys and --workers must be positive")
    return Options(
        rounds=rounds,
        seconds=seconds,
        warmup_s=1,
        keys=keys,
        workers=args.workers,
        clients_per_worker=args.clients_per_worker,
        concurrency=args.concurrency,
        out=args.out,
    )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- what is measured ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    cpu_us: float


@dataclass
class Target:
    """A pre-encoded call to one server, checked and sized before any load is put on it."""

    service: Service
    rpc: Rpc
    body_file: Path
    response_size: int

    @property
    def url(self) -> str:
        return f"http://{self.service.address}{self.rpc.path}"


@dataclass
class LoadCase:
    """An h2load measurement: same request, same parallelism, once per round."""

    label: str
    workers: int
    target: Target
    load: Load
    requests: int = 0  # per run, set by calibrate()
    samples: list[Sample] = field(default_factory=list)


@dataclass
class HalfRate:
    """Encrypt at half of the same round's peak: latency when the server is not saturated."""

    peak: LoadCase
    offered: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


@dataclass
class HsmCase:
    label: str
    mode: str
    samples: list[Sample] = field(default_factory=list)


class Bench:
    def __init__(self, opts: Options, work: Path) -> None:
        self.opts = opts
        self.work = work
        self.runs = 0  # h2load runs verified
        self.calls_checked = 0  # requests sent and checked by a gRPC client

    # -- h2load -------------------------------------------------------------------------------

    def calibrate(self, case: LoadCase) -> None:
        """Warm the server up; size the measured runs to last about opts.seconds."""
        target = case.target
        run = run_h2load(
            target.url,
            target.body_file,
            case.load,
            self.work / "h2load.log",
            target.response_size,
            duration_s=self.opts.warmup_s,
        )
        self.runs += 1
        floor = case.load.clients * case.load.streams * 4
        case.requests = max(floor, round(run.rps * self.opts.seconds))

    def _run(
        self,
        target: Target,
        load: Load,
        requests: int,
        rps_per_client: int | None = None,
        stagger_ms: int | None = None,
    ) -> Sample:
        target.service.check_alive()
        cpu = target.service.cpu_seconds()
        run = run_h2load(
            target.url,
            target.body_file,
            load,
            self.work / "h2load.log",
            target.response_size,
            requests=requests,
            rps_per_client=rps_per_client,
            stagger_ms=stagger_ms,
        )
        cpu = target.service.cpu_seconds() - cpu
        self.runs += 1
        return Sample(
            rps=run.rps,
            p50_ms=run.percentile_ms(50),
            p99_ms=run.percentile_ms(99),
            cpu_us=cpu / run.requests * 1e6,
        )

    def measure(self, case: LoadCase) -> Sample:
        sample = self._run(case.target, case.load, case.requests)
        case.samples.append(sample)
        return sample

    def measure_peak(self, case: LoadCase, half: HalfRate) -> Sample:
        """The peak rate, then a run at half of it."""
        sample = self.measure(case)
        self.measure_half(half)
        return sample

    def measure_half(self, half: HalfRate) -> Sample:
        case = half.peak
        clients = case.load.clients
        per_client = max(1, round(HALF * case.samples[-1].rps / clients))
        offered = per_client * clients
        requests = max(clients * 4, round(offered * self.opts.seconds))
        # Connections opened 1/offered apart: requests arrive evenly spaced, not in bursts.
        stagger_ms = max(1, round(1000 / offered))
        sample = self._run(case.target, case.load, requests, per_client, stagger_ms)
        half.offered.append(offered)
        half.samples.append(sample)
        return sample


# -- set-up ---------------------------------------------------------------------------------------


def workers_supported() -> bool:
    help_text = subprocess.run(
        [PYTHON, "-m", "hsmkms.cli", "dev", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    return "--workers" in help_text


def hsmkms_service(work: Path, name: str, workers: int | None) -> Service:
    """`hsmkms dev` in its own data directory; workers=None: without --workers (unsupported)."""
    argv = [PYTHON, "-m", "hsmkms.cli", "dev", "--data-dir", str(work / name)]
    argv += ["--listen", "127.0.0.1:0"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return Service(name, argv, work / f"{name}.log")


def floor_service(work: Path, name: str, workers: int) -> Service:
    argv = [PYTHON, str(BENCH_DIR / "floor_server.py"), "--listen", "127.0.0.1:0"]
    argv += ["--workers", str(workers)]
    return Service(name, argv, work / f"{name}.log")


class HsmFloor:
    """benchmarks/hsm_floor.py on a server's token, driven over its stdin/stdout."""

    def __init__(self, data_dir: Path, key: KeyRef, log_path: Path) -> None:
        self._log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                PYTHON,
                str(BENCH_DIR / "hsm_floor.py"),
                *("--data-dir", str(data_dir), "--version-id", key.version_id),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        try:
            self._read("ready")
        except BaseException:
            self.close()
            raise

    def _read(self, what: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self._log.flush()
            log = self._log_path.read_text(errors="replace").strip()
            raise BenchError(f"the HSM floor process exited instead of sending {what}:\n{log}")
        return line

    def measure(self, case: HsmCase, seconds: float) -> Sample:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{case.mode} {seconds}\n")
        self.process.stdin.flush()
        result = json.loads(self._read("a result"))
        ops, wall, cpu = result["ops"], result["seconds"], result["cpu_seconds"]
        sample = Sample(rps=ops / wall, p50_ms=None, p99_ms=None, cpu_us=cpu / ops * 1e6)
        case.samples.append(sample)
        return sample

    def close(self) -> None:
        """End of input makes it exit."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@contextlib.contextmanager
def running(services: list[Service]) -> Iterator[None]:
    """Start services in parallel; stop every one of them however the block ends."""
    try:
        for service in services:
            service.launch()
        for service in services:
            service.wait_listening()
            progress(f"  {service.name} listening on {service.address}")
        yield
    except BaseException:
        for service in services:
            if service.process is not None:
                tail = service.log_tail(10)
                if tail:
                    progress(f"--- last lines of the {service.name} log:\n{tail}")
        raise
    finally:
        for service in services:
            service.stop()


def make_target(bench: Bench, service: Service, channel: grpc.Channel, rpc: Rpc) -> Target:
    size = response_size(channel, rpc)
    bench.calls_checked += 2
    slug = rpc.name.lower().replace(" ", "-").replace(",", "")
    body_file = bench.work / f"{service.name}-{slug}.grpc"
    body_file.write_bytes(grpc_frame(rpc.request))
    return Target(service, rpc, body_file, size)


# -- the run --------------------------------------------------------------------------------------


ENCRYPT_64 = "Encrypt 64 B"
OPERATIONS = ("Encrypt 32 KiB", "Decrypt 64 B", "ReEncrypt 64 B", "GenerateDataKey AES-256")


def kms_rpcs(channel: grpc.Channel, key: KeyRef) -> dict[str, Rpc]:
    calls = KmsRpcs(channel, key)
    return {
        ENCRYPT_64: calls.encrypt(64, ENCRYPT_64),
        "Encrypt 32 KiB": calls.encrypt(32 * 1024, "Encrypt 32 KiB"),
        "Decrypt 64 B": calls.decrypt("Decrypt 64 B"),
        "ReEncrypt 64 B": calls.re_encrypt("ReEncrypt 64 B"),
        "GenerateDataKey AES-256": calls.generate_data_key("GenerateDataKey AES-256"),
    }


@dataclass
class Results:
    """Everything the table is made of."""

    opts: Options
    workers_option: bool  # `hsmkms dev` has --workers
    floors: dict[int, LoadCase]  # workers → framework floor
    kms: dict[int, dict[str, LoadCase]]  # workers → operation → case
    many_keys: LoadCase
    halves: dict[int, HalfRate]
    hsm: list[HsmCase]
    key_rate: float
    runs: int
    calls_checked: int
    elapsed_s: float
    source: str  # the hsmkms commit measured


def run(opts: Options) -> Results:
    started = time.monotonic()
    source, code = source_version(), code_fingerprint()
    h2load_version()  # fails early when h2load is missing
    # Without --workers, hsmkms runs one process. With it, pass it always: its default may be
    # one worker per CPU.
    supported = workers_supported()
    one = 1 if supported else None
    multi = supported and opts.workers > 1
    all_w = opts.workers
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hsmkms-bench-")))
        bench = Bench(opts, work)
        floors = {1: floor_service(work, "floor-1", 1)}
        kms = {1: hsmkms_service(work, "hsmkms-1", one)}
        many = hsmkms_service(work, "hsmkms-keys", one)
        if all_w > 1:
            floors[all_w] = floor_service(work, f"floor-{all_w}", all_w)
            if multi:
                kms[all_w] = hsmkms_service(work, f"hsmkms-{all_w}", all_w)
        progress("starting servers")
        stack.enter_context(running([*floors.values(), *kms.values(), many]))
        channels = {
            s.name: stack.enter_context(grpc.insecure_channel(s.address))
            for s in [*kms.values(), many]
        }

        progress(f"creating {opts.keys} keys through the API")
        key_rate = create_keys(channels[many.name], opts.keys)
        last = create_key(channels[many.name], "created-last")
        progress(
            f"  {opts.keys} keys at {key_rate:.0f} keys/s, then the measured key {last.key_id}"
        )

        progress("checking every request with a gRPC client")
        keys = {w: create_key(channels[s.name], "bench") for w, s in kms.items()}
        targets = {
            w: {
                op: make_target(bench, s, channels[s.name], rpc)
                for op, rpc in kms_rpcs(channels[s.name], keys[w]).items()
            }
            for w, s in kms.items()
        }
        many_target = make_target(
            bench, many, channels[many.name], kms_rpcs(channels[many.name], last)[ENCRYPT_64]
        )
        echo = floor_rpc(targets[1][ENCRYPT_64].rpc.request)
        floor_targets = {}
        for w, service in floors.items():
            with grpc.insecure_channel(service.address) as channel:
                floor_targets[w] = make_target(bench, service, channel, echo)

        floor_cases = {
            w: LoadCase("framework floor: trivial RPC", w, t, opts.load(w))
            for w, t in floor_targets.items()
        }
        kms_cases = {
            w: {op: LoadCase(op, w, t, opts.load(w)) for op, t in ops.items()}
            for w, ops in targets.items()
        }
        many_case = LoadCase(ENCRYPT_64, 1, many_target, opts.load(1))
        halves = {w: HalfRate(cases[ENCRYPT_64]) for w, cases in kms_cases.items()}
        # The HSM floor on the one-key token, and on the token holding all the keys.
        hsm_floors: list[tuple[HsmCase, HsmFloor]] = []
        for label, service, key in [
            ("HSM floor: python-pkcs11 AES-GCM 64 B", kms[1], keys[1]),
            (f"HSM floor, token with {opts.keys:,} keys", many, last),
        ]:
            floor = HsmFloor(work / service.name, key, work / f"hsm-floor-{service.name}.log")
            stack.callback(floor.close)
            hsm_floors.append((HsmCase(label, "encrypt"), floor))

        load_cases = [*floor_cases.values(), many_case]
        load_cases += [c for cases in kms_cases.values() for c in cases.values()]
        progress("warming up and calibrating")
        for case in load_cases:
            bench.calibrate(case)

        # One unit per step; a round runs them in order, the next round in reverse. Each floor
        # sits next to the Encrypt it is compared with, and 10,000 keys next to 1 key.
        units: list[tuple[str, Callable[[], Sample]]] = [
            (case.label, functools.partial(floor.measure, case, opts.seconds))
            for case, floor in hsm_floors
        ]
        for w, floor_case in sorted(floor_cases.items()):
            units.append((f"framework floor [{w}w]", functools.partial(bench.measure, floor_case)))
            cases = kms_cases.get(w, {})
            if cases:
                peak = functools.partial(bench.measure_peak, cases[ENCRYPT_64], halves[w])
                units.append((f"{ENCRYPT_64} and half rate [{w}w]", peak))
            if w == 1:
                units.append((f"{ENCRYPT_64}, {opts.keys} keys", lambda: bench.measure(many_case)))
            units += [
                (f"{op} [{w}w]", functools.partial(bench.measure, cases[op]))
                for op in OPERATIONS
                if op in cases
            ]

        for r in range(opts.rounds):
            order = units if r % 2 == 0 else units[::-1]
            progress(f"round {r + 1}/{opts.rounds}")
            for name, unit in order:
                sample = unit()
                progress(f"  {name}: {sample.rps:,.0f}/s")

        progress("checking every request again")
        for target in [
            *floor_targets.values(),
            many_target,
            *(t for ops in targets.values() for t in ops.values()),
        ]:
            channel = channels.get(target.service.name)
            if channel is None:
                with grpc.insecure_channel(target.service.address) as floor_channel:
                    size = response_size(floor_channel, target.rpc)
            else:
                size = response_size(channel, target.rpc)
            bench.calls_checked += 2
            if size != target.response_size:
                raise BenchError(f"{target.rpc.name}: response size changed during the run")

    return Results(
        opts=opts,
        workers_option=supported,
        floors=floor_cases,
        kms=kms_cases,
        many_keys=many_case,
        halves=halves,
        hsm=[case for case, _ in hsm_floors],
        key_rate=key_rate,
        runs=bench.runs,
        calls_checked=bench.calls_checked,
        elapsed_s=time.monotonic() - started,
        source=source
        + "".join(f"; {path} edited during the run" for path in edited(code, code_fingerprint())),
    )


# -- the table ------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def ratios(a: list[Sample], b: list[Sample]) -> float:
    """Median over rounds of a's rate / b's rate measured in the same round."""
    return median([x.rps / y.rps for x, y in zip(a, b, strict=True)])


def verdict(ok: bool, value: str, target: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}: {value} (target {target})"


HEADER = (
    "measurement",
    "workers",
    "req/s",
    "req/s range",
    "p50 ms",
    "p99 ms",
    "CPU µs/req",
    "x floor",
    "target",
)


def sample_cells(samples: list[Sample]) -> list[str]:
    rates = [s.rps for s in samples]
    p50 = [s.p50_ms for s in samples if s.p50_ms is not None]
    p99 = [s.p99_ms for s in samples if s.p99_ms is not None]
    return [
        fmt_rate(median(rates)),
        f"{fmt_rate(min(rates))}-{fmt_rate(max(rates))}",
        fmt_ms(median(p50)) if p50 else "—",
        fmt_ms(median(p99)) if p99 else "—",
        fmt_rate(median([s.cpu_us for s in samples])),
    ]


def case_row(label: str, case: LoadCase, floor: LoadCase, target: str = "") -> list[str]:
    ratio = ratios(case.samples, floor.samples)
    return [label, str(case.workers), *sample_cells(case.samples), f"{ratio:.2f}", target]


def table_rows(res: Results) -> list[list[str]]:
    rows = [[h.label, "1 thread", *sample_cells(h.samples), "", ""] for h in res.hsm]
    for w, floor in sorted(res.floors.items()):
        rows.append([f"{floor.label} (echo)", str(w), *sample_cells(floor.samples), "1.00", ""])
        cases = res.kms.get(w)
        if cases is None:
            for name in (ENCRYPT_64, f"{ENCRYPT_64} at ½ peak", *OPERATIONS):
                rows.append([name, str(w), "n/a (no --workers)", *[""] * 6])
            continue
        encrypt = cases[ENCRYPT_64]
        ratio = ratios(encrypt.samples, floor.samples)
        target = verdict(
            ratio >= TARGET_FLOOR_RATIO, f"{ratio:.2f}", f"≥ {TARGET_FLOOR_RATIO:.2f} x floor"
        )
        rows.append(case_row(ENCRYPT_64, encrypt, floor, target))
        if w == 1:
            many = res.many_keys
            ratio = ratios(many.samples, encrypt.samples)
            target = verdict(
                ratio >= TARGET_KEYS_RATIO, f"{ratio:.2f} x 1 key", f"≥ {TARGET_KEYS_RATIO:.2f}"
            )
            label = f"{ENCRYPT_64}, {res.opts.keys:,} keys (the one created last)"
            rows.append(case_row(label, many, floor, target))
        half = res.halves[w]
        p99 = median([s.p99_ms for s in half.samples if s.p99_ms is not None])
        target = verdict(p99 < TARGET_P99_MS, f"p99 {fmt_ms(p99)} ms", f"< {TARGET_P99_MS:g} ms")
        label = f"{ENCRYPT_64} at ½ peak ({fmt_rate(median(half.offered))}/s offered)"
        rows.append([label, str(w), *sample_cells(half.samples), "", target])
        rows += [case_row(op, cases[op], floor) for op in OPERATIONS]
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(HEADER), *rows]) for i in range(len(HEADER))]
    right = {2, 3, 4, 5, 6, 7}

    def line(cells: list[str] | tuple[str, ...]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + (":" if i in right else "-") for i, w in enumerate(widths)]
    return "\n".join([line(HEADER), line(rule), *(line(r) for r in rows)])


def source_version() -> str:
    """The commit measured, and whether the package had uncommitted changes."""
    repo = BENCH_DIR.parent

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        except OSError:
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown commit"
    dirty = git("status", "--porcelain", "--", "hsmkms")
    return f"commit {commit}" + (" with uncommitted changes in hsmkms/" if dirty else "")


def code_fingerprint() -> dict[str, str]:
    """Digests of the package's source files, to notice edits made during a run."""
    repo = BENCH_DIR.parent
    return {
        path.relative_to(repo).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((repo / "hsmkms").rglob("*.py"))
    }


def edited(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def machine_lines(source: str) -> list[str]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        (
            int(ln.split()[1])
            for ln in read("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    os_name = next(
        (
            ln.split("=", 1)[1].strip('"')
            for ln in read("/etc/os-release").splitlines()
            if ln.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    softhsm = "unknown"
    if shutil.which("softhsm2-util"):
        out = subprocess.run(["softhsm2-util", "--version"], capture_output=True, text=True)
        softhsm = out.stdout.strip() or softhsm

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"- hsmkms: {source}",
        f"- machine: {len(os.sched_getaffinity(0))} CPUs ({model}), "
        f"{mem_kib / 1024**2:.1f} GiB RAM, {os_name}, Linux {platform.release()}",
        f"- software: Python {platform.python_version()}, grpcio {version('grpcio')}, "
        f"protobuf {version('protobuf')}, python-pkcs11 {version('python-pkcs11')}, "
        f"SoftHSM2 {softhsm}, {h2load_version()}",
    ]


def report(res: Results) -> str:
    opts = res.opts
    one, all_w = opts.load(1), opts.load(opts.workers)
    notes = [
        f"Medians of {opts.rounds} interleaved rounds (order reversed every other round); "
        "'req/s range' is the lowest and highest round. 'x floor': the median over rounds of "
        "req/s / the framework floor's req/s in the same round, at the same parallelism.",
        f"h2load: -n sized for ~{opts.seconds:g} s per run after a {opts.warmup_s} s warm-up; "
        f"1 worker: -c {one.clients} -m {one.streams}; {opts.workers} workers: "
        f"-c {all_w.clients} -m {all_w.streams}. p50/p99: h2load's per-request times, at "
        "peak with every stream busy; the ½-peak rows offer half of the same round's peak "
        "(--rps per connection, connections opened 1/rate apart so requests arrive evenly).",
        "CPU µs/req: user+system CPU of the server's processes (or of the python-pkcs11 "
        "process for the HSM floor) / requests completed.",
        f"{opts.keys:,} keys: created through the API ({res.key_rate:.0f} keys/s) in a separate "
        "server; the measured Encrypt uses the key created after all of them, which shows "
        "whether per-call cost grows with the number of keys stored (it does not exercise a "
        "random access pattern over them).",
        f"Correctness: {res.calls_checked} calls with the exact h2load request bytes were sent "
        "by a gRPC client, before and after the load, and their responses decoded and checked; "
        f"all {res.runs} h2load runs had every request succeed and received exactly "
        "requests * (5 + response size) bytes of response messages (a gRPC error carries none).",
    ]
    if not res.workers_option and opts.workers > 1:
        notes.append(
            f"'hsmkms dev' has no --workers option yet: the {opts.workers}-worker rows are "
            "n/a; the multi-process framework floor is shown for reference."
        )
    notes.append(f"Total run time: {res.elapsed_s / 60:.1f} min.")
    parts = [*machine_lines(res.source), "", markdown_table(table_rows(res)), ""]
    parts += [f"- {n}" for n in notes]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    # SIGTERM (e.g. from make) unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = run(opts)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:  # a set-up call (creating keys) failed
        print(f"bench: gRPC call failed: {exc.code()} {exc.details()}", file=sys.stderr)
        return 1
    text = report(results)
    print(text, end="")
    if opts.out is not None:
        opts.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
