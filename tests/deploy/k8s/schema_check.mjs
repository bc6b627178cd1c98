// Validates Kubernetes objects (a JSON array, from
// k8s_manifests_test.py --dump_json) against the API's OpenAPI schemas as
// packaged by the npm packages kubernetes-models and
// @kubernetes-models/prometheus-operator: field types, required fields,
// enums and formats. Unknown (misspelled) fields are NOT reported: the
// packaged schemas allow extra properties. Two broken objects are checked
// to be rejected, so a validator that accepts everything fails.
//
// Run by schema_check.sh (which installs the packages) from a directory
// whose node_modules holds them: node schema_check.mjs objs.json
import { readFileSync } from "fs";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

let bad = 0;
for (const o of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  const name = `${o.kind} ${o.metadata.name}`;
  if (!Model) {
    console.log(`FAIL ${name}: no schema for ${o.apiVersion}`);
    bad++;
    continue;
  }
  try {
    new Model(o).validate();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    bad++;
  }
}

const pod = (container) => ({
  metadata: { name: "x" },
  spec: { serviceName: "x", selector: {}, template: { spec: { containers: [container] } } },
});
for (const [what, o] of [
  ["a port name as containerPort", pod({ name: "c", ports: [{ containerPort: "grpc" }] })],
  ["a gRPC probe without a port", pod({ name: "c", livenessProbe: { grpc: { service: "" } } })],
]) {
  try {
    new StatefulSet(o).validate();
    console.log(`FAIL control accepted: ${what}`);
    bad++;
  } catch (e) {
    console.log(`ok   control rejected: ${what}`);
  }
}
console.log(bad ? `${bad} failed` : "all objects valid");
process.exit(bad ? 1 : 0);
