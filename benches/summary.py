#!/usr/bin/env python3
"""Prints BENCHMARKS.md's results table from criterion's last results (target/criterion).

Run after `cargo bench --bench flow` and `cargo bench --bench scale`:
    python3 benches/summary.py [target/criterion]
"""
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"


def median(name):
    """Median time per iteration in nanoseconds, or None if that bench has not run."""
    path = os.path.join(ROOT, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except OSError:
        return None


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "–"


rows = []
harness = median("harness_request_io")
print("| bench | median | note |")
print("| --- | --- | --- |")
for kind in ["opaque", "jwt_rs256", "jwt_es256", "jwt_eddsa"]:
    flow, floor = median(f"flow/{kind}"), median(f"floor/{kind}")
    over = flow - floor - (harness or 0) if flow and floor else None
    print(f"| flow/{kind} | {fmt(flow)} | crypto floor {fmt(floor)}; "
          f"library overhead (flow − floor − harness) **{fmt(over)}** |")
print(f"| harness/request_io | {fmt(harness)} | request building and response reading in the bench |")
for step in ["authorize", "token", "refresh", "client_credentials", "introspect",
             "userinfo_opaque_oidc", "userinfo_jwt_eddsa"]:
    print(f"| step/{step} | {fmt(median('step/' + step))} | |")
ours, sha, argon = median("flow/opaque"), median("oxide/flow_sha256"), median("oxide_default/flow_argon2")
print(f"| oxide/flow_sha256 | {fmt(sha)} | oxide-auth time / grantor opaque flow time: **{ratio(sha, ours)}** |")
print(f"| oxide_default/flow_argon2 | {fmt(argon)} | oxide-auth time / grantor opaque flow time: {ratio(argon, ours)} |")
for group, what in [("threads_floor", "crypto floor (control: shares nothing)"),
                    ("threads", "opaque flow, one shared server"),
                    ("threads_own", "opaque flow, a server and stores per thread")]:
    t1, t2 = median(f"{group}/1"), median(f"{group}/2")
    if t1 and t2:
        print(f"| {group}/1, {group}/2 | {fmt(t1)}, {fmt(t2)} per run per thread | "
              f"{what}: 2 threads do **{2 * t1 / t2:.2f}x** the runs/s of 1 |")
scale_dirs = sorted(d for d in os.listdir(ROOT) if d.startswith("scale_") and d != "scale_empty") \
    if os.path.isdir(ROOT) else []
for full in scale_dirs:
    for step in ["flow", "authorize", "token", "refresh", "introspect"]:
        e, f = median(f"scale_empty/{step}"), median(f"{full}/{step}")
        print(f"| {full}/{step} | {fmt(f)} | empty store {fmt(e)}: ratio **{ratio(f, e)}** |")
try:
    with open(os.path.join(ROOT, "memory.json")) as f:
        m = json.load(f)
    print(f"| memory, {m['grants']:,} outstanding codes | {m['bytes_per_code']:.0f} B per code | "
          f"RSS growth; an exchanged grant (spent code + access + refresh token): "
          f"{m['bytes_per_exchanged_grant']:.0f} B |")
except OSError:
    pass
