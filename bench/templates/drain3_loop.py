#!/usr/bin/env python3
"""Drain3's mining loop over the benchmark contents, lines/s on one core.

Why: the templates benchmark compares wasmstash's miner with Drain3 on the
same input in the same run. Drain3 gets masking close to wasmstash's default
masks (IPs with ports, URLs, paths, e-mail, hex, UUIDs, times, numbers with
units, and other tokens holding a digit), all masked to `<*>`, and otherwise
its shipped defaults. Only `add_log_message` is timed; the lines are in
memory and persistence is off. Rates are per second of CPU time (wall time
beside), as in the Rust side: the benchmark machine is shared.

Run twice: `masked` (the masks above) and `plain` (Drain3 as shipped, no
masks), since Drain3's regex masking costs more than its tree.

Usage: drain3_loop.py CONTENTS_FILE REPEAT masked|plain
"""
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

MASKS = [
    r"((?<=[^A-Za-z0-9])|^)/?(\d{1,3}\.){3}\d{1,3}(:\d+)?((?=[^A-Za-z0-9])|$)",
    r"[A-Za-z][A-Za-z0-9+.-]*://\S+",
    r"((?<=\s)|^)(/|\./|~/)[^\s/]+(/[^\s]*)?",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"0[xX][0-9a-fA-F]+",
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"\b\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?\b",
    r"((?<=[^A-Za-z0-9])|^)[-+]?\d+(\.\d+)?([eE]\d+)?([A-Za-z]{1,3}|%)?((?=[^A-Za-z0-9])|$)",
    r"[A-Za-z_]*\d[A-Za-z0-9_-]{2,}",
]


def main() -> int:
    path, repeat, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    config = TemplateMinerConfig()
    if mode == "masked":
        config.masking_instructions = [MaskingInstruction(p, "*") for p in MASKS]
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for line in lines:
            miner.add_log_message(line)
    cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started
    total = len(lines) * repeat
    print(f"drain3 ({mode}): {total} lines in {cpu:.2f} s CPU ({wall:.2f} s wall): "
          f"{total / cpu:.0f} lines per CPU-second, {len(miner.drain.clusters)} clusters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
