#!/usr/bin/env python3
"""Drives `wasmstash serve` with many concurrent large NDJSON batches of real
access-log lines and records the process's peak memory (VmHWM, and VmRSS
sampled) next to the held-bytes gauge (`wasmstash_request_body_bytes_held`)
it reports, so that what the budget counts can be set against what the
process holds.

    bench/serve/memory.py --bin target/release/wasmstash --pipeline apache \
        --clients 64 --lines 10000 --seconds 20 [--slow-read 262144]

`--slow-read BYTES_PER_SEC` makes each client take its answer at that rate
(with a small receive buffer), as a Logstash worker stalled behind its
outputs would: answers then wait in the sidecar. Without it clients read as
fast as they can. Prints one JSON object: the settings, peak RSS, the
baseline after a warm-up, the gauge's peak, bytes in and out per request,
and the statuses seen. Standard library only.
"""

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

LOG = os.path.join(os.path.dirname(__file__), "../../../shared/data/access/apache_logs")

PIPELINES = """
[[pipelines.apache.filters]]
filter = "grok"
config = { match = { message = "%{COMBINEDAPACHELOG}" }, ecs_compatibility = "v8" }

[[pipelines.apache.filters]]
filter = "date"
config = { match = ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"] }

[[pipelines.mutate.filters]]
filter = "mutate"
config = { copy = { "message" = "[event][original]" }, add_field = { "[event][dataset]" = "apache.access" }, add_tag = ["access"] }
"""


def config_text(args):
    server = [
        "[server]",
        "watch = false",
        f"workers = {args.workers}",
        f"queue = {args.queue}",
        f"max_body_bytes = {args.max_body}",
        f"max_batch_events = {max(args.lines, 10000)}",
        f"max_inflight_body_bytes = {args.budget}",
        f"write_timeout_ms = {args.write_timeout_ms}",
        "[server.ui]",
        "enabled = false",
        "[engine]",
        f"memory_limit_mib = {args.memory_limit_mib}",
    ]
    return "\n".join(server) + "\n" + PIPELINES


def ndjson_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [json.dumps({"message": line.rstrip("\n")}).encode() for line in f]


def bodies(lines, per_batch, count):
    """`count` distinct bodies of `per_batch` lines each, cycling the log."""
    out, at = [], 0
    for _ in range(count):
        chunk = []
        for _ in range(per_batch):
            chunk.append(lines[at])
            at = (at + 1) % len(lines)
        out.append(b"\n".join(chunk) + b"\n")
    return out


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


async def http_get(addr, path):
    reader, writer = await asyncio.open_connection(*addr)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


def gauge(metrics_text, name):
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", metrics_text, re.M)
    return float(match.group(1)) if match else None


class Stats:
    def __init__(self):
        self.statuses = {}
        self.answer_bytes = []
        self.body_bytes = []
        self.errors = 0


async def read_response(reader, slow_rate):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    left, started, got = length, time.monotonic(), 0
    while left > 0:
        piece = await reader.read(min(left, 65536))
        if not piece:
            raise ConnectionError("closed mid-answer")
        left -= len(piece)
        got += len(piece)
        if slow_rate:
            # Pace to `slow_rate` bytes a second from the answer's start.
            ahead = got / slow_rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
    return status, length, head


async def client(addr, path, my_bodies, deadline, args, stats):
    reader = writer = None
    n = 0
    while time.monotonic() < deadline:
        if writer is None:
            sock = socket.socket()
            if args.slow_read:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, addr)
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        body = my_bodies[n % len(my_bodies)]
        n += 1
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            writer.write(head + body)
            await writer.drain()
            status, length, rhead = await read_response(reader, args.slow_read)
        except (ConnectionError, asyncio.IncompleteReadError):
            stats.errors += 1
            writer = None
            await asyncio.sleep(0.1)
            continue
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status == 200:
            stats.answer_bytes.append(length)
            stats.body_bytes.append(len(body))
        if b"connection: close" in rhead.lower():
            writer.close()
            writer = None
        if status != 200:
            await asyncio.sleep(0.2)


async def sampler(pid, addr, stop, peaks):
    last_metrics = 0.0
    while not stop.is_set():
        try:
            rss = proc_kib(pid, "VmRSS")
        except (OSError, KeyError):
            return
        peaks["rss_kib"] = max(peaks["rss_kib"], rss)
        now = time.monotonic()
        if now - last_metrics >= 0.1:
            last_metrics = now
            try:
                text = (await http_get(addr, "/metrics")).decode(errors="replace")
                held = gauge(text, "wasmstash_request_body_bytes_held")
                instances = sum(
                    float(v)
                    for v in re.findall(r"^wasmstash_instance_memory_bytes{[^}]*} (\S+)$", text, re.M)
                )
                peaks["instances_bytes"] = max(peaks["instances_bytes"], instances)
                if held is not None:
                    peaks["held_bytes"] = max(peaks["held_bytes"], held)
            except OSError:
                pass
        await asyncio.sleep(0.02)


async def main_async(args, pid, addr):
    lines = ndjson_lines(args.log)
    all_bodies = bodies(lines, args.lines, 8)
    path = f"/v1/pipelines/{args.pipeline}/batch"
    # Warm-up: one of each body size, so instances and code are in place
    # before the baseline is read.
    warm = Stats()
    await client(addr, path, all_bodies[:1], time.monotonic() + 0.001, args, warm)
    await asyncio.sleep(1.0)
    baseline = {"rss_kib": proc_kib(pid, "VmRSS"), "hwm_kib": proc_kib(pid, "VmHWM")}
    stats = Stats()
    peaks = {"rss_kib": 0, "held_bytes": 0.0, "instances_bytes": 0.0}
    stop = asyncio.Event()
    sample = asyncio.create_task(sampler(pid, addr, stop, peaks))
    deadline = time.monotonic() + args.seconds
    started = time.monotonic()
    await asyncio.gather(
        *(
            client(addr, path, all_bodies[i % 8 :] + all_bodies[: i % 8], deadline, args, stats)
            for i in range(args.clients)
        )
    )
    elapsed = time.monotonic() - started
    stop.set()
    await sample
    after = {"rss_kib": proc_kib(pid, "VmRSS"), "hwm_kib": proc_kib(pid, "VmHWM")}
    body = sum(stats.body_bytes) / max(1, len(stats.body_bytes))
    answer = sum(stats.answer_bytes) / max(1, len(stats.answer_bytes))
    return {
        "pipeline": args.pipeline,
        "clients": args.clients,
        "lines_per_batch": args.lines,
        "slow_read_bytes_per_sec": args.slow_read,
        "budget_mib": args.budget / 2**20,
        "workers": args.workers,
        "memory_limit_mib": args.memory_limit_mib,
        "malloc_conf": os.environ.get("_RJEM_MALLOC_CONF", ""),
        "seconds": round(elapsed, 1),
        "body_mib": round(body / 2**20, 2),
        "answer_mib": round(answer / 2**20, 2),
        "answer_over_body": round(answer / body, 2) if body else None,
        "statuses": stats.statuses,
        "connection_errors": stats.errors,
        "baseline_rss_mib": round(baseline["rss_kib"] / 1024, 1),
        "peak_rss_sampled_mib": round(peaks["rss_kib"] / 1024, 1),
        "vm_hwm_mib": round(after["hwm_kib"] / 1024, 1),
        "rss_after_mib": round(after["rss_kib"] / 1024, 1),
        "held_gauge_peak_mib": round(peaks["held_bytes"] / 2**20, 1),
        "instances_memory_peak_mib": round(peaks["instances_bytes"] / 2**20, 1),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--log", default=LOG)
    p.add_argument("--pipeline", default="apache", choices=["apache", "mutate"])
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--lines", type=int, default=10000)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--slow-read", type=int, default=0, metavar="BYTES_PER_SEC")
    p.add_argument("--budget", type=int, default=256 << 20)
    p.add_argument("--max-body", type=int, default=16 << 20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queue", type=int, default=64)
    p.add_argument("--memory-limit-mib", type=int, default=64)
    p.add_argument("--write-timeout-ms", type=int, default=30000)
    args = p.parse_args()
    if not os.path.exists(args.log):
        sys.exit(f"{args.log} not found: the real access log is needed (see shared/data/README)")
    work = tempfile.mkdtemp(prefix="wasmstash-memory-")
    config = os.path.join(work, "memory.toml")
    with open(config, "w") as f:
        f.write(config_text(args))
    server = subprocess.Popen(
        [args.bin, "serve", "--config", config, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(work, "err"), "w"),
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "wasmstash=warn")},
    )
    try:
        first = server.stdout.readline().decode()
        host, port = first.strip().rsplit("http://", 1)[1].split(":")
        addr = (host, int(port))
        while True:
            try:
                if b" 200 " in asyncio.run(http_get(addr, "/readyz")).split(b"\r\n")[0] + b" ":
                    break
            except OSError:
                pass
            time.sleep(0.1)
        result = asyncio.run(main_async(args, server.pid, addr))
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
