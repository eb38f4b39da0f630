import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { zipDirectory, zipDirectoryToFile } from '../../../constructs/gcp/zip';

/** Read a zip's central directory and inflate every entry. */
function unzip(buf: Buffer): Record<string, { data: Buffer; crc: number; mode: number }> {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out: Record<string, { data: Buffer; crc: number; mode: number }> = {};
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const mode = buf.readUInt32LE(p + 38) >>> 16;
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const localNameLen = buf.readUInt16LE(local + 26);
    const start = local + 30 + localNameLen + buf.readUInt16LE(local + 28);
    out[name] = { data: inflateRawSync(buf.subarray(start, start + size)), crc, mode };
    p += 46 + nameLen;
  }
  return out;
}

describe('zipDirectory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'index.js'), 'exports.handlePreemption = async () => "ok";\n'.repeat(50));
    writeFileSync(join(dir, 'package.json'), '{"main":"index.js"}');
    writeFileSync(join(dir, 'lib', 'empty.txt'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every file round-trips, with its CRC and a regular-file mode', () => {
    const files = unzip(zipDirectory(dir));
    expect(Object.keys(files)).toEqual(['index.js', 'lib/empty.txt', 'package.json']);
    expect(files['package.json'].data.toString()).toBe('{"main":"index.js"}');
    expect(files['index.js'].data.equals(readFileSync(join(dir, 'index.js')))).toBe(true);
    expect(files['lib/empty.txt'].data.length).toBe(0);
    if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') {
      for (const f of Object.values(files)) expect(f.crc).toBe((zlib as unknown as { crc32(b: Buffer): number }).crc32(f.data));
    }
    expect(files['index.js'].mode).toBe(0o100644);
  });

  test('is deterministic, and the file is named by its content', () => {
    expect(zipDirectory(dir).equals(zipDirectory(dir))).toBe(true);
    const a = zipDirectoryToFile(dir);
    expect(zipDirectoryToFile(dir)).toBe(a);
    expect(a).toMatch(/[0-9a-f]{32}\.zip$/);
    writeFileSync(join(dir, 'package.json'), '{"main":"index.js","x":1}');
    expect(zipDirectoryToFile(dir)).not.toBe(a);
  });
});
