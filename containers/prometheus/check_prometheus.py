#!/usr/bin/env python3
"""promtool over every shipped Prometheus file, and PromQL checks of the Grafana dashboards.

Goal: both scrape configs pass `promtool check config`; every alert file passes `promtool
check rules` and every *_test.yml passes `promtool test rules` (each alert fires on a bad
series and stays quiet on a good one); every dashboard query parses as PromQL; every
nodus_raft_* and nodus_ledger_* metric that a file names is documented in the README of the
plugin that exports it, once that README exists (so a renamed metric fails here rather than
blanking a panel or silencing an alert). Exit 77 (ctest SKIP_RETURN_CODE) without promtool.

  containers/prometheus/check_prometheus.py [SOURCE_DIR]
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
# Metric prefixes and the README that documents them.
OWNERS = {
    "nodus_raft_": "plugins/consensus/raft/README.md",
    "nodus_ledger_": "plugins/app/ledger/README.md",
}


def promtool(tool, *args, cwd):
    result = subprocess.run([tool, *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    ok = result.returncode == 0
    print(("ok  " if ok else "FAIL") + " promtool " + " ".join(args))
    if not ok:
        print(result.stdout + result.stderr)
    return ok


def dashboard_queries(path):
    with open(path) as fh:
        dashboard = json.load(fh)
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel.get("title", "?"), target["expr"]


def main():
    source = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(__file__), "..", ".."))
    tool = shutil.which("promtool")
    if tool is None:
        print("SKIP: promtool is not installed (the Debian prometheus package, scripts/setup.sh)")
        return SKIP
    prom = os.path.join(source, "containers", "prometheus")
    grafana = os.path.join(source, "containers", "grafana")
    ok = True
    for config in sorted(glob.glob(os.path.join(prom, "prometheus*.yml"))):
        ok &= promtool(tool, "check", "config", os.path.basename(config), cwd=prom)
    tests = sorted(glob.glob(os.path.join(prom, "*_test.yml")))
    rules = sorted(glob.glob(os.path.join(prom, "*alerts.yml")))
    for rule in rules:
        ok &= promtool(tool, "check", "rules", os.path.basename(rule), cwd=prom)
        if rule[:-len(".yml")] + "_test.yml" not in tests:
            print(f"FAIL {os.path.basename(rule)} has no unit test file")
            ok = False
    for test in tests:
        ok &= promtool(tool, "test", "rules", os.path.basename(test), cwd=prom)

    # Dashboard queries as recording rules: promtool parses each expression.
    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dashboard in sorted(glob.glob(os.path.join(grafana, "*.json"))):
            name = os.path.basename(dashboard)
            lines = ["groups:", f"  - name: {json.dumps(name)}", "    rules:"]
            for i, (title, expr) in enumerate(dashboard_queries(dashboard)):
                expr = expr.replace("$job", ".*").replace("$__rate_interval", "1m")
                lines += [f"      - record: dashboard_query_{i}",
                          f"        expr: {json.dumps(expr)}"]
            path = os.path.join(tmp, name + ".rules.yml")
            with open(path, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            ok &= promtool(tool, "check", "rules", path, cwd=tmp)
            with open(dashboard) as fh:
                texts[f"containers/grafana/{name}"] = fh.read()
    for rule in rules:
        with open(rule) as fh:
            texts[f"containers/prometheus/{os.path.basename(rule)}"] = fh.read()

    for prefix, readme in OWNERS.items():
        path = os.path.join(source, readme)
        if not os.path.exists(path):
            print(f"note: {readme} does not exist yet; {prefix}* names are not checked")
            continue
        with open(path) as fh:
            documented = fh.read()
        for file, text in texts.items():
            for metric in sorted(set(re.findall(r"\b(" + prefix + r"[a-z0-9_]+)", text))):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                if base not in documented:
                    ok = False
                    print(f"FAIL {file} uses {metric}, which {readme} does not document")
    print("prometheus and grafana files: all checks passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
