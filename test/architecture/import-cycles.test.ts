// No circular imports in lib/ and constructs/: a cycle makes load order decide which module sees the
// other's exports as `undefined` (a class that is `undefined` at `extends`, a constant read as undefined),
// and it hides the layering DESIGN.md draws. The graph is read with the TypeScript parser; type-only
// imports are erased by the compiler and left out.
import { findCycles, importGraph, importsOf, valueEdges } from './import-graph';

describe('import cycles', () => {
  const graph = importGraph(['lib', 'constructs']);

  test('the scan sees the package: files and their relative imports resolve', () => {
    expect(graph.size).toBeGreaterThan(80);
    const relative = [...graph.values()].flat().filter((e) => e.specifier.startsWith('.'));
    expect(relative.length).toBeGreaterThan(200);
    const unresolved = [...graph].flatMap(([f, es]) => es.filter((e) => e.specifier.startsWith('.') && !e.target).map((e) => `${f}:${e.line} ${e.specifier}`));
    expect(unresolved).toEqual([]);
  });

  test('no file of lib/ or constructs/ reaches itself through its imports', () => {
    const cycles = findCycles(valueEdges(graph)).map((c) => c.join(' -> '));
    // On failure the list names each cycle in import order; cut one edge of it (move what both need into a
    // third module, usually in lib/ or a small shared file of the cloud).
    expect(cycles).toEqual([]);
  });
});

describe('the scanner', () => {
  const exists = (rel: string): boolean => ['a/b.ts', 'a/c/index.ts', 'a/d.ts', 'a/e.ts', 'a/f.ts', 'a/g.ts'].includes(rel);

  test('reads import, export-from, import(), require() and tells type-only ones apart', () => {
    const text = [
      "import { B } from './b';",
      "import type { D } from './d';",
      "import { type E } from './e';",
      "export { C } from './c';",
      "export type { F } from './f';",
      "const g = require('./g');",
      "async function later() { return import('./b'); }",
      "import * as cdk from 'aws-cdk-lib';",
      "let t: import('./d').D;",
      "// import { Nope } from './nope';",
    ].join('\n');
    const edges = importsOf('a/x.ts', text, exists).map((e) => [e.specifier, e.target ?? null, e.typeOnly, e.line]);
    expect(edges).toEqual([
      ['./b', 'a/b.ts', false, 1],
      ['./d', 'a/d.ts', true, 2],
      ['./e', 'a/e.ts', true, 3],
      ['./c', 'a/c/index.ts', false, 4],
      ['./f', 'a/f.ts', true, 5],
      ['./g', 'a/g.ts', false, 6],
      ['./b', 'a/b.ts', false, 7],
      ['aws-cdk-lib', null, false, 8],
      ['./d', 'a/d.ts', true, 9],
    ]);
  });

  test('an import with one value binding among type bindings counts as a value import', () => {
    const [edge] = importsOf('a/x.ts', "import { type D, value } from './d';", exists);
    expect(edge.typeOnly).toBe(false);
  });

  test('finds a two-file cycle, a longer one, a self import, and names each in import order', () => {
    const edges = new Map<string, string[]>([
      ['constructs/aws/fleet-dashboard.ts', ['constructs/aws/spot-inference-service.ts', 'lib/spec/errors.ts']],
      ['constructs/aws/spot-inference-service.ts', ['constructs/aws/fleet-dashboard.ts']],
      ['lib/x.ts', ['lib/y.ts']],
      ['lib/y.ts', ['lib/z.ts']],
      ['lib/z.ts', ['lib/x.ts', 'lib/spec/errors.ts']],
      ['lib/self.ts', ['lib/self.ts']],
      ['lib/spec/errors.ts', []],
    ]);
    expect(findCycles(edges)).toEqual([
      ['constructs/aws/fleet-dashboard.ts', 'constructs/aws/spot-inference-service.ts', 'constructs/aws/fleet-dashboard.ts'],
      ['lib/self.ts', 'lib/self.ts'],
      ['lib/x.ts', 'lib/y.ts', 'lib/z.ts', 'lib/x.ts'],
    ]);
  });

  test('a graph without cycles, diamonds included, has none', () => {
    const edges = new Map<string, string[]>([
      ['a', ['b', 'c']],
      ['b', ['d']],
      ['c', ['d']],
      ['d', []],
    ]);
    expect(findCycles(edges)).toEqual([]);
  });

  test('type-only edges do not make a cycle', () => {
    const graph = new Map([
      ['a.ts', [{ specifier: './b', target: 'b.ts', typeOnly: false, line: 1 }]],
      ['b.ts', [{ specifier: './a', target: 'a.ts', typeOnly: true, line: 1 }]],
    ]);
    expect(findCycles(valueEdges(graph))).toEqual([]);
  });
});
