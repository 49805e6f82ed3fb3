// The client's modules import each other without a cycle (a cycle hides which module owns what
// and breaks when an import is used while its module is still loading).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../web/client");

function modules(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith(".js") ? [path] : [];
  });
}

/** The module's relative imports, as absolute paths. */
function importsOf(path) {
  const source = readFileSync(path, "utf8");
  const found = [...source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)];
  return found.map((m) => resolve(dirname(path), m[1]));
}

export function findCycle(graph) {
  const state = new Map(); // path -> "open" | "done"
  const stack = [];
  function visit(node) {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) || []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  }
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test("the cycle finder finds a cycle", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", []]]);
  assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
  assert.equal(findCycle(new Map([["a", ["b"]], ["b", []]])), null);
});

test("no import cycle among the client's modules", () => {
  const graph = new Map(modules(ROOT).map((path) => [path, importsOf(path)]));
  assert.ok(graph.size > 20, `only ${graph.size} modules found`);
  const cycle = findCycle(graph);
  assert.equal(cycle && cycle.map((p) => relative(ROOT, p)).join(" → "), null);
});
