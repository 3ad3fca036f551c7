"""Writes the access log as Filebeat ships it: each line as `message`,
beside about 800 bytes of agent, host, log and ECS metadata that no filter
reads. One JSON event per line, the log repeated N times.

    python3 bench/grok/beats_events.py ACCESS_LOG N > events.ndjson
"""
import json
import sys

HOST = {"name": "web-01", "hostname": "web-01", "architecture": "x86_64",
        "os": {"family": "debian", "name": "Debian GNU/Linux", "kernel": "6.1.0-18-amd64",
               "codename": "bookworm", "type": "linux", "platform": "debian",
               "version": "12 (bookworm)"},
        "id": "8a1f3e9c2b7d4f6a", "containerized": False,
        "ip": ["10.0.3.17", "fe80::4001:aff:fe00:311"], "mac": ["42-01-0A-00-03-11"]}
AGENT = {"type": "filebeat", "version": "8.15.0", "ephemeral_id": "6b1c-44f0-9a6e-0f3c2b7d",
         "id": "d2f0c5a8-1b7e-4c3e-9f5d-2a6b8c4e1f7a", "name": "web-01"}


def main(path, repeats):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    out = sys.stdout
    for _ in range(repeats):
        for i, line in enumerate(lines):
            out.write(json.dumps({
                "@timestamp": "2015-05-20T21:05:15.000Z", "message": line, "agent": AGENT,
                "ecs": {"version": "8.11.0"}, "host": HOST,
                "log": {"file": {"path": "/var/log/apache2/access.log", "device_id": "2049",
                                 "inode": "1835041"}, "offset": i * 180},
                "input": {"type": "filestream"},
                "event": {"dataset": "apache.access", "module": "apache"},
                "fields": {"env": "production", "team": "web"},
            }, separators=(",", ":")))
            out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
