import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURE_MODES, renderDoc, testsFor } from '../../scripts/failure-modes';

describe('docs/failure-modes.md generator', () => {
  it('covers the 34 failure modes of the blueprint, FM-1.1 to FM-8, once each', () => {
    const ids = FAILURE_MODES.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(34);
    expect(ids[0]).toBe('FM-1.1');
    expect(ids.at(-1)).toBe('FM-8');
  });

  it('matches an id exactly: FM-1.1 is not FM-1.10, FM-8 is not FM-8.1', () => {
    const tests = [
      { name: 'a > FM-1.1: x', file: 'a' },
      { name: 'a > FM-1.10: y', file: 'a' },
      { name: 'a > FM-1.1, FM-6.1: z', file: 'b' },
      { name: 'a > FM-8.1 w', file: 'c' },
      { name: 'a > FM-8 FM-6.1 v', file: 'c' },
    ];
    expect(testsFor('FM-1.1', tests).map((t) => t.name)).toEqual(['a > FM-1.1: x', 'a > FM-1.1, FM-6.1: z']);
    expect(testsFor('FM-8', tests).map((t) => t.name)).toEqual(['a > FM-8 FM-6.1 v']);
  });

  it('marks a failure mode without a test, and lists tests by file with their exact names', () => {
    const doc = renderDoc([{ name: 'suite > FM-1.1: reconnects', file: 'test/x.test.ts' }], 'test');
    expect(doc).toContain('| [FM-1.2](#fm-12) | broadcast only to one server\'s clients |');
    expect(doc).toMatch(/\| \[FM-1\.2\][^\n]*\*\*no test\*\* \|/);
    expect(doc).toContain('- `test/x.test.ts`\n  - suite > FM-1.1: reconnects');
  });

  it('the committed docs/failure-modes.md has a row and a section for every failure mode', () => {
    const doc = readFileSync(new URL('../../docs/failure-modes.md', import.meta.url), 'utf8');
    for (const fm of FAILURE_MODES) {
      expect(doc).toContain(`| [${fm.id}](#`);
      expect(doc).toContain(`\n## ${fm.id}\n`);
    }
  });
});
