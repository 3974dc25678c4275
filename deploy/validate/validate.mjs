// Renders deploy/k8s as `kubectl apply -k` would and validates every object against the Kubernetes
// OpenAPI schemas (kubernetes-models) and KEDA's CRD schema (@kubernetes-models/keda). Then renders each
// fixture under fixtures/invalid/ and requires the validation to REJECT it, so a validator that
// accepts everything fails CI.
//
//   node validate.mjs                 validate base, the GPU overlay, and the negative fixtures
//   node validate.mjs DIR...          validate these kustomization folders only
//
// The renderer implements the subset of kustomize that deploy/k8s uses (resources: files and folders;
// patches: JSON 6902 with a target) and refuses any other kustomization field, so what is validated
// is what kustomize would produce.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import jsonpatch from "fast-json-patch";

const here = dirname(fileURLToPath(import.meta.url));
const K8S = resolve(here, "../k8s");
const SUPPORTED = new Set(["apiVersion", "kind", "resources", "patches"]);

function readYaml(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter((o) => o != null);
}

export function render(dir) {
  const file = join(dir, "kustomization.yaml");
  const [k] = readYaml(file);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: '${key}' is not supported by this renderer; extend validate.mjs`);
  }
  if (k.kind !== "Kustomization") throw new Error(`${file}: kind must be Kustomization`);
  const objects = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    objects.push(...(statSync(p).isDirectory() ? render(p) : readYaml(p)));
  }
  for (const patch of k.patches ?? []) {
    const { target } = patch;
    if (!target || !target.kind || !target.name) throw new Error(`${file}: only JSON 6902 patches with a target kind and name are supported`);
    const ops = patch.path ? readYaml(resolve(dir, patch.path))[0] : parseAllDocuments(patch.patch)[0].toJS();
    if (!Array.isArray(ops)) throw new Error(`${file}: patch ${patch.path ?? "(inline)"} is not a JSON 6902 list of operations`);
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata?.name === target.name
      && (!target.group || o.apiVersion.split("/")[0] === target.group)
      && (!target.version || o.apiVersion.split("/").at(-1) === target.version));
    if (matches.length !== 1) throw new Error(`${file}: patch target ${JSON.stringify(target)} matches ${matches.length} objects`);
    const i = objects.indexOf(matches[0]);
    // validateOperation: a path that doesn't exist for replace/remove is an error, as in kustomize.
    objects[i] = jsonpatch.applyPatch(structuredClone(matches[0]), ops, true, false).newDocument;
  }
  return objects;
}

async function model(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = group === "keda.sh" ? `@kubernetes-models/keda/keda.sh/${version}/${kind}`
    : group === "" ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
  try {
    return (await import(module))[kind];
  } catch (e) {
    throw new Error(`no schema for ${apiVersion} ${kind} (${module})`);
  }
}

/** Rules the schemas can't express; each returns a list of problems. */
function semanticProblems(objects) {
  const problems = [];
  const deployment = objects.find((o) => o.kind === "Deployment");
  const config = objects.find((o) => o.kind === "ConfigMap" && o.data?.["tomestream.properties"]);
  if (deployment && config) {
    const m = /^shutdown\.timeout\.ms=(\d+)$/m.exec(config.data["tomestream.properties"]);
    const shutdownS = (m ? Number(m[1]) : 30000) / 1000;
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    if (grace < shutdownS + 5) {
      problems.push(`terminationGracePeriodSeconds ${grace} leaves less than 5 s after shutdown.timeout.ms (${shutdownS} s) to flush, commit and exit`);
    }
  }
  for (const so of objects.filter((o) => o.kind === "ScaledObject")) {
    const min = so.spec.minReplicaCount ?? 0, max = so.spec.maxReplicaCount ?? 100;
    if (max < min) problems.push(`ScaledObject ${so.metadata.name}: maxReplicaCount ${max} < minReplicaCount ${min}`);
  }
  return problems;
}

/** Every problem of a kustomization folder: rendering, schema, then semantic rules. */
export async function problems(dir) {
  let objects;
  try {
    objects = render(dir);
  } catch (e) {
    return [`render: ${e.message}`];
  }
  const found = [];
  for (const o of objects) {
    const name = `${o.apiVersion ?? "?"} ${o.kind ?? "?"}/${o.metadata?.name ?? "?"}`;
    try {
      if (!o.apiVersion || !o.kind) throw new Error("apiVersion and kind are required");
      const Model = await model(o.apiVersion, o.kind);
      new Model(o).validate();
    } catch (e) {
      found.push(`${name}: ${e.message}`);
    }
  }
  found.push(...semanticProblems(objects));
  return found;
}

async function main(argv) {
  const valid = argv.length ? argv.map((d) => resolve(d)) : [join(K8S, "base"), join(K8S, "overlays/gpu")];
  let failed = false;
  for (const dir of valid) {
    const p = await problems(dir);
    if (p.length) {
      failed = true;
      console.error(`INVALID ${dir}:\n  ${p.join("\n  ")}`);
    } else {
      console.log(`valid   ${dir} (${render(dir).map((o) => o.kind).join(", ")})`);
    }
  }
  if (!argv.length) {
    const fixtures = join(here, "fixtures/invalid");
    for (const name of readdirSync(fixtures).sort()) {
      const p = await problems(join(fixtures, name));
      if (p.length) {
        console.log(`rejected fixtures/invalid/${name}, as it must be: ${p[0].split("\n")[0]}`);
      } else {
        failed = true;
        console.error(`ACCEPTED fixtures/invalid/${name}, which is broken on purpose: the validator is not validating`);
      }
    }
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
