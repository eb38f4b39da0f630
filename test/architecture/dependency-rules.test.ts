// The "Layout" table of DESIGN.md as a test: which folder may import which, and which packages.
// lib/ never imports aws-cdk-lib, cdktf, constructs or a provider package (a Lambda bundle must not drag the
// CDK in); one cloud never imports another cloud's constructs (what two clouds share goes into lib/).
import { ImportEdge, importGraph } from './import-graph';

/** Infrastructure-as-code packages: never imported from lib/. */
const IAC_PACKAGE = /^(aws-cdk-lib|cdktf|constructs|cdk-monitoring-constructs|cdk-nag|@cdktf\/.*|@aws-cdk\/.*)(\/|$)/;

/** The layer of a file: `lib/spec`, `lib/handlers/aws`, `constructs/gcp`, `lib/index.ts`. */
function layerOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'lib' && parts[1] === 'handlers' && parts.length > 3) return parts.slice(0, 3).join('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : file;
}

const CLOUDS = ['aws', 'gcp', 'azure'];

const edge = (specifier: string, target?: string): ImportEdge => ({ specifier, target, typeOnly: false, line: 3 });

/** Layers a layer may import (its own folder always), per DESIGN.md. */
function allowedLayers(layer: string): (target: string) => boolean {
  const inLib = (t: string): boolean => t.startsWith('lib/');
  switch (layer) {
    case 'lib/spec': return inLib; // "nothing outside lib/"
    case 'lib/catalog': return (t) => t === 'lib/spec';
    case 'lib/policy': return (t) => t === 'lib/spec';
    case 'lib/plan': return (t) => ['lib/spec', 'lib/catalog', 'lib/policy'].includes(t);
    case 'lib/runtime': return (t) => t === 'lib/spec';
    case 'lib/index.ts': return inLib;
    default:
      if (layer.startsWith('lib/handlers/')) return (t) => ['lib/spec', 'lib/policy'].includes(t);
      if (layer.startsWith('constructs/')) return inLib;
      return () => false;
  }
}

/** Packages a layer may import (Node built-ins always). */
function allowedPackage(layer: string, pkg: string): boolean {
  if (pkg.startsWith('node:')) return true;
  if (layer.startsWith('lib/')) {
    if (IAC_PACKAGE.test(pkg)) return false;
    const cloud = layer.startsWith('lib/handlers/') ? layer.split('/')[2] : undefined;
    if (cloud === 'aws') return /^(@aws-sdk\/|@aws-lambda-powertools\/|aws-lambda$|@smithy\/)/.test(pkg);
    if (cloud === 'gcp') return /^(google-auth-library$|@google-cloud\/|gaxios$)/.test(pkg);
    if (cloud === 'azure') return /^(@azure\/)/.test(pkg);
    if (cloud !== undefined) return false;
    // lib/runtime: "small runtime deps" (the AWS SDK clients the agent and worker call); the rest: none.
    if (layer === 'lib/runtime') return /^(@aws-sdk\/|@smithy\/)/.test(pkg);
    return false;
  }
  if (layer === 'constructs/aws') return /^(aws-cdk-lib(\/.*)?|constructs|cdk-monitoring-constructs|cdk-nag)$/.test(pkg);
  // Provider resources by deep path only (the package root loads ~1,500 modules).
  if (layer === 'constructs/gcp') return /^(cdktf|constructs|@cdktf\/provider-google\/lib\/[a-z0-9-]+)$/.test(pkg);
  if (layer === 'constructs/azure') return /^(cdktf|constructs|@cdktf\/provider-azurerm\/lib\/[a-z0-9-]+)$/.test(pkg);
  return false;
}

/** Every import of `graph` that breaks a rule, as `file:line imports what (why)`. */
function violations(graph: Map<string, ImportEdge[]>): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    const layer = layerOf(file);
    for (const e of edges) {
      if (e.specifier.startsWith('.')) {
        if (!e.target) continue; // the cycle test reports unresolved imports
        const target = layerOf(e.target);
        if (target === layer) continue;
        const otherCloud = layer.startsWith('constructs/') && target.startsWith('constructs/');
        if (otherCloud || !allowedLayers(layer)(target)) {
          const why = otherCloud
            ? `one cloud never imports another cloud's constructs; move what both need into lib/`
            : `${layer} may not import ${target} (DESIGN.md, Layout)`;
          out.push(`${file}:${e.line} imports ${e.specifier} (${why})`);
        }
      } else {
        const pkg = e.specifier.startsWith('@') ? e.specifier.split('/').slice(0, 2).join('/') : e.specifier.split('/')[0];
        if (!allowedPackage(layer, e.specifier) && !allowedPackage(layer, pkg)) {
          const why = layer.startsWith('lib/') && IAC_PACKAGE.test(e.specifier)
            ? 'lib/ never imports aws-cdk-lib, cdktf, constructs or a provider package'
            : `${layer} may not import the package ${e.specifier} (DESIGN.md, Layout)`;
          out.push(`${file}:${e.line} imports ${e.specifier} (${why})`);
        }
      }
    }
  }
  return out.sort();
}

describe('DESIGN.md dependency rules', () => {
  const graph = importGraph(['lib', 'constructs']);

  test('every layer of the table has files (the rules are not checking an empty tree)', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    for (const l of ['lib/spec', 'lib/catalog', 'lib/policy', 'lib/plan', 'lib/runtime', ...CLOUDS.map((c) => `lib/handlers/${c}`), ...CLOUDS.map((c) => `constructs/${c}`)]) {
      expect([l, layers.has(l)]).toEqual([l, true]);
    }
  });

  test('no import breaks a rule', () => {
    expect(violations(graph)).toEqual([]);
  });

  test.each([
    ['lib/spec/x.ts', edge('aws-cdk-lib'), /lib\/ never imports aws-cdk-lib, cdktf, constructs or a provider package/],
    ['lib/runtime/x.ts', edge('constructs'), /lib\/ never imports/],
    ['lib/handlers/aws/x.ts', edge('@cdktf/provider-google/lib/compute-instance'), /lib\/ never imports/],
    ['lib/handlers/aws/x.ts', edge('@azure/identity'), /lib\/handlers\/aws may not import the package @azure\/identity/],
    ['lib/policy/x.ts', edge('../runtime/agent', 'lib/runtime/agent.ts'), /lib\/policy may not import lib\/runtime/],
    ['lib/spec/x.ts', edge('../../constructs/aws/spot-fleet', 'constructs/aws/spot-fleet.ts'), /lib\/spec may not import constructs\/aws/],
    ['constructs/gcp/x.ts', edge('../aws/spot-fleet', 'constructs/aws/spot-fleet.ts'), /one cloud never imports another cloud's constructs/],
    ['constructs/azure/x.ts', edge('@cdktf/provider-google/lib/compute-instance'), /constructs\/azure may not import the package @cdktf\/provider-google/],
    ['constructs/gcp/x.ts', edge('@cdktf/provider-google'), /constructs\/gcp may not import the package @cdktf\/provider-google \(/],
    ['constructs/aws/x.ts', edge('cdktf'), /constructs\/aws may not import the package cdktf/],
  ])('%s importing %j is refused', (file, e, message) => {
    const found = violations(new Map([[file, [e]]]));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found[0]).toContain(`${file}:3 imports ${e.specifier}`);
  });

  test.each([
    ['lib/plan/x.ts', edge('../policy/fallback-policy', 'lib/policy/fallback-policy.ts')],
    ['lib/handlers/gcp/x.ts', edge('google-auth-library')],
    ['constructs/gcp/x.ts', edge('@cdktf/provider-google/lib/compute-instance')],
    ['constructs/azure/x.ts', edge('../../lib/spec/errors', 'lib/spec/errors.ts')],
    ['constructs/aws/x.ts', edge('aws-cdk-lib/aws-ec2')],
  ])('%s importing %j is allowed', (file, e) => {
    expect(violations(new Map([[file, [e]]]))).toEqual([]);
  });
});

describe('examples use the public entry points only', () => {
  const graph = importGraph(['examples']);
  const FRAMEWORK = /^(aws-cdk-lib(\/[\w-]+)?|constructs|cdktf|@cdktf\/provider-(google|azurerm)\/lib\/[a-z0-9-]+|cdk-nag|node:[\w/]+)$/;

  function exampleViolations(g: Map<string, ImportEdge[]>): string[] {
    const out: string[] = [];
    for (const [file, edges] of g) {
      const cloud = file.split('/')[1];
      for (const e of edges) {
        if (e.specifier.startsWith('.')) {
          if (e.target && !e.target.startsWith('examples/')) out.push(`${file}:${e.line} imports ${e.specifier} (an example imports the package by its entry point, e.g. 'spot-inference-constructs/${cloud}', not its source)`);
          continue;
        }
        const entry = /^spot-inference-constructs(\/(aws|gcp|azure|core))?$/.exec(e.specifier);
        if (entry) {
          if (entry[2] && entry[2] !== 'core' && CLOUDS.includes(cloud) && entry[2] !== cloud) out.push(`${file}:${e.line} imports ${e.specifier} (an example of ${cloud} uses the ${cloud} entry point)`);
          continue;
        }
        if (!FRAMEWORK.test(e.specifier)) out.push(`${file}:${e.line} imports ${e.specifier} (not a public entry point of the package nor a framework package)`);
      }
    }
    return out.sort();
  }

  test('there are examples of every cloud', () => {
    for (const c of CLOUDS) expect([c, [...graph.keys()].some((f) => f.startsWith(`examples/${c}/`))]).toEqual([c, true]);
  });

  test('no example imports the source or another cloud', () => {
    expect(exampleViolations(graph)).toEqual([]);
  });

  test.each([
    ['examples/aws/x.ts', edge('../../constructs/aws/spot-fleet', 'constructs/aws/spot-fleet.ts'), /an example imports the package by its entry point, e.g. 'spot-inference-constructs\/aws'/],
    ['examples/gcp/x.ts', edge('spot-inference-constructs/aws'), /an example of gcp uses the gcp entry point/],
    ['examples/azure/x.ts', edge('spot-inference-constructs/lib/spec/errors'), /not a public entry point/],
    ['examples/gcp/x.ts', edge('@cdktf/provider-google'), /not a public entry point/],
  ])('%s importing %j is refused', (file, e, message) => {
    const found = exampleViolations(new Map([[file, [e]]]));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  test('an example importing its entry point, /core, a sibling file and a deep provider path is allowed', () => {
    expect(exampleViolations(new Map([['examples/gcp/x.ts', [
      edge('spot-inference-constructs/gcp'), edge('spot-inference-constructs/core'), edge('./stack', 'examples/gcp/stack.ts'),
      edge('@cdktf/provider-google/lib/compute-url-map'), edge('cdktf'),
    ]]]))).toEqual([]);
  });
});
