// Constructors read as a list of named steps (aws-cdk's AutoScalingGroup hands whole concerns to named private
// methods): no class constructor of lib/ or constructs/ runs over 120 lines. A long constructor is where the same
// decisions end up made once per cloud and then drift. Read with the TypeScript parser, no type-checking.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { ROOT, tsFilesUnder } from './import-graph';

/** Longest constructor allowed, in lines (from `constructor(` to its closing brace). */
const MAX_CONSTRUCTOR_LINES = 120;

/** One class constructor with a body. */
interface ConstructorSpan {
  /** Name of the class (`(anonymous class)` for one without a name). */
  readonly className: string;
  /** 1-based line of `constructor`. */
  readonly line: number;
  /** Lines from `constructor` to the closing brace of its body, both counted. */
  readonly lines: number;
}

/** The constructors (with a body; overload signatures have none) of every class in one source text. */
function constructorsOf(fileName: string, text: string): ConstructorSpan[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const lineOf = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const spans: ConstructorSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isConstructorDeclaration(node) && node.body && (ts.isClassDeclaration(node.parent) || ts.isClassExpression(node.parent))) {
      const start = lineOf(node.getStart(sf));
      spans.push({ className: node.parent.name?.text ?? '(anonymous class)', line: start, lines: lineOf(node.body.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return spans;
}

describe('constructor length', () => {
  const files = [...tsFilesUnder('lib'), ...tsFilesUnder('constructs')];
  const all = files.flatMap((f) => constructorsOf(f, readFileSync(join(ROOT, f), 'utf8')).map((c) => ({ file: f, ...c })));

  test('the scan sees the package: its files and the constructors of every cloud\'s constructs', () => {
    expect(files.length).toBeGreaterThan(80);
    for (const cloud of ['aws', 'gcp', 'azure']) {
      expect(all.filter((c) => c.file.startsWith(`constructs/${cloud}/`)).length).toBeGreaterThan(5);
    }
    expect(all.find((c) => c.file === 'constructs/aws/on-demand-fallback.ts')).toMatchObject({ className: 'OnDemandFallback' });
  });

  test(`no class constructor of lib/ or constructs/ is over ${MAX_CONSTRUCTOR_LINES} lines`, () => {
    const offenders = all
      .filter((c) => c.lines > MAX_CONSTRUCTOR_LINES)
      .sort((a, b) => b.lines - a.lines)
      .map((c) => `${c.file}:${c.line} ${c.className} (${c.lines} lines)`);
    // On failure the list names each constructor, longest first: hand whole concerns (validation, each resource
    // group, permissions, triggers, outputs) to named private methods or small module functions.
    expect(offenders).toEqual([]);
  });
});

describe('the constructor scanner', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `    this.x${i} = ${i};`).join('\n');

  test('counts a constructor from `constructor` to its closing brace, and names its class', () => {
    const text = ['// header', 'export class Fleet extends Base {', '  private x = 1;', '  constructor(a: number) {', body(3), '  }', '}'].join('\n');
    expect(constructorsOf('a.ts', text)).toEqual([{ className: 'Fleet', line: 4, lines: 5 }]);
  });

  test('finds constructors of nested and anonymous classes; skips overload signatures and classes without one', () => {
    const text = [
      'class Outer {',
      '  constructor(a: string);',
      '  constructor(a: number);',
      '  constructor(a: unknown) {',
      '    const Inner = class { constructor() { void 0; } };',
      '    void Inner;',
      '  }',
      '}',
      'class NoConstructor { method(): void {} }',
      'function f(): void { class Local {',
      '  constructor() {',
      body(2),
      '  }',
      '} void Local; }',
    ].join('\n');
    expect(constructorsOf('a.ts', text)).toEqual([
      { className: 'Outer', line: 4, lines: 4 },
      { className: '(anonymous class)', line: 5, lines: 1 },
      { className: 'Local', line: 11, lines: 4 },
    ]);
  });
});
