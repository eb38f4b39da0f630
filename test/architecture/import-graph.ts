// The package's import graph, read with the TypeScript compiler's parser (no type-checking: ~0.3 s for
// every file of lib/ and constructs/). Used by the architecture tests: no circular imports, and the
// dependency rules of DESIGN.md ("Layout").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..');

/** One import (or `export ... from`, `import()`, `require()`) of a file. */
export interface ImportEdge {
  /** The module specifier as written (`./spot-fleet`, `aws-cdk-lib/aws-ec2`). */
  readonly specifier: string;
  /** Repository-relative path of the imported .ts file, for a relative import that resolves to one. */
  readonly target?: string;
  /** `import type` / `export type`: erased at compile time, so it cannot take part in a load-order cycle. */
  readonly typeOnly: boolean;
  /** 1-based line of the import. */
  readonly line: number;
}

/** Every .ts file under `dir` (repository-relative, `/`-separated), declaration files left out. */
export function tsFilesUnder(dir: string): string[] {
  const abs = join(ROOT, dir);
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : walk(p);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
    });
  return walk(abs).map(toRel).sort();
}

function toRel(abs: string): string {
  return relative(ROOT, abs).split(sep).join('/');
}

/** Resolves a relative specifier of `fromFile` the way Node + TypeScript do: `x.ts`, then `x/index.ts`. */
export function resolveRelative(fromFile: string, specifier: string, exists: (rel: string) => boolean): string | undefined {
  const base = toRel(resolve(ROOT, dirname(fromFile), specifier));
  const candidates = [base, `${base}.ts`, `${base}/index.ts`, base.replace(/\.js$/, '.ts')];
  return candidates.find((c) => c.endsWith('.ts') && exists(c));
}

/** The imports of one source text. `fileName` (repository-relative) resolves the relative ones. */
export function importsOf(fileName: string, text: string, exists: (rel: string) => boolean): ImportEdge[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, node: ts.Node): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const specifier = spec.text;
    const target = specifier.startsWith('.') ? resolveRelative(fileName, specifier, exists) : undefined;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    edges.push({ specifier, target, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      // `import type {...}`, or `import { type A, type B }` with every binding type-only.
      const named = clause?.namedBindings;
      const allTypeNamed = !!named && ts.isNamedImports(named) && named.elements.length > 0 && !clause?.name && named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, !!clause?.isTypeOnly || allTypeNamed, node);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly, node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, node);
    } else if (ts.isCallExpression(node)) {
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      const isDynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      if ((isRequire || isDynamic) && node.arguments.length === 1) add(node.arguments[0], false, node);
    } else if (ts.isImportTypeNode(node)) {
      // `import('./x').Foo` in a type position: erased.
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(arg.literal as ts.Expression, true, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** The import graph of every .ts file under `dirs`: file -> its imports. */
export function importGraph(dirs: string[]): Map<string, ImportEdge[]> {
  const files = dirs.flatMap(tsFilesUnder);
  const known = new Set(files);
  const exists = (rel: string): boolean => {
    if (known.has(rel)) return true;
    try {
      return statSync(join(ROOT, rel)).isFile();
    } catch {
      return false;
    }
  };
  const graph = new Map<string, ImportEdge[]>();
  for (const f of files) graph.set(f, importsOf(f, readFileSync(join(ROOT, f), 'utf8'), exists));
  return graph;
}

/**
 * Every elementary cycle's strongly connected component, as a list of files in import order
 * (`a -> b -> ... -> a`), found with Tarjan's algorithm over the value (non-type) edges. One cycle is
 * reported per component: the shortest cycle through its first file, which names the edge to cut.
 */
export function findCycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      const selfLoop = (edges.get(v) ?? []).includes(v);
      if (comp.length > 1 || selfLoop) components.push(comp.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);
  return components.map((comp) => shortestCycle(comp[0], new Set(comp), edges)).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Shortest path start -> ... -> start inside one component (breadth-first). */
function shortestCycle(start: string, inside: Set<string>, edges: Map<string, string[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)!) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!seen.has(w)) {
        seen.add(w);
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** file -> the files it imports at run time (relative imports that resolve, type-only ones left out). */
export function valueEdges(graph: Map<string, ImportEdge[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [f, imports] of graph) {
    out.set(f, [...new Set(imports.filter((i) => !i.typeOnly && i.target !== undefined && graph.has(i.target)).map((i) => i.target!))]);
  }
  return out;
}
