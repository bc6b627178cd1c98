#!/usr/bin/python3
"""promtool check config / check rules over deploy/monitoring.

Run:
  /usr/bin/python3 tests/deploy/monitoring/promtool_check_test.py \
      --monitoring_dir deploy/monitoring

1. `promtool check rules cairn-alerts.yml` must succeed.
2. `promtool check config prometheus.yml` (hosts) must succeed, and check
   the rule file.
3. `promtool check config prometheus-kubernetes.yml` must succeed too.
   Debian's promtool (package `prometheus`, 2.42) is built without
   Kubernetes service discovery and rejects it with "field
   kubernetes_sd_configs not found". When that is the only error, the test
   checks the kubernetes_sd_configs blocks by hand (role pod, nothing else
   set) and runs promtool on a copy where each is replaced by a
   file_sd_configs, so that everything else (relabelling rules, regexes,
   rule_files) is still checked by promtool.
4. Every rule has a `for:`, a severity label (critical or warning) and
   summary, description and runbook annotations; alert names are unique.

Needs /usr/bin/promtool and python3-yaml. Exits non-zero on failure.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

PROMTOOL = "/usr/bin/promtool"
K8S_UNSUPPORTED = "field kubernetes_sd_configs not found"


class Failure(Exception):
    pass


def log(msg):
    sys.stderr.write("promtool_check_test: %s\n" % msg)
    sys.stderr.flush()


def promtool(*args):
    r = subprocess.run([PROMTOOL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def check_rules(rules_path):
    code, out = promtool("check", "rules", rules_path)
    if code != 0:
        raise Failure("promtool check rules %s:\n%s" % (rules_path, out))
    log(out.strip().replace("\n", " | "))

    with open(rules_path) as f:
        doc = yaml.safe_load(f)
    names = set()
    count = 0
    for group in doc["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if name is None:
                continue  # recording rules have no severity
            count += 1
            if name in names:
                raise Failure("alert %s defined twice" % name)
            names.add(name)
            if "for" not in rule:
                raise Failure("alert %s has no for:" % name)
            sev = rule.get("labels", {}).get("severity")
            if sev not in ("critical", "warning"):
                raise Failure("alert %s: severity %r" % (name, sev))
            ann = rule.get("annotations", {})
            for key in ("summary", "description", "runbook"):
                if not str(ann.get(key, "")).strip():
                    raise Failure("alert %s lacks annotation %s" % (name, key))
    if count < 10:
        raise Failure("only %d alerts in %s" % (count, rules_path))
    log("%d alerts, each with for:, severity, summary, description, runbook"
        % count)


def check_k8s_block(job, sd):
    """The subset of kubernetes_sd_configs the file uses, by hand."""
    if not isinstance(sd, list) or not sd:
        raise Failure("job %s: kubernetes_sd_configs must be a non-empty list"
                      % job)
    for entry in sd:
        if entry.get("role") != "pod":
            raise Failure("job %s: kubernetes_sd_configs role %r (want pod)"
                          % (job, entry.get("role")))
        extra = set(entry) - {"role", "namespaces", "selectors"}
        if extra:
            raise Failure("job %s: unchecked kubernetes_sd_configs fields %s"
                          % (job, sorted(extra)))


def check_config(monitoring_dir, name, tmp, k8s_fallback=False):
    config = os.path.join(monitoring_dir, name)
    code, out = promtool("check", "config", config)
    if code == 0:
        if "SUCCESS: 1 rule files found" not in out:
            raise Failure("%s: promtool checked no rule file:\n%s" % (name, out))
        log("promtool check config %s: %s" %
            (name, out.strip().replace("\n", " | ")))
        return
    # The YAML errors are listed one per line as "  line N: ...".
    errors = [l for l in out.splitlines() if re.match(r"\s*line \d+:", l)]
    if not (k8s_fallback and errors and
            all(K8S_UNSUPPORTED in l for l in errors)):
        raise Failure("promtool check config %s:\n%s" % (config, out))
    log("this promtool has no Kubernetes service discovery (Debian build); "
        "checking kubernetes_sd_configs by hand and the rest on a copy")

    with open(config) as f:
        doc = yaml.safe_load(f)
    replaced = 0
    for job in doc["scrape_configs"]:
        if "kubernetes_sd_configs" in job:
            check_k8s_block(job["job_name"], job.pop("kubernetes_sd_configs"))
            job["file_sd_configs"] = [{"files": ["k8s-targets.json"]}]
            replaced += 1
    if replaced == 0:
        raise Failure("promtool failed on kubernetes_sd_configs, but no job "
                      "has one")
    # rule_files are relative to the config: copy them next to the copy.
    for rf in doc.get("rule_files", []):
        if os.path.isabs(rf):
            raise Failure("rule_files entry %s must be relative" % rf)
        dst = os.path.join(tmp, rf)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.join(monitoring_dir, rf), dst)
    with open(os.path.join(tmp, "k8s-targets.json"), "w") as f:
        f.write("[]\n")
    copy = os.path.join(tmp, name)
    with open(copy, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    code, out = promtool("check", "config", copy)
    if code != 0:
        raise Failure("promtool check config on the copy without "
                      "kubernetes_sd_configs:\n%s\n--- copy:\n%s"
                      % (out, open(copy).read()))
    if "SUCCESS: %d rule files found" % len(doc.get("rule_files", [])) not in out:
        raise Failure("promtool did not check the rule files:\n" + out)
    log("promtool check config %s (copy): %s" %
        (name, out.strip().replace("\n", " | ")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitoring_dir", required=True)
    args = parser.parse_args()
    if not os.access(PROMTOOL, os.X_OK):
        log("FAILED: %s missing (Debian package 'prometheus')" % PROMTOOL)
        return 1
    tmp = tempfile.mkdtemp(prefix="cairn-promtool-check-")
    try:
        check_rules(os.path.join(args.monitoring_dir, "cairn-alerts.yml"))
        monitoring_dir = os.path.abspath(args.monitoring_dir)
        # Hosts: must pass as is, with Debian's promtool too.
        check_config(monitoring_dir, "prometheus.yml", tmp)
        check_config(monitoring_dir, "prometheus-kubernetes.yml", tmp,
                     k8s_fallback=True)
    except Failure as e:
        log("FAILED: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
