#!/usr/bin/python3
"""Checks the Kubernetes manifests in deploy/k8s: statically, and by running.

Run:
  /usr/bin/python3 tests/deploy/k8s/k8s_manifests_test.py \
      --k8s_dir deploy/k8s --source_dir . \
      [--cairnd build/release/server/cairnd] [--mode static|run|all] [-v]

Static part (no cluster, no cairnd): builds what `kubectl apply -k` would
apply from the kustomizations (resources, components, the ConfigMap
generator, the namespace), and checks every object and the references
between them: Services select the pods and name their ports, probe ports
are container ports, the cairnd config in the ConfigMap listens on those
ports, keeps its data on the volume, names files that the Secret's mounted
keys provide, the replicas follow the primary's headless DNS name, the
scrape annotations, grace periods, security context and memory limits agree
with the config and the image (uid 10001).

Run part (--cairnd): acts as a small kubelet. It lays out each pod's
volumes in a temporary directory (the ConfigMap's and the Secret's mounted
keys as files, the data volume with the lost+found of a fresh ext4 file
system), rewrites only the absolute paths under those mounts and the ports
(0.0.0.0:7070 -> 127.0.0.1:<free port>, the primary's DNS name -> its
loopback address), starts the primary and a replica with the exact args of
the manifests, runs each probe as the kubelet would (gRPC health without a
token, httpGet), and checks that auth is on, that a write made with the
Secret's write token reaches the replica, and that SIGTERM ends both within
terminationGracePeriodSeconds with exit code 0. Every wait is bounded.

Needs the Debian packages python3-yaml (and for the run part python3-grpcio
and python3-grpc-tools).
"""

import argparse
import base64
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest
import urllib.error
import urllib.request

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("python3-yaml is missing: "
                     "apt-get install -y python3-yaml\n")
    sys.exit(2)

ARGS = None  # parsed command line (set in main)
MODEL = None  # the Model of ARGS.k8s_dir (set in main)

# What the image (deploy/container) provides.
IMAGE_NAME = "cairn"
IMAGE_UID = 10001
# The services cairnd's gRPC health service knows ("" = the whole server).
HEALTH_SERVICES = {"", "cairn.v1.KV", "cairn.v1.Admin", "cairn.v1.Replication"}
# Roles of the --auth_tokens file, lowest first.
ROLES = ["read", "write", "admin"]
# terminationGracePeriodSeconds must exceed shutdown_grace by this much: the
# WAL sync and engine close that follow the grace period.
CLOSE_MARGIN_SECONDS = 10
# memory_budget_bytes covers memtables and block cache only; the rest of the
# container limit is for gRPC buffers, scans and streams.
MAX_BUDGET_FRACTION_OF_LIMIT = 0.75

KNOWN_KINDS = {
    ("v1", "Namespace"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
KUSTOMIZE_KINDS = {
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ("kustomize.config.k8s.io/v1alpha1", "Component"),
}
CLUSTER_SCOPED_KINDS = {"Namespace"}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


# --- units -----------------------------------------------------------------

def parse_quantity(q):
    """A Kubernetes quantity ("1Gi", "500m", "2", "10G") as a float."""
    q = str(q)
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", q)
    if not m:
        raise ValueError("bad quantity %r" % q)
    n, unit = float(m.group(1)), m.group(2)
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    if unit not in units:
        raise ValueError("bad quantity unit %r" % q)
    return n * units[unit]


def parse_byte_size(v):
    """cairnd's byte count ("512MiB", "64KiB", 4096) as an int."""
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(v))
    if not m:
        raise ValueError("bad byte count %r" % v)
    shifts = {"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20,
              "mib": 20, "g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40,
              "tib": 40}
    unit = m.group(2).lower()
    if unit not in shifts:
        raise ValueError("bad byte count unit %r" % v)
    return int(m.group(1)) << shifts[unit]


def parse_duration(v):
    """An absl duration ("20s", "1m30s", "250ms") in seconds."""
    s = str(v).strip()
    if s in ("0", "inf"):
        return 0.0 if s == "0" else float("inf")
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"([0-9.]+)(ns|us|ms|s|m|h)", s)
    if not parts or "".join(a + b for a, b in parts) != s:
        raise ValueError("bad duration %r" % v)
    return sum(float(a) * units[b] for a, b in parts)


def split_host_port(addr):
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("not HOST:PORT: %r" % addr)
    return host, int(port)


# --- the manifests ---------------------------------------------------------

def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


class Model:
    """What the kustomizations in a directory build, and where it came from.

    base: the objects `kubectl apply -k <dir>` applies (generated ConfigMaps
    keep their name without kustomize's hash suffix; kustomize rewrites the
    references to the hashed name, so matching by the plain name is what it
    checks). builds: the same for every kustomization directory under dir.
    """

    def __init__(self, k8s_dir):
        self.dir = os.path.abspath(k8s_dir)
        self.errors = []  # problems found while building
        self.yaml_files = []
        self.other_files = []
        for root, dirs, files in os.walk(self.dir):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                if f.endswith((".yaml", ".yml")):
                    self.yaml_files.append(p)
                else:
                    self.other_files.append(p)
        self.referenced = set()  # files some kustomization uses
        self.kustomization_dirs = sorted(
            os.path.dirname(p) for p in self.yaml_files
            if os.path.basename(p) in ("kustomization.yaml",
                                       "kustomization.yml"))
        self.builds = {}
        for d in self.kustomization_dirs:
            k = self._kustomization(d)
            if k is not None and k.get("kind") == "Kustomization":
                self.builds[d] = self._build(d, [])
        self.base = self.builds.get(self.dir, [])
        self.namespace = (self._kustomization(self.dir) or {}).get("namespace")

    def rel(self, path):
        return os.path.relpath(path, self.dir)

    def _kustomization(self, d):
        for name in ("kustomization.yaml", "kustomization.yml"):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                docs = load_docs(p)
                if len(docs) != 1:
                    self.errors.append("%s: expected one document" %
                                       self.rel(p))
                    return None
                self.referenced.add(p)
                return docs[0]
        return None

    def _build(self, d, stack):
        if d in stack:
            self.errors.append("kustomization cycle through %s" % self.rel(d))
            return []
        k = self._kustomization(d)
        if k is None:
            self.errors.append("%s: no kustomization.yaml" % self.rel(d))
            return []
        objs = []
        for r in k.get("resources", []):
            p = os.path.normpath(os.path.join(d, r))
            if os.path.isdir(p):
                objs += self._build(p, stack + [d])
            elif os.path.isfile(p):
                self.referenced.add(p)
                objs += load_docs(p)
            else:
                self.errors.append("%s: resource %s does not exist" %
                                   (self.rel(d), r))
        for c in k.get("components", []):
            p = os.path.normpath(os.path.join(d, c))
            ck = self._kustomization(p) if os.path.isdir(p) else None
            if ck is None or ck.get("kind") != "Component":
                self.errors.append("%s: component %s is not a Component" %
                                   (self.rel(d), c))
                continue
            objs += self._build_component(p, ck)
        for gen_kind, field in (("ConfigMap", "configMapGenerator"),
                                ("Secret", "secretGenerator")):
            for g in k.get(field, []):
                objs.append(self._generate(d, gen_kind, g))
        objs = copy.deepcopy(objs)
        if k.get("namespace"):
            for o in objs:
                if o.get("kind") not in CLUSTER_SCOPED_KINDS:
                    o.setdefault("metadata", {})["namespace"] = k["namespace"]
        for img in k.get("images", []):
            for o in objs:
                for c in pod_containers(o):
                    name, _, tag = c.get("image", "").partition(":")
                    if name == img["name"]:
                        c["image"] = "%s:%s" % (img.get("newName", name),
                                                img.get("newTag", tag))
        return objs

    def _build_component(self, d, k):
        objs = []
        for r in k.get("resources", []):
            p = os.path.normpath(os.path.join(d, r))
            if os.path.isfile(p):
                self.referenced.add(p)
                objs += load_docs(p)
            else:
                self.errors.append("%s: resource %s does not exist" %
                                   (self.rel(d), r))
        return objs

    def _generate(self, d, kind, g):
        data = {}
        for f in g.get("files", []):
            key, sep, path = f.partition("=")
            if not sep:
                key, path = os.path.basename(f), f
            p = os.path.normpath(os.path.join(d, path))
            if not os.path.isfile(p):
                self.errors.append("%s: generator %s: %s does not exist" %
                                   (self.rel(d), g.get("name"), path))
                continue
            self.referenced.add(p)
            with open(p) as fh:
                data[key] = fh.read()
        for lit in g.get("literals", []):
            key, _, value = lit.partition("=")
            data[key] = value
        labels = (g.get("options") or {}).get("labels", {})
        obj = {"apiVersion": "v1", "kind": kind,
               "metadata": {"name": g["name"], "labels": dict(labels)}}
        if kind == "Secret":
            obj["stringData"] = data
        else:
            obj["data"] = data
        return obj

    # Lookups in the base build.
    def all(self, kind, objs=None):
        return [o for o in (self.base if objs is None else objs)
                if o.get("kind") == kind]

    def get(self, kind, name, objs=None):
        found = [o for o in self.all(kind, objs)
                 if o["metadata"]["name"] == name]
        return found[0] if len(found) == 1 else None


def pod_spec(obj):
    if obj.get("kind") in ("StatefulSet", "Deployment", "DaemonSet"):
        return obj.get("spec", {}).get("template", {}).get("spec", {})
    return None


def pod_containers(obj):
    spec = pod_spec(obj)
    if spec is None:
        return []
    return spec.get("containers", []) + spec.get("initContainers", [])


def pod_labels(sts):
    return sts["spec"]["template"]["metadata"].get("labels", {})


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v
                                  for k, v in selector.items())


def cairnd_container(sts):
    cs = [c for c in sts["spec"]["template"]["spec"]["containers"]
          if c["name"] == "cairnd"]
    return cs[0] if len(cs) == 1 else None


def container_port(container, port):
    """The containerPort a number or name refers to, or None."""
    for p in container.get("ports", []):
        if port == p["containerPort"] or port == p.get("name"):
            return p["containerPort"]
    return None


def expand_env(value, env):
    """Kubernetes' $(VAR) expansion in command and args ($$ escapes)."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, value)


def container_env(container, namespace, pod_name):
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = expand_env(str(e["value"]), env)
        else:
            path = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            field_values = {"metadata.namespace": namespace,
                            "metadata.name": pod_name}
            if path in field_values:
                env[e["name"]] = field_values[path]
    return env


def flag_args(args):
    """--flag=value arguments as {flag_with_underscores: value}."""
    out = {}
    for a in args:
        m = re.fullmatch(r"--?([A-Za-z0-9_-]+)=(.*)", a, re.S)
        if m:
            out[m.group(1).replace("-", "_")] = m.group(2)
        elif a.startswith("-"):
            out[a.lstrip("-").replace("-", "_")] = None
    return out


def mount_for(container, path):
    """The volumeMount whose mountPath holds path (the deepest one)."""
    best = None
    for vm in container.get("volumeMounts", []):
        mp = vm["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = vm
    return best


def volume_source(sts, name):
    for v in sts["spec"]["template"]["spec"].get("volumes", []):
        if v["name"] == name:
            return v
    for t in sts["spec"].get("volumeClaimTemplates", []):
        if t["metadata"]["name"] == name:
            return {"name": name, "persistentVolumeClaim": t}
    return None


def object_data(obj):
    """A ConfigMap's or Secret's keys and their text."""
    data = {}
    if obj["kind"] == "Secret":
        for k, v in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(v).decode()
    else:
        data.update(obj.get("data") or {})
    data.update(obj.get("stringData") or {})
    return data


def projected_files(model, volume):
    """{relative path: (text, mode)} of a configMap or secret volume."""
    if "configMap" in volume:
        src, obj = volume["configMap"], model.get(
            "ConfigMap", volume["configMap"]["name"])
    elif "secret" in volume:
        src, obj = volume["secret"], model.get(
            "Secret", volume["secret"]["secretName"])
    else:
        return None
    if obj is None:
        return None
    data = object_data(obj)
    mode = src.get("defaultMode", 0o644)
    items = src.get("items")
    if items is None:
        return {k: (v, mode) for k, v in data.items()}
    files = {}
    for it in items:
        if it["key"] in data:
            files[it["path"]] = (data[it["key"]], it.get("mode", mode))
    return files


def file_in_pod(model, sts, path):
    """(volume, relative path, text) of the file a pod sees at path from a
    ConfigMap or Secret volume, or None."""
    c = cairnd_container(sts)
    vm = mount_for(c, path)
    if vm is None:
        return None
    vol = volume_source(sts, vm["name"])
    files = projected_files(model, vol) if vol else None
    if not files:
        return None
    rel = os.path.relpath(path, vm["mountPath"])
    if rel not in files:
        return None
    return vol, rel, files[rel][0]


def pod_config(model, sts):
    """(config path, parsed TOML, flags from args) of a cairnd pod."""
    c = cairnd_container(sts)
    flags = flag_args(c.get("args", []))
    path = flags.get("config")
    if path is None:
        return None, {}, flags
    f = file_in_pod(model, sts, path)
    if f is None:
        return path, None, flags
    return path, tomllib.loads(f[2]), flags


def setting(model, sts, name):
    """A cairnd setting as the pod's cairnd sees it (args win over the file),
    before $(VAR) expansion; None if unset."""
    _, cfg, flags = pod_config(model, sts)
    if name in flags:
        return flags[name]
    for k, v in (cfg or {}).items():
        if k.replace("-", "_") == name:
            return v
    return None


def parse_tokens(text):
    """[(role, token)] of an --auth_tokens file, or raises ValueError."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        if len(parts) != 2 or parts[0] not in ROLES:
            raise ValueError("line %d: expected 'role token'" % n)
        tok = parts[1]
        if not 16 <= len(tok) <= 4096 or not all(33 <= ord(ch) <= 126
                                                 for ch in tok):
            raise ValueError("line %d: bad token" % n)
        out.append((parts[0], tok))
    if len({t for _, t in out}) != len(out):
        raise ValueError("a token appears twice")
    return out


def cairnd_flags(source_dir):
    """The flag names server/src/config.cc defines."""
    with open(os.path.join(source_dir, "server", "src", "config.cc")) as f:
        text = f.read()
    return set(re.findall(r"ABSL_FLAG\(\s*[^,]+?,\s*(\w+)\s*,", text))


def statefulsets(model):
    """(primary, replica) StatefulSets: the replica is the one with
    --replica_of."""
    primary = replica = None
    for s in model.all("StatefulSet"):
        if setting(model, s, "replica_of"):
            replica = s
        else:
            primary = s
    return primary, replica


def primary_dns_names(model, primary):
    """HOST:PORT -> (what it is) for every name a replica could follow the
    primary by: its pod's headless DNS name, and the Services that select
    it (short, namespaced and full names)."""
    ns = primary["metadata"].get("namespace", "default")
    c = cairnd_container(primary)
    names = {}
    headless = primary["spec"]["serviceName"]
    for svc in model.all("Service"):
        if not selects(svc["spec"].get("selector"), pod_labels(primary)):
            continue
        n = svc["metadata"]["name"]
        for p in svc["spec"]["ports"]:
            target = container_port(c, p.get("targetPort", p["port"]))
            if target is None:
                continue
            hosts = [n, "%s.%s" % (n, ns), "%s.%s.svc" % (n, ns),
                     "%s.%s.svc.cluster.local" % (n, ns)]
            if n == headless:
                pod = "%s-0" % primary["metadata"]["name"]
                hosts += ["%s.%s.%s.svc.cluster.local" % (pod, n, ns),
                          "%s.%s.%s.svc" % (pod, n, ns)]
            for h in hosts:
                names["%s:%d" % (h, p["port"])] = target
    return names


# --- static checks -----------------------------------------------------------

class StaticTest(unittest.TestCase):
    """The manifests and their cross-references, without running anything."""

    @classmethod
    def setUpClass(cls):
        cls.m = MODEL
        cls.primary, cls.replica = statefulsets(MODEL)

    def workloads(self):
        return [s for s in (self.primary, self.replica) if s is not None]

    def test_build_has_no_errors(self):
        self.assertEqual(self.m.errors, [])
        self.assertIsNotNone(self.primary, "no primary StatefulSet")
        self.assertIsNotNone(self.replica,
                             "no replica StatefulSet (with --replica_of)")

    def test_every_document_is_a_known_well_formed_object(self):
        for path in self.m.yaml_files:
            for doc in load_docs(path):
                with self.subTest(file=self.m.rel(path)):
                    self.assertIsInstance(doc, dict)
                    key = (doc.get("apiVersion"), doc.get("kind"))
                    self.assertIn(key, KNOWN_KINDS | KUSTOMIZE_KINDS)
                    if key in KUSTOMIZE_KINDS:
                        continue
                    name = doc.get("metadata", {}).get("name", "")
                    self.assertRegex(name, DNS1123_SUBDOMAIN)
                    if doc["kind"] == "Service":  # becomes a DNS label
                        self.assertRegex(name, DNS1123_LABEL)
                    for k, v in doc["metadata"].get("labels", {}).items():
                        self.assertIsInstance(v, str, k)
                    for k, v in doc["metadata"].get("annotations",
                                                    {}).items():
                        self.assertIsInstance(v, str, k)

    def test_every_file_is_used_by_a_kustomization(self):
        # The base uses most files; the others (the ServiceMonitor, a CRD)
        # are reachable only through an overlay or a component.
        unused = [self.m.rel(p) for p in self.m.yaml_files + self.m.other_files
                  if p not in self.m.referenced]
        self.assertEqual(unused, [])
        base_kinds = {o["kind"] for o in self.m.base}
        self.assertNotIn("ServiceMonitor", base_kinds,
                         "the base must not need the Prometheus Operator CRD")

    def test_names_are_unique_and_namespaced(self):
        for d, objs in self.m.builds.items():
            seen = set()
            for o in objs:
                key = (o["kind"], o["metadata"].get("namespace"),
                       o["metadata"]["name"])
                with self.subTest(build=self.m.rel(d), obj=key):
                    self.assertNotIn(key, seen)
                    seen.add(key)
                    if o["kind"] not in CLUSTER_SCOPED_KINDS:
                        self.assertTrue(o["metadata"].get("namespace"),
                                        "no namespace after the build")
        self.assertTrue(self.m.namespace, "the base sets no namespace")
        self.assertIsNotNone(self.m.get("Namespace", self.m.namespace),
                             "the base does not create its namespace")

    def test_statefulsets(self):
        self.assertEqual(self.primary["spec"]["replicas"], 1,
                         "exactly one primary")
        for sts in self.workloads():
            name = sts["metadata"]["name"]
            with self.subTest(sts=name):
                spec = sts["spec"]
                self.assertTrue(selects(spec["selector"]["matchLabels"],
                                        pod_labels(sts)))
                self.assertEqual(spec.get("updateStrategy", {}).get("type"),
                                 "RollingUpdate")
                c = cairnd_container(sts)
                self.assertIsNotNone(c, "no container named cairnd")
                names = [p["name"] for p in c["ports"]]
                self.assertEqual(sorted(names), ["grpc", "metrics"])
                # Every mount has a volume, every volume is mounted.
                vols = {v["name"] for v in spec["template"]["spec"]["volumes"]}
                claims = {t["metadata"]["name"]
                          for t in spec["volumeClaimTemplates"]}
                mounted = {vm["name"] for vm in c["volumeMounts"]}
                self.assertEqual(mounted, vols | claims)
                self.assertFalse(vols & claims)
                for t in spec["volumeClaimTemplates"]:
                    self.assertEqual(t["spec"]["accessModes"],
                                     ["ReadWriteOnce"])
                    parse_quantity(t["spec"]["resources"]["requests"]
                                   ["storage"])
                # The volumes' ConfigMaps/Secrets exist with the keys used.
                for v in spec["template"]["spec"]["volumes"]:
                    if "configMap" in v or "secret" in v:
                        src = v.get("configMap") or v.get("secret")
                        kind = "ConfigMap" if "configMap" in v else "Secret"
                        obj = self.m.get(kind, src.get("name") or
                                         src.get("secretName"))
                        self.assertIsNotNone(obj, v["name"])
                        for it in src.get("items", []):
                            self.assertIn(it["key"], object_data(obj))
                # The governing Service is headless and selects the pods.
                svc = self.m.get("Service", spec["serviceName"])
                self.assertIsNotNone(svc, spec["serviceName"])
                self.assertEqual(svc["spec"].get("clusterIP"), "None")
                self.assertTrue(selects(svc["spec"]["selector"],
                                        pod_labels(sts)))

    def test_services_select_one_workload_and_name_its_ports(self):
        for svc in self.m.all("Service"):
            name = svc["metadata"]["name"]
            with self.subTest(service=name):
                sel = svc["spec"]["selector"]
                targets = [s for s in self.workloads()
                           if selects(sel, pod_labels(s))]
                self.assertEqual(len(targets), 1,
                                 "selects %d StatefulSets" % len(targets))
                c = cairnd_container(targets[0])
                for p in svc["spec"]["ports"]:
                    tp = p.get("targetPort", p["port"])
                    self.assertIsNotNone(container_port(c, tp),
                                         "targetPort %s" % tp)
                    self.assertEqual(container_port(c, tp), p["port"])
                    self.assertIn(p["name"], ("grpc", "metrics"))

    def test_config_agrees_with_the_pods(self):
        known = cairnd_flags(ARGS.source_dir)
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                c = cairnd_container(sts)
                path, cfg, flags = pod_config(self.m, sts)
                self.assertIsNotNone(path, "no --config in args")
                self.assertIsNotNone(cfg, "--config=%s is no file of a "
                                     "mounted ConfigMap" % path)
                vm = mount_for(c, path)
                self.assertIn("configMap", volume_source(sts, vm["name"]))
                self.assertTrue(vm.get("readOnly"))
                for k in list(cfg) + list(flags):
                    self.assertIn(k.replace("-", "_"), known,
                                  "%s is no cairnd flag" % k)
                host, port = split_host_port(setting(self.m, sts, "listen"))
                self.assertEqual(host, "0.0.0.0")
                self.assertEqual(port, container_port(c, "grpc"))
                host, port = split_host_port(
                    setting(self.m, sts, "metrics_listen"))
                self.assertEqual(host, "0.0.0.0")
                self.assertEqual(port, container_port(c, "metrics"))
                # The data lives on the claim template's volume, in a
                # directory below its root (a fresh volume's lost+found
                # would stop a replica's bootstrap).
                data_dir = setting(self.m, sts, "data_dir")
                vm = mount_for(c, data_dir)
                self.assertIsNotNone(vm, "data_dir %s is on no volume" %
                                     data_dir)
                self.assertIn("persistentVolumeClaim",
                              volume_source(sts, vm["name"]))
                self.assertNotEqual(data_dir.rstrip("/"),
                                    vm["mountPath"].rstrip("/"))
                self.assertFalse(vm.get("readOnly"))
                # min_free_disk_bytes leaves room on the volume.
                claim = volume_source(sts, vm["name"])["persistentVolumeClaim"]
                size = parse_quantity(claim["spec"]["resources"]["requests"]
                                      ["storage"])
                reserve = parse_byte_size(
                    setting(self.m, sts, "min_free_disk_bytes") or 0)
                self.assertLess(reserve, size / 2)
                # No TLS: the kubelet's gRPC probes speak plaintext.
                self.assertFalse(setting(self.m, sts, "tls_cert"))

    def test_token_files_come_from_the_secret(self):
        primary_tokens = None
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                path = setting(self.m, sts, "auth_tokens")
                self.assertTrue(path, "auth is off")
                f = file_in_pod(self.m, sts, path)
                self.assertIsNotNone(f, "%s is no mounted Secret key" % path)
                self.assertIn("secret", f[0])
                self.assertTrue(mount_for(cairnd_container(sts),
                                          path).get("readOnly"))
                mode = f[0]["secret"].get("defaultMode", 0o644)
                self.assertEqual(mode & 0o007, 0, "tokens readable by all")
                tokens = parse_tokens(f[2])
                self.assertEqual({r for r, _ in tokens}, set(ROLES))
                if sts is self.primary:
                    primary_tokens = tokens
        # The replica's token for the primary is a read-or-higher token of
        # the primary's file.
        path = setting(self.m, self.replica, "replica_token_file")
        self.assertTrue(path, "replica has no --replica_token_file")
        f = file_in_pod(self.m, self.replica, path)
        self.assertIsNotNone(f, "%s is no mounted Secret key" % path)
        self.assertIn("secret", f[0])
        self.assertIn(f[2].strip(), [t for _, t in primary_tokens])

    def test_replica_follows_the_primary(self):
        c = cairnd_container(self.replica)
        ns = self.replica["metadata"]["namespace"]
        pod = "%s-0" % self.replica["metadata"]["name"]
        env = container_env(c, ns, pod)
        target = expand_env(setting(self.m, self.replica, "replica_of"), env)
        self.assertNotIn("$(", target, "unexpanded variable")
        names = primary_dns_names(self.m, self.primary)
        self.assertIn(target, names, "not the primary's address")
        self.assertEqual(names[target],
                         container_port(cairnd_container(self.primary),
                                        "grpc"))
        # Through the headless Service's pod name: resolvable even while the
        # primary is not ready (publishNotReadyAddresses).
        host = split_host_port(target)[0]
        svc = self.m.get("Service", self.primary["spec"]["serviceName"])
        self.assertTrue(host.startswith("%s-0.%s." % (
            self.primary["metadata"]["name"], svc["metadata"]["name"])))
        self.assertTrue(svc["spec"].get("publishNotReadyAddresses"))

    def test_probes(self):
        for sts in self.workloads():
            c = cairnd_container(sts)
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                with self.subTest(sts=sts["metadata"]["name"], probe=kind):
                    p = c.get(kind)
                    self.assertIsNotNone(p)
                    if "grpc" in p:
                        # gRPC probes take a port number, no name.
                        self.assertIsInstance(p["grpc"]["port"], int)
                        self.assertEqual(container_port(c, p["grpc"]["port"]),
                                         container_port(c, "grpc"))
                        self.assertIn(p["grpc"].get("service", ""),
                                      HEALTH_SERVICES)
                    elif "httpGet" in p:
                        self.assertEqual(
                            container_port(c, p["httpGet"]["port"]),
                            container_port(c, "metrics"))
                        self.assertEqual(p["httpGet"]["path"], "/healthz")
                    else:
                        self.fail("neither grpc nor httpGet")
                    self.assertGreaterEqual(p.get("timeoutSeconds", 1), 1)
            # Readiness follows the engine's writability (cairn.v1.KV turns
            # NOT_SERVING when it is read-only).
            self.assertEqual(c["readinessProbe"].get("grpc", {}).get(
                "service"), "cairn.v1.KV")
            startup = c["startupProbe"]
            self.assertGreaterEqual(
                startup["periodSeconds"] * startup["failureThreshold"], 300)
        # A replica may take replica_bootstrap_timeout to reach the primary.
        s = cairnd_container(self.replica)["startupProbe"]
        self.assertGreater(
            s["periodSeconds"] * s["failureThreshold"],
            parse_duration(setting(self.m, self.replica,
                                   "replica_bootstrap_timeout") or "5m"))

    def test_scrape_annotations(self):
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                a = sts["spec"]["template"]["metadata"].get("annotations", {})
                self.assertEqual(a.get("prometheus.io/scrape"), "true")
                self.assertEqual(
                    int(a.get("prometheus.io/port")),
                    container_port(cairnd_container(sts), "metrics"))
                self.assertEqual(a.get("prometheus.io/path"), "/metrics")

    def test_termination_grace_covers_shutdown_grace(self):
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                grace = parse_duration(
                    setting(self.m, sts, "shutdown_grace") or "10s")
                tgps = sts["spec"]["template"]["spec"].get(
                    "terminationGracePeriodSeconds", 30)
                self.assertGreaterEqual(tgps, grace + CLOSE_MARGIN_SECONDS)

    def test_security_context_matches_the_image(self):
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                ps = sts["spec"]["template"]["spec"]
                sc = ps["securityContext"]
                self.assertIs(sc.get("runAsNonRoot"), True)
                self.assertEqual(sc.get("runAsUser"), IMAGE_UID)
                self.assertEqual(sc.get("runAsGroup"), IMAGE_UID)
                self.assertEqual(sc.get("fsGroup"), IMAGE_UID)
                self.assertEqual(sc.get("seccompProfile", {}).get("type"),
                                 "RuntimeDefault")
                self.assertIs(ps.get("automountServiceAccountToken"), False)
                c = cairnd_container(sts)
                cs = c["securityContext"]
                self.assertIs(cs.get("allowPrivilegeEscalation"), False)
                self.assertIs(cs.get("readOnlyRootFilesystem"), True)
                self.assertEqual(cs.get("capabilities", {}).get("drop"),
                                 ["ALL"])
                self.assertFalse(cs.get("capabilities", {}).get("add"))
                self.assertFalse(cs.get("privileged"))
                name = c["image"].rpartition(":")[0].rpartition("/")[2]
                self.assertEqual(name, IMAGE_NAME)
                self.assertEqual(c.get("imagePullPolicy"), "IfNotPresent")
                self.assertNotIn("command", c, "the image's ENTRYPOINT runs")

    def test_resources_and_memory_budget(self):
        for sts in self.workloads():
            with self.subTest(sts=sts["metadata"]["name"]):
                r = cairnd_container(sts)["resources"]
                for k in ("cpu", "memory"):
                    self.assertIn(k, r["requests"])
                    self.assertIn(k, r["limits"])
                    self.assertLessEqual(parse_quantity(r["requests"][k]),
                                         parse_quantity(r["limits"][k]))
                limit = parse_quantity(r["limits"]["memory"])
                budget = parse_byte_size(
                    setting(self.m, sts, "memory_budget_bytes") or 0)
                cache = parse_byte_size(
                    setting(self.m, sts, "block_cache_bytes") or 64 << 20)
                wbuf = parse_byte_size(
                    setting(self.m, sts, "write_buffer_bytes") or 16 << 20)
                self.assertGreater(budget, 0, "no memory_budget_bytes")
                self.assertLessEqual(budget,
                                     limit * MAX_BUDGET_FRACTION_OF_LIMIT)
                # cairnd refuses a budget that the cache alone fills.
                self.assertGreater(budget, cache + wbuf)

    def test_disruption_budget_selects_replicas(self):
        pdbs = self.m.all("PodDisruptionBudget")
        for pdb in pdbs:
            with self.subTest(pdb=pdb["metadata"]["name"]):
                sel = pdb["spec"]["selector"]["matchLabels"]
                self.assertTrue(selects(sel, pod_labels(self.replica)))
                self.assertFalse(selects(sel, pod_labels(self.primary)),
                                 "a budget on the single primary blocks "
                                 "node drains")

    def test_servicemonitor_overlay(self):
        builds = [objs for objs in self.m.builds.values()
                  if self.m.all("ServiceMonitor", objs)]
        self.assertTrue(builds, "no kustomization adds the ServiceMonitor")
        for objs in builds:
            for sm in self.m.all("ServiceMonitor", objs):
                sel = sm["spec"]["selector"]["matchLabels"]
                svcs = [s for s in self.m.all("Service", objs)
                        if selects(sel, s["metadata"].get("labels", {}))]
                # The headless Services: every pod once, ready or not.
                self.assertEqual(
                    sorted(s["metadata"]["name"] for s in svcs),
                    sorted(w["spec"]["serviceName"]
                           for w in self.workloads()))
                for ep in sm["spec"]["endpoints"]:
                    for s in svcs:
                        self.assertIn(ep["port"],
                                      [p["name"] for p in s["spec"]["ports"]])
                    self.assertEqual(ep.get("path"), "/metrics")
                self.assertEqual(sm["metadata"].get("namespace"),
                                 self.m.namespace)


# --- running the manifests ---------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_dump(table):
    lines = []
    for k, v in table.items():
        if isinstance(v, bool):
            lines.append("%s = %s" % (k, "true" if v else "false"))
        elif isinstance(v, (int, float)):
            lines.append("%s = %s" % (k, v))
        elif isinstance(v, str):
            lines.append("%s = %s" % (k, json.dumps(v)))
        else:
            raise ValueError("setting %s: unexpected TOML value %r" % (k, v))
    return "\n".join(lines) + "\n"


class Pod:
    """One pod of a StatefulSet, run as a local cairnd process.

    Lays out the pod's volumes under root/<pod>, maps its container ports
    to free loopback ports, and rewrites paths under its mounts and
    addresses (0.0.0.0:<port>, the primary's DNS names) in its config files
    and args. Nothing else of the manifests is changed.
    """

    def __init__(self, model, sts, ordinal, root, cairnd, peers):
        self.model = model
        self.sts = sts
        self.name = "%s-%d" % (sts["metadata"]["name"], ordinal)
        self.namespace = sts["metadata"]["namespace"]
        self.container = cairnd_container(sts)
        self.root = os.path.join(root, self.name)
        self.cairnd = cairnd
        self.peers = peers  # HOST:PORT -> "127.0.0.1:<port>"
        self.ports = {}
        for p in self.container["ports"]:
            port = free_port()
            while port in self.ports.values():
                port = free_port()
            self.ports[p["containerPort"]] = port
        self.proc = None
        self.log_path = os.path.join(root, self.name + ".log")
        self._log = None
        self._materialize_volumes()
        env = container_env(self.container, self.namespace, self.name)
        self.args = [self.rewrite(expand_env(a, env))
                     for a in self.container.get("args", [])]

    def host_path(self, pod_path):
        return os.path.join(self.root, pod_path.lstrip("/"))

    def rewrite(self, value):
        """A path under a mount -> its local directory; 0.0.0.0:P -> a
        loopback port; a peer's DNS HOST:PORT -> its loopback address.
        --flag=value arguments are rewritten in their value."""
        m = re.fullmatch(r"(--?[A-Za-z0-9_-]+=)(.*)", value, re.S)
        if m:
            return m.group(1) + self.rewrite(m.group(2))
        if value.startswith("/") and mount_for(self.container, value):
            return self.host_path(value)
        if value in self.peers:
            return self.peers[value]
        am = re.fullmatch(r"0\.0\.0\.0:(\d+)", value)
        if am and int(am.group(1)) in self.ports:
            return "127.0.0.1:%d" % self.ports[int(am.group(1))]
        return value

    def _materialize_volumes(self):
        for vm in self.container["volumeMounts"]:
            vol = volume_source(self.sts, vm["name"])
            d = self.host_path(vm["mountPath"])
            os.makedirs(d, exist_ok=True)
            if "persistentVolumeClaim" in vol:
                # A fresh ext4 volume's root.
                os.makedirs(os.path.join(d, "lost+found"), exist_ok=True)
                continue
            for rel, (text, mode) in projected_files(self.model, vol).items():
                path = os.path.join(d, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if rel.endswith(".toml"):
                    table = tomllib.loads(text)
                    text = toml_dump({k: self.rewrite(v) if isinstance(v, str)
                                      else v for k, v in table.items()})
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, mode)

    def address(self, container_port_number):
        return "127.0.0.1:%d" % self.ports[container_port_number]

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.cairnd] + self.args,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def log_tail(self, n=6000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self, timeout):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def run_probe(self, kind):
        """Runs the container's probe once as the kubelet would: (ok, why)."""
        import grpc
        p = self.container[kind]
        timeout = p.get("timeoutSeconds", 1)
        if "grpc" in p:
            addr = self.address(p["grpc"]["port"])
            ch = grpc.insecure_channel(addr)
            try:
                stub = LiveTest.health_pb2_grpc.HealthStub(ch)
                resp = stub.Check(LiveTest.health_pb2.HealthCheckRequest(
                    service=p["grpc"].get("service", "")), timeout=timeout)
                serving = LiveTest.health_pb2.HealthCheckResponse.SERVING
                ok = resp.status == serving
                return ok, "status %d" % resp.status
            except grpc.RpcError as e:
                return False, "%s %s" % (e.code(), e.details())
            finally:
                ch.close()
        if "httpGet" in p:
            port = container_port(self.container, p["httpGet"]["port"])
            url = "http://%s%s" % (self.address(port), p["httpGet"]["path"])
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    return 200 <= r.status < 400, "HTTP %d" % r.status
            except (urllib.error.URLError, OSError) as e:
                return False, str(e)
        return False, "unsupported probe"

    def wait_started(self, budget):
        """Runs the startup probe every 0.1 s (bounded by budget seconds and
        by the probe's own periodSeconds * failureThreshold)."""
        p = self.container["startupProbe"]
        deadline = time.monotonic() + min(
            budget, p.get("periodSeconds", 10) * p.get("failureThreshold", 3))
        why = "not probed"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %d while starting:\n%s" %
                                     (self.name, self.proc.returncode,
                                      self.log_tail()))
            ok, why = self.run_probe("startupProbe")
            if ok:
                return
            time.sleep(0.1)
        raise AssertionError("%s: startup probe failing after %.0f s (%s):\n%s"
                             % (self.name, budget, why, self.log_tail()))


class LiveTest(unittest.TestCase):
    """The primary and one replica, run from the manifests."""

    health_pb2 = health_pb2_grpc = None
    START_BUDGET = 15  # seconds per pod

    @classmethod
    def setUpClass(cls):
        if not ARGS.cairnd:
            raise unittest.SkipTest("no --cairnd")
        sys.path.insert(0, os.path.join(ARGS.source_dir, "tests", "server",
                                        "python"))
        import cairnd_harness
        cls.tmp = tempfile.mkdtemp(prefix="k8s_manifests_test.")
        cairnd_harness.generate_stubs(os.path.join(ARGS.source_dir, "proto"),
                                      os.path.join(cls.tmp, "gen"))
        from cairn.v1 import kv_pb2, kv_pb2_grpc, admin_pb2, admin_pb2_grpc
        cls.kv_pb2, cls.kv_pb2_grpc = kv_pb2, kv_pb2_grpc
        cls.admin_pb2, cls.admin_pb2_grpc = admin_pb2, admin_pb2_grpc
        LiveTest.health_pb2, LiveTest.health_pb2_grpc = (
            cairnd_harness.load_health_modules(os.path.join(cls.tmp, "gen")))

        m = MODEL
        cls.primary_sts, cls.replica_sts = statefulsets(m)
        cls.pods = []
        cls.primary = Pod(m, cls.primary_sts, 0, cls.tmp, ARGS.cairnd, {})
        cls.pods.append(cls.primary)
        names = primary_dns_names(m, cls.primary_sts)
        peers = {name: cls.primary.address(port)
                 for name, port in names.items()}
        cls.replica = Pod(m, cls.replica_sts, 0, cls.tmp, ARGS.cairnd, peers)
        cls.pods.append(cls.replica)
        tokens = parse_tokens(object_data(m.get(
            "Secret", "cairn-tokens"))["tokens"])
        cls.token = {role: tok for role, tok in reversed(tokens)}
        try:
            cls.primary.start()
            cls.primary.wait_started(cls.START_BUDGET)
            # Something for the replica's bootstrap to copy (into a volume
            # whose root holds lost+found).
            with cls.channel(cls.primary) as ch:
                cls.bootstrap_seq = cls.kv_pb2_grpc.KVStub(ch).Put(
                    kv_pb2.PutRequest(key=b"k8s/before-replica",
                                      value=b"copied"),
                    timeout=10, metadata=cls.md("write")).seq
            cls.replica.start()
            cls.replica.wait_started(cls.START_BUDGET)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "pods", []):
            p.kill()
        if os.environ.get("KEEP_TMP"):
            print("kept", cls.tmp)
        elif getattr(cls, "tmp", None):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def channel(cls, pod):
        import grpc
        return grpc.insecure_channel(pod.address(
            container_port(pod.container, "grpc")))

    @classmethod
    def md(cls, role):
        return [("authorization", "Bearer " + cls.token[role])]

    def test_replica_bootstrapped_from_the_primary(self):
        with self.channel(self.replica) as ch:
            got = self.kv_pb2_grpc.KVStub(ch).Get(
                self.kv_pb2.GetRequest(key=b"k8s/before-replica"), timeout=5,
                metadata=self.md("read"))
        self.assertTrue(got.found)
        self.assertEqual(got.value, b"copied")
        self.assertEqual(got.revision, self.bootstrap_seq)

    def test_a_args_are_the_manifests(self):
        # Only mounted paths and addresses differ from the manifests.
        for pod in self.pods:
            self.assertEqual(len(pod.args), len(pod.container["args"]))
            self.assertTrue(any(a.startswith("--config=" + pod.root)
                                for a in pod.args), pod.args)
        self.assertEqual(flag_args(self.replica.args).get("replica_of"),
                         self.primary.address(7070))

    def test_probes_pass_without_a_token(self):
        for pod in self.pods:
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                with self.subTest(pod=pod.name, probe=kind):
                    ok, why = pod.run_probe(kind)
                    self.assertTrue(ok, why)
            # The whole server ("") too, as a probe without a service would.
            with self.channel(pod) as ch:
                resp = self.health_pb2_grpc.HealthStub(ch).Check(
                    self.health_pb2.HealthCheckRequest(service=""), timeout=5)
                self.assertEqual(resp.status,
                                 self.health_pb2.HealthCheckResponse.SERVING)

    def test_healthz_and_metrics(self):
        for pod in self.pods:
            a = pod.sts["spec"]["template"]["metadata"]["annotations"]
            base = "http://%s" % pod.address(int(a["prometheus.io/port"]))
            with self.subTest(pod=pod.name):
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                    self.assertEqual(r.status, 200)
                with urllib.request.urlopen(base + a["prometheus.io/path"],
                                            timeout=5) as r:
                    self.assertEqual(r.status, 200)
                    text = r.read().decode()
                self.assertIn("cairn_", text)
                if pod is self.replica:
                    self.assertIn("cairn_replica_", text)

    def test_auth_is_on(self):
        import grpc
        kv = self.kv_pb2
        with self.channel(self.primary) as ch:
            stub = self.kv_pb2_grpc.KVStub(ch)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Put(kv.PutRequest(key=b"k8s/noauth", value=b"x"),
                         timeout=5)
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Put(kv.PutRequest(key=b"k8s/ro", value=b"x"), timeout=5,
                         metadata=self.md("read"))
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.PERMISSION_DENIED)
        with self.channel(self.replica) as ch:
            stub = self.kv_pb2_grpc.KVStub(ch)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Get(kv.GetRequest(key=b"k8s/noauth"), timeout=5)
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Put(kv.PutRequest(key=b"k8s/replica", value=b"x"),
                         timeout=5, metadata=self.md("write"))
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.FAILED_PRECONDITION)

    def test_write_reaches_the_replica(self):
        kv = self.kv_pb2
        value = b"written through the Service at %d" % time.time_ns()
        with self.channel(self.primary) as ch:
            put = self.kv_pb2_grpc.KVStub(ch).Put(
                kv.PutRequest(key=b"k8s/key", value=value), timeout=10,
                metadata=self.md("write"))
        self.assertGreater(put.seq, 0)
        deadline = time.monotonic() + 10
        with self.channel(self.replica) as ch:
            stub = self.kv_pb2_grpc.KVStub(ch)
            while True:
                got = stub.Get(kv.GetRequest(key=b"k8s/key"), timeout=5,
                               metadata=self.md("read"))
                if got.found and got.revision >= put.seq:
                    break
                self.assertLess(time.monotonic(), deadline,
                                "the write did not reach the replica in 10 s")
                time.sleep(0.05)
            self.assertEqual(got.value, value)
            self.assertEqual(got.revision, put.seq)
            stats = self.admin_pb2_grpc.AdminStub(ch).Stats(
                self.admin_pb2.StatsRequest(), timeout=5,
                metadata=self.md("read"))
        self.assertEqual(stats.replica_of, self.primary.address(7070))
        self.assertTrue(stats.replica_connected)

    def test_z_sigterm_ends_within_the_grace_period(self):
        # The replica first (it follows the primary), then the primary.
        for pod in (self.replica, self.primary):
            tgps = pod.sts["spec"]["template"]["spec"][
                "terminationGracePeriodSeconds"]
            start = time.monotonic()
            rc = pod.stop(timeout=min(tgps, 20))
            took = time.monotonic() - start
            self.assertEqual(rc, 0, "%s: exit %s after %.1f s:\n%s" %
                             (pod.name, rc, took, pod.log_tail()))
            self.assertIn("stopped", pod.log_tail())


def main():
    global ARGS, MODEL
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.normpath(os.path.join(here, "..", "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k8s_dir", default=os.path.join(source, "deploy",
                                                          "k8s"))
    parser.add_argument("--source_dir", default=source)
    parser.add_argument("--cairnd", default="")
    parser.add_argument("--mode", choices=["static", "run", "all"],
                        default="all")
    parser.add_argument("--dump_json", default="",
                        help="write the objects every kustomization builds "
                        "(each once) to this JSON file and exit")
    ARGS, rest = parser.parse_known_args()
    MODEL = Model(ARGS.k8s_dir)
    if ARGS.dump_json:
        objs, seen = [], set()
        for build in MODEL.builds.values():
            for o in build:
                key = (o["apiVersion"], o["kind"], o["metadata"]["name"])
                if key not in seen:
                    seen.add(key)
                    objs.append(o)
        with open(ARGS.dump_json, "w") as f:
            json.dump(objs, f, indent=1)
        return 1 if MODEL.errors else 0
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    if ARGS.mode in ("static", "all"):
        suite.addTests(loader.loadTestsFromTestCase(StaticTest))
    if ARGS.mode in ("run", "all"):
        if not ARGS.cairnd:
            parser.error("--mode %s needs --cairnd" % ARGS.mode)
        suite.addTests(loader.loadTestsFromTestCase(LiveTest))
    verbosity = 2 if "-v" in rest else 1
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
