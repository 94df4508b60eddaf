#!/usr/bin/env python3
"""Offline check of containers/aurigraph/compose.yaml (no docker-compose or podman-compose
here): the YAML structure, and that it agrees with the image, the profile and the Prometheus
and Grafana files it mounts.

Goal: the node service publishes every public port of its AURIGRAPH_NODE_COUNT instances and
the supervisor's 9002 without binding a host port twice, and no peer port, mounts the image's volumes, gives the
supervisor time to stop; every AURIGRAPH_* variable is one the entry point maps; Prometheus
scrapes exactly the supervisor and each instance's metrics port; Grafana loads every
dashboard; every mounted file exists; the profile's port layout is the one the image, compose
file and manifests assume. Exit 77 (ctest SKIP_RETURN_CODE) without python3-yaml.

  containers/aurigraph/compose_check.py [SOURCE_DIR]
"""
import glob
import os
import re
import sys

SKIP = 77
NODE = "aurigraph-multi-node-1"
# The layout every file under containers/ is written for (the profile's ports section).
LAYOUT = {"base": 9003, "stride": 10,
          "offsets": {"http": 0, "grpc": 1, "metrics": 2, "peer": 3, "health": 4}}


def port_set(spec):
    """Container ports of a compose short-syntax entry ("[ip:]host[-end]:ctr[-end][/proto]")."""
    spec = str(spec).split("/")[0]
    host, container = spec.rsplit(":", 1) if ":" in spec else (spec, spec)
    host = host.rsplit(":", 1)[-1]

    def expand(text):
        lo, _, hi = text.partition("-")
        return list(range(int(lo), int(hi or lo) + 1))

    hosts, containers = expand(host), expand(container)
    if len(hosts) != len(containers):
        raise ValueError(f"port range lengths differ in '{spec}'")
    return hosts, containers


def duration_s(text):
    match = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    if not match:
        raise ValueError(f"unsupported duration '{text}'")
    value, unit = int(match[1]), match[2]
    return value / 1000 if unit == "ms" else value * (60 if unit == "m" else 1)


def main():
    source = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(__file__), "..", ".."))
    try:
        import yaml
    except ImportError:
        print("SKIP: python3-yaml is not installed (scripts/setup.sh installs it)")
        return SKIP
    here = os.path.join(source, "containers", "aurigraph")
    failures = []

    def check(ok, message):
        if not ok:
            failures.append(message)
        return ok

    with open(os.path.join(here, "compose.yaml")) as fh:
        compose = yaml.safe_load(fh)
    with open(os.path.join(source, "configs", "aurigraph.yaml")) as fh:
        profile = yaml.safe_load(fh)
    with open(os.path.join(here, "entrypoint.sh")) as fh:
        entrypoint = fh.read()
    with open(os.path.join(here, "Containerfile")) as fh:
        containerfile = fh.read()

    ports = profile.get("ports", {})
    check({k: ports.get(k) for k in LAYOUT} == LAYOUT,
          f"configs/aurigraph.yaml ports {ports} differ from the layout containers/ assumes "
          f"{LAYOUT}: update compose.yaml, prometheus*.yml, the Containerfile and containers/k8s")

    services = compose.get("services", {})
    for name in (NODE, "prometheus", "grafana"):
        check(name in services, f"no service {name}")
    if failures:
        return report(failures)
    declared_volumes = set((compose.get("volumes") or {}).keys())

    def mounts(service):
        out = {}
        for entry in services[service].get("volumes", []):
            src, target = str(entry).split(":")[:2]
            if src.startswith("."):
                check(os.path.exists(os.path.join(here, src)),
                      f"{service} mounts {src}, which does not exist")
            else:
                check(src in declared_volumes, f"{service} uses undeclared volume {src}")
            out[target] = src
        return out

    node = services[NODE]
    build = node.get("build", {})
    check(build.get("dockerfile") == "Containerfile" and
          os.path.normpath(os.path.join(here, build.get("context", ""))) ==
          os.path.join(source, "build", "aurigraph-image"),
          f"{NODE} does not build build/aurigraph-image (stage.sh's output) with its Containerfile")
    env = {k: str(v) for k, v in (node.get("environment") or {}).items()}
    for key in env:
        if key.startswith("AURIGRAPH_"):
            check(key in entrypoint, f"{key} is set but entrypoint.sh does not map it")
    instances = int(env.get("AURIGRAPH_NODE_COUNT", profile.get("instances", 0)))
    check(4 <= instances <= 8, f"AURIGRAPH_NODE_COUNT {instances} is not 4..8")
    published, host_ports = set(), []
    for entry in node.get("ports", []):
        hosts, container = port_set(entry)
        published.update(container)
        host_ports += hosts
    check(len(host_ports) == len(set(host_ports)), f"{NODE} publishes a host port twice")
    wanted = {9002} | {9003 + 10 * i + off for i in range(instances)
                       for off in (0, 1, 2, 4)}  # http, grpc, metrics, health
    check(wanted <= published, f"{NODE} does not publish {sorted(wanted - published)}")
    # The peer transport (Raft) is plaintext unless the profile configures mTLS, and any
    # process that reaches it can speak for an instance: it stays inside the container.
    peer_ports = {9006 + 10 * i for i in range(8)}
    check(not (published & peer_ports),
          f"{NODE} publishes peer ports {sorted(published & peer_ports)} (docs/security.md)")
    node_mounts = mounts(NODE)
    volumes = set(re.findall(r'"(/[^"]+)"', re.search(r"^VOLUME (.*)$", containerfile,
                                                      re.M)[1]))
    check(volumes == set(node_mounts),
          f"{NODE} mounts {sorted(node_mounts)}, the image's volumes are {sorted(volumes)}")
    check(node.get("restart") in ("unless-stopped", "always", "on-failure"),
          f"{NODE} has no restart policy")
    resources = node.get("deploy", {}).get("resources", {})
    for key in ("limits", "reservations"):
        check({"cpus", "memory"} <= set(resources.get(key, {})),
              f"{NODE} deploy.resources.{key} lacks cpus or memory")
    stop_s = profile.get("supervisor", {}).get("stop_timeout_ms", 10000) / 1000
    check(duration_s(node.get("stop_grace_period", "10s")) > stop_s,
          f"{NODE} stop_grace_period is not above the profile's stop_timeout_ms")
    exposed = set()
    for token in re.search(r"^EXPOSE (.*)$", containerfile, re.M)[1].split():
        exposed.update(port_set(token)[1])
    check({9002} | {9003 + 10 * i + o for i in range(8) for o in (0, 1, 2, 4)} <= exposed,
          "the Containerfile does not EXPOSE every public port of 8 instances and 9002")
    check(not (exposed & peer_ports),
          f"the Containerfile EXPOSEs peer ports {sorted(exposed & peer_ports)}")

    prom_mounts = mounts("prometheus")
    config_src = prom_mounts.get("/etc/prometheus/prometheus.yml")
    if check(config_src, "prometheus mounts no /etc/prometheus/prometheus.yml"):
        with open(os.path.join(here, config_src)) as fh:
            prom = yaml.safe_load(fh)
        targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"]
                   for t in sc["targets"]}
        expected = {f"{NODE}:9002"} | {f"{NODE}:{9005 + 10 * i}" for i in range(instances)}
        check(targets == expected, f"Prometheus scrapes {sorted(targets)}, "
                                   f"expected {sorted(expected)}")
        for rule_file in prom.get("rule_files", []):
            check(f"/etc/prometheus/{rule_file}" in prom_mounts,
                  f"Prometheus rule file {rule_file} is not mounted")

    graf_mounts = mounts("grafana")
    provisioning = graf_mounts.get("/etc/grafana/provisioning")
    if check(provisioning, "grafana mounts no provisioning directory"):
        with open(os.path.join(here, provisioning, "dashboards", "nodus.yml")) as fh:
            path = yaml.safe_load(fh)["providers"][0]["options"]["path"]
        mounted = {os.path.basename(src) for target, src in graf_mounts.items()
                   if os.path.dirname(target) == path}
        shipped = {os.path.basename(p) for p in
                   glob.glob(os.path.join(source, "containers", "grafana", "*.json"))}
        check(mounted == shipped, f"Grafana loads {sorted(mounted)} from {path}, "
                                  f"containers/grafana has {sorted(shipped)}")
        with open(os.path.join(here, provisioning, "datasources", "prometheus.yml")) as fh:
            url = yaml.safe_load(fh)["datasources"][0]["url"]
        check("//prometheus:9090" in url,
              f"Grafana's data source {url} is not the prometheus service")
    return report(failures)


def report(failures):
    for item in failures:
        print("FAIL:", item)
    if not failures:
        print("compose.yaml: services, ports, volumes, Prometheus and Grafana line up")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
