// How large a config may be, and the YAML checks that keep a document within it: duplicate keys
// (found here in linear time; yaml's own check is quadratic in the size of a map), the number of
// aliases (yaml resolves each alias by a scan of all of them) and what aliases expand to (an
// "alias bomb" of nested aliases expands a few lines into billions of values).
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';

/** The most checks one agent runs (file and VIGIL_CHECK_* together). */
export const MAX_CHECKS = 2000;
/** The most values (scalars, maps, lists) a config may hold, counting each alias as what it stands for. */
export const MAX_YAML_VALUES = 40_000;
/** The most aliases (*name) a config may use. */
export const MAX_YAML_ALIASES = 5000;

export interface YamlProblem {
  readonly node: Node;
  readonly message: string;
}

/** Problems of a parsed document, each at the node to point at; stops at the first size problem. */
export function yamlProblems(doc: Document): YamlProblem[] {
  const problems: YamlProblem[] = [];
  // Anchors as yaml resolves them: an alias refers to the latest node with its anchor before it.
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let aliases = 0;
  let values = 0;
  let isOverLimit = false;

  const count = (node: Node, amount: number) => {
    values += amount;
    if (values > MAX_YAML_VALUES && !isOverLimit) {
      isOverLimit = true;
      problems.push({
        node,
        message: isAlias(node)
          ? `YAML: with its aliases expanded (here *${node.source}), the config holds more than ${MAX_YAML_VALUES} values`
          : `YAML: the config holds more than ${MAX_YAML_VALUES} values`,
      });
    }
  };

  // Returns the size of the node with its aliases expanded.
  const walk = (node: unknown): number => {
    if (isOverLimit || node === null || node === undefined) return 0;
    if (isAlias(node)) {
      aliases++;
      if (aliases > MAX_YAML_ALIASES) {
        isOverLimit = true;
        problems.push({ node, message: `YAML: more than ${MAX_YAML_ALIASES} aliases` });
        return 0;
      }
      const source = anchors.get(node.source);
      if (!source) {
        problems.push({ node, message: `YAML: alias *${node.source} refers to no anchor &${node.source} before it` });
        return 0;
      }
      if (open.has(source)) {
        problems.push({ node, message: `YAML: alias *${node.source} is inside the value it refers to` });
        return 0;
      }
      const size = sizes.get(source)!;
      count(node, size);
      return size;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return 0;
    const anchor = node.anchor;
    if (anchor) {
      anchors.set(anchor, node);
      open.add(node);
    }
    count(node, 1);
    let size = 1;
    if (isMap(node)) {
      const keys = new Set<unknown>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        if (isScalar(pair.key)) {
          if (keys.has(pair.key.value)) problems.push({ node: pair.key, message: `YAML: ${JSON.stringify(String(pair.key.value)).slice(0, 80)} is declared twice in this map (keys must be unique)` });
          keys.add(pair.key.value);
        }
        size += walk(pair.key) + walk(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) size += walk(item);
    }
    if (anchor) {
      open.delete(node);
      sizes.set(node, size);
    }
    return size;
  };
  walk(doc.contents);
  return problems;
}
