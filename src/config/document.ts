// The config's YAML document: parsing it, naming its YAML problems in words an operator can act on,
// and finding the line and column of a key path, so every issue points at its place in the file.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { ConfigIssue } from '../errors.js';
import { yamlProblems } from './limits.js';

export interface ConfigDocument {
  readonly doc: Document;
  readonly lines: LineCounter;
}

export interface Place {
  readonly line?: number;
  readonly column?: number;
}

/** Parses the text; the issues are its YAML problems (the document is not to be read when there are any). */
export function readDocument(text: string): { readonly document: ConfigDocument; readonly issues: ConfigIssue[] } {
  const lines = new LineCounter();
  // Duplicate keys are found by yamlProblems, in linear time.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: true });
  const document = { doc, lines };
  const issues: ConfigIssue[] = [];
  const hinted = new Set<number>();
  // After a syntax error the parser recovers as it can, and what it meets next is often no real
  // problem (one unquoted ${…} in a flow map made forty): the first erroneous line is reported.
  const firstLine = Math.min(...doc.errors.map((error) => error.linePos?.[0]?.line ?? Infinity));
  const later = doc.errors.filter((error) => (error.linePos?.[0]?.line ?? Infinity) > firstLine);
  for (const error of doc.errors.filter((e) => !later.includes(e))) {
    const pos = error.linePos?.[0];
    // In a { } flow map, `${` opens a nested map: YAML's own words for it do not say so.
    const line = pos ? text.split('\n', pos.line)[pos.line - 1] : undefined;
    const reference = line === undefined ? -1 : unquotedFlowReference(line);
    if (pos && reference !== -1) {
      if (!hinted.has(pos.line)) issues.push({ path: '', message: 'YAML: an unquoted ${…} inside a { } flow map opens a nested map there; quote the value: key: "${VAR}"', line: pos.line, column: reference + 1 });
      hinted.add(pos.line);
      continue;
    }
    issues.push({ path: '', message: `YAML: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, line: pos?.line, column: pos?.col });
  }
  if (later.length) {
    const next = later[0]!.linePos?.[0];
    issues.push({ path: '', message: `YAML: ${later.length} more problem${later.length === 1 ? '' : 's'} from here on, which may follow from the one above: fix it and validate again`, line: next?.line, column: next?.col });
  }
  if (!issues.length) for (const { node, message } of yamlProblems(doc)) issues.push({ path: '', message, ...nodePlace(document, node) });
  return { document, issues };
}

/** Where a node starts. */
export function nodePlace({ lines }: ConfigDocument, node: Node): Place {
  return position(lines, node.range?.[0]);
}

/**
 * Where path.key is: at the key itself when atKey (an unknown key), else at its value. A path that
 * leaves the document (a missing key) is placed at the deepest part that exists.
 */
export function locate({ doc, lines }: ConfigDocument, path: readonly (string | number)[], key: string | undefined, atKey: boolean): Place {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const segment of key === undefined ? path : [...path, key]) {
    if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
      continue;
    }
    if (!isMap(node)) break;
    const pair = (node.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
    if (!pair) break;
    const target = (atKey && segment === key) || pair.value === null ? pair.key : pair.value;
    offset = (target as Node | null)?.range?.[0] ?? offset;
    node = pair.value;
  }
  return position(lines, offset);
}

/** In file order; issues without a place (from the environment) last, in the order they were found. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
}

function position(lines: LineCounter, offset: number | undefined): Place {
  if (offset === undefined) return {};
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** Where a line has a `${` that is inside { } and outside quotes, or -1. */
function unquotedFlowReference(line: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '#' && (i === 0 || line[i - 1] === ' ')) return -1;
    else if (char === '$' && line[i + 1] === '{' && depth > 0) return i;
    else if (char === '{') depth++;
    else if (char === '}') depth = Math.max(0, depth - 1);
  }
  return -1;
}
