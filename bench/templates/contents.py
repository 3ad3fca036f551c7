#!/usr/bin/env python3
"""Writes the Content column of the ten Loghub sets, one line each, in order.

Why: the template benchmark feeds the same message contents (the line after
its header is split off) to wasmstash's miner, to the templates filter in the
engine and to Drain3, so all three read this one file.

Usage: contents.py LOGHUB_DIR OUT_FILE
"""
import csv
import sys

DATASETS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "HPC", "Linux", "Apache",
            "OpenSSH", "Windows", "Thunderbird"]


def main() -> int:
    loghub, out = sys.argv[1], sys.argv[2]
    count = 0
    with open(out, "w", encoding="utf-8") as f:
        for ds in DATASETS:
            path = f"{loghub}/{ds}/{ds}_2k.log_structured_corrected.csv"
            with open(path, newline="", encoding="utf-8") as g:
                for row in csv.DictReader(g):
                    f.write(row["Content"].replace("\n", " ") + "\n")
                    count += 1
    print(f"{count} lines from {len(DATASETS)} sets -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
