#!/usr/bin/env python3
"""Compare two `camtrace demo` outputs (their report/findings.csv and report/devices.csv):
findings present in one only, grouped by site and rule; status changes; maker changes; devices
present in one only. Usage: scripts/compare-demo-findings.py OLD_DEMO_DIR NEW_DEMO_DIR"""
import csv
import sys
from collections import Counter


def load(d):
    findings = list(csv.DictReader(open(f"{d}/report/findings.csv", newline="")))
    devices = {r["id"]: r for r in csv.DictReader(open(f"{d}/report/devices.csv", newline=""))}
    return {(r["device"], r["rule"]): r for r in findings}, devices


def main(old_dir, new_dir):
    of, od = load(old_dir)
    nf, nd = load(new_dir)
    both = [k for k in of if k in nf]
    print(f"findings: old {len(of)}, new {len(nf)}, in both {len(both)}")
    for name, only, devs in (("old", [of[k] for k in of if k not in nf], od),
                             ("new", [nf[k] for k in nf if k not in of], nd)):
        print(f"only in {name}: {len(only)}")
        for (site, rule), n in sorted(Counter((r["site"], r["rule"]) for r in only).items()):
            print(f"  {site:14} {rule:26} {n}")
        makers = Counter(devs.get(r["device"], {}).get("maker") or "?" for r in only)
        if makers:
            print("  by maker: " + ", ".join(f"{m} {n}" for m, n in makers.most_common()))
    changes = Counter((of[k]["status"], nf[k]["status"]) for k in both if of[k]["status"] != nf[k]["status"])
    print("status changes: " + (", ".join(f"{a} -> {b}: {n}" for (a, b), n in changes.items()) or "none"))
    makers = Counter((od[i]["maker"], nd[i]["maker"]) for i in od if i in nd and od[i]["maker"] != nd[i]["maker"])
    print("maker changes: " + (", ".join(f"{a or '?'} -> {b or '?'}: {n}" for (a, b), n in makers.items()) or "none"))
    for name, a, b in (("old", od, nd), ("new", nd, od)):
        only = [a[i] for i in a if i not in b]
        kinds = Counter((r["class"], r["status"], r["registered"]) for r in only)
        print(f"devices only in {name}: {len(only)} " + str(dict(kinds)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
