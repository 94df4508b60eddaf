#!/usr/bin/env python3
"""Renders every overlay of containers/k8s with `kubectl kustomize` (offline) and checks what
the manifests must get right.

Goal: each overlay renders; the StatefulSet, its headless Service, the client Service, the
PodDisruptionBudget, the HPA, the VPA and the profile ConfigMap all line up (names,
selectors, ports, instance counts, probes, volumes, user); the ConfigMap holds exactly
configs/aurigraph.yaml. Exit 77 (ctest SKIP_RETURN_CODE) without kubectl or python3-yaml.

  containers/k8s/render_test.py [SOURCE_DIR]
"""
import os
import shutil
import subprocess
import sys

SKIP = 77
# Per overlay: pods (shards), instances per pod, first HPA bound.
EXPECTED = {
    "dev": {"replicas": 1, "instances": 4, "min_replicas": 1},
    "production": {"replicas": 3, "instances": 8, "min_replicas": 3, "tls": True},
}
IMAGE_UID = 10001  # USER in containers/aurigraph/Containerfile


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, message):
        if not ok:
            self.items.append(message)
        return ok


def render(kubectl, overlay):
    result = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return result.stdout


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_overlay(name, docs, profile_text, expected, f):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    kinds_ok = True
    for kind in ("StatefulSet", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                 "VerticalPodAutoscaler", "ConfigMap"):
        kinds_ok &= f.check(kind in by_kind, f"{name}: no {kind} rendered")
    if not kinds_ok:
        return
    for d in docs:
        f.check(d["metadata"].get("namespace"), f"{name}: {d['kind']} has no namespace")

    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"]["labels"]
    f.check(labels_match(spec["selector"]["matchLabels"], pod_labels),
            f"{name}: StatefulSet selector does not match its pod labels")
    f.check(spec.get("replicas") == expected["replicas"],
            f"{name}: replicas {spec.get('replicas')}, expected {expected['replicas']}")

    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    headless = services.get(spec.get("serviceName"))
    if f.check(headless is not None,
               f"{name}: serviceName {spec.get('serviceName')} is not a rendered Service"):
        f.check(headless["spec"].get("clusterIP") == "None",
                f"{name}: the StatefulSet's service {spec['serviceName']} is not headless")
    f.check(any(s["spec"].get("clusterIP") != "None" for s in services.values()),
            f"{name}: no client Service (one with a cluster IP)")

    containers = pod["spec"]["containers"]
    c = next((c for c in containers if c["name"] == "aurigraph"), None)
    if not f.check(c is not None, f"{name}: no container named aurigraph"):
        return
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    instances = expected["instances"]
    f.check(env.get("AURIGRAPH_NODE_COUNT") == str(instances),
            f"{name}: AURIGRAPH_NODE_COUNT={env.get('AURIGRAPH_NODE_COUNT')}, expected {instances}")
    ports = {p["containerPort"]: p.get("name", "") for p in c.get("ports", [])}
    names = [p.get("name", "") for p in c.get("ports", [])]
    f.check(len(names) == len(set(names)), f"{name}: duplicate container port names {names}")
    f.check(all(0 < len(n) <= 15 for n in names), f"{name}: a port name is empty or > 15 chars")
    f.check(9002 in ports, f"{name}: no container port 9002 (supervisor /metrics)")
    for i in range(instances):
        for what, base in (("http", 9003), ("grpc", 9004), ("metrics", 9005), ("health", 9007)):
            f.check(base + 10 * i in ports,
                    f"{name}: instance {i} {what} port {base + 10 * i} is not declared")
    f.check(max(ports) <= 9007 + 10 * (instances - 1),
            f"{name}: port {max(ports)} beyond the last of {instances} instances")
    port_names = set(names)
    for s in services.values():
        f.check(labels_match(s["spec"].get("selector", {}), pod_labels),
                f"{name}: Service {s['metadata']['name']} selects no pod of the StatefulSet")
        for p in s["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            f.check(target in port_names or target in ports,
                    f"{name}: Service {s['metadata']['name']} targets unknown port {target}")

    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        f.check(probe in c, f"{name}: no {probe}")
        sock = c.get(probe, {}).get("tcpSocket") or c.get(probe, {}).get("httpGet")
        if sock:
            f.check(sock["port"] in port_names or sock["port"] in ports,
                    f"{name}: {probe} uses unknown port {sock['port']}")
    f.check(c.get("readinessProbe", {}).get("exec", {}).get("command", [None])[-1] == "health",
            f"{name}: the readiness probe is not `nodus health`")
    annotations = pod["metadata"].get("annotations", {})
    f.check(annotations.get("prometheus.io/scrape") == "true",
            f"{name}: no prometheus.io/scrape annotation")
    f.check(int(annotations.get("prometheus.io/port", 0)) in ports,
            f"{name}: prometheus.io/port is not a container port")

    security = pod["spec"].get("securityContext", {})
    f.check(security.get("runAsNonRoot") is True and security.get("runAsUser") == IMAGE_UID,
            f"{name}: the pod does not run as the image's user {IMAGE_UID}")
    f.check(security.get("fsGroup") == IMAGE_UID, f"{name}: fsGroup is not {IMAGE_UID}")
    for key in ("requests", "limits"):
        f.check(c.get("resources", {}).get(key, {}).keys() >= {"cpu", "memory"},
                f"{name}: resources.{key} lacks cpu or memory")

    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    f.check(mounts.get("/var/lib/nodus") in claims,
            f"{name}: /var/lib/nodus is not a volumeClaimTemplate")
    for path in ("/var/log/nodus", "/run/nodus", "/etc/nodus"):
        f.check(path in mounts, f"{name}: nothing mounted at {path}")
    # The emptyDir at /run/nodus is root-owned; the supervisor needs a run directory it owns.
    f.check(env.get("NODUS_RUN_DIR", "").startswith("/run/nodus/"),
            f"{name}: NODUS_RUN_DIR is not a directory below the /run/nodus emptyDir")
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    config_volume = volumes.get(mounts.get("/etc/nodus"), {}).get("configMap", {}).get("name")
    maps = {m["metadata"]["name"]: m for m in by_kind["ConfigMap"]}
    if f.check(config_volume in maps,
               f"{name}: /etc/nodus mounts ConfigMap {config_volume}, which is not rendered"):
        f.check(maps[config_volume]["data"].get("aurigraph.yaml") == profile_text,
                f"{name}: the ConfigMap's aurigraph.yaml differs from configs/aurigraph.yaml")

    check_peer_ports_private(name, c, pod, by_kind, pod_labels, instances, f)
    if expected.get("tls"):
        check_tls(name, c, volumes, f)

    for pdb in by_kind["PodDisruptionBudget"]:
        f.check(labels_match(pdb["spec"]["selector"]["matchLabels"], pod_labels),
                f"{name}: the PodDisruptionBudget selects no pod of the StatefulSet")
    for hpa in by_kind["HorizontalPodAutoscaler"]:
        ref = hpa["spec"]["scaleTargetRef"]
        f.check(hpa["apiVersion"] == "autoscaling/v2", f"{name}: HPA is not autoscaling/v2")
        f.check(ref["kind"] == "StatefulSet" and ref["name"] == sts["metadata"]["name"],
                f"{name}: the HPA targets {ref['kind']}/{ref['name']}")
        f.check(hpa["spec"].get("minReplicas") == expected["min_replicas"],
                f"{name}: HPA minReplicas {hpa['spec'].get('minReplicas')}")
        targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
                   for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
        f.check(targets == {"cpu": 70, "memory": 80}, f"{name}: HPA targets {targets}")
    for vpa in by_kind["VerticalPodAutoscaler"]:
        ref = vpa["spec"]["targetRef"]
        f.check(vpa["apiVersion"] == "autoscaling.k8s.io/v1", f"{name}: VPA apiVersion")
        f.check(ref["kind"] == "StatefulSet" and ref["name"] == sts["metadata"]["name"],
                f"{name}: the VPA targets {ref['kind']}/{ref['name']}")
        f.check(vpa["spec"]["updatePolicy"]["updateMode"] == "Auto", f"{name}: VPA mode")
        policy = vpa["spec"]["resourcePolicy"]["containerPolicies"][0]
        f.check(policy["containerName"] == "aurigraph" and "minAllowed" in policy and
                "maxAllowed" in policy, f"{name}: VPA container policy incomplete")


def check_peer_ports_private(name, c, pod, by_kind, pod_labels, instances, f):
    """No peer port (9006+10i) is declared, and a NetworkPolicy admits ingress to the pod on
    the declared ports only: instances talk to their peers over the pod's loopback, and any
    process that reached a plaintext peer port could speak for an instance."""
    peer_ports = {9006 + 10 * i for i in range(8)}
    declared = {p["containerPort"] for p in c.get("ports", [])}
    f.check(not (declared & peer_ports), f"{name}: declares peer ports {sorted(declared & peer_ports)}")
    policies = [p for p in by_kind.get("NetworkPolicy", [])
                if labels_match(p["spec"].get("podSelector", {}).get("matchLabels", {}),
                                pod_labels)]
    if not f.check(policies, f"{name}: no NetworkPolicy selects the aurigraph pods"):
        return
    for policy in policies:
        spec = policy["spec"]
        f.check("Ingress" in spec.get("policyTypes", []),
                f"{name}: NetworkPolicy {policy['metadata']['name']} does not restrict ingress")
        admitted = set()
        for rule in spec.get("ingress", []):
            f.check(rule.get("ports"), f"{name}: a NetworkPolicy ingress rule admits every port")
            for p in rule.get("ports", []):
                port = p.get("port")
                if isinstance(port, str):
                    port = next((q["containerPort"] for q in c.get("ports", [])
                                 if q.get("name") == port), None)
                if port is None:
                    f.check(False, f"{name}: a NetworkPolicy port names no container port")
                    continue
                admitted.update(range(port, p.get("endPort", port) + 1))
        f.check(not (admitted & peer_ports),
                f"{name}: the NetworkPolicy admits peer ports {sorted(admitted & peer_ports)}")
        public = {9002} | {9003 + 10 * i + o for i in range(instances) for o in (0, 1, 2, 4)}
        f.check(public <= admitted,
                f"{name}: the NetworkPolicy blocks public ports {sorted(public - admitted)}")


def check_tls(name, c, volumes, f):
    """Production: mTLS between instances from a Secret made with `nodus certs`."""
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    secret = volumes.get(mounts.get("/etc/nodus-tls"), {}).get("secret", {})
    f.check(secret.get("secretName"), f"{name}: no Secret mounted at /etc/nodus-tls")
    args = " ".join(c.get("args", []))
    for key, value in (("ca_file", "/etc/nodus-tls/ca.pem"),
                       ("cert_file", "/etc/nodus-tls/aurigraph-{instance}.pem"),
                       ("key_file", "/etc/nodus-tls/aurigraph-{instance}.key")):
        f.check(f"tls.{key}={value}" in args, f"{name}: args do not set tls.{key}={value}")


def main():
    source = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(__file__), "..", ".."))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("SKIP: kubectl is not installed (scripts/setup.sh installs it when an apt "
              "source offers it)")
        return SKIP
    try:
        import yaml
    except ImportError:
        print("SKIP: python3-yaml is not installed (scripts/setup.sh installs it)")
        return SKIP

    k8s = os.path.join(source, "containers", "k8s")
    with open(os.path.join(source, "configs", "aurigraph.yaml")) as fh:
        profile_text = fh.read()
    with open(os.path.join(k8s, "base", "aurigraph.yaml")) as fh:
        if fh.read() != profile_text:
            print("FAIL: containers/k8s/base/aurigraph.yaml is not a copy of "
                  "configs/aurigraph.yaml: run containers/k8s/sync-profile.sh")
            return 1

    overlays = sorted(os.listdir(os.path.join(k8s, "overlays")))
    f = Failures()
    f.check(sorted(EXPECTED) == overlays, f"overlays {overlays}, expected {sorted(EXPECTED)}")
    for name in overlays:
        docs = [d for d in yaml.safe_load_all(render(kubectl, os.path.join(k8s, "overlays", name)))
                if d]
        check_overlay(name, docs, profile_text, EXPECTED.get(name, {}), f)
        print(f"{name}: {len(docs)} objects: " + ", ".join(sorted(d["kind"] for d in docs)))
    for item in f.items:
        print("FAIL:", item)
    if f.items:
        return 1
    print("k8s manifests: all overlays render and line up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
