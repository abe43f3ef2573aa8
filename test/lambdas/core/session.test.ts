import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createClient, createMemoryServer } from '../../support/memory-server';

describe('session (in-memory end to end)', () => {
  it('FM-1.2 FM-1.4: two clients converge through handleFrame and fan-out, and every change is acknowledged', async () => {
    const server = createMemoryServer();
    await server.connect('a', 'doc', 'alice');
    await server.connect('b', 'doc', 'bob');
    const a = createClient(server, 'a');
    const b = createClient(server, 'b');
    a.open();
    b.open();
    for (let round = 0; round < 3; round++) {
      await a.flush();
      await b.flush();
      await a.receive();
      await b.receive();
    }
    a.doc.getText('t').insert(0, 'hello ');
    b.doc.getText('t').insert(0, 'world ');
    await a.flush();
    await b.flush();
    await server.drainStream();
    await a.receive();
    await b.receive();
    expect(a.doc.getText('t').toString()).toBe(b.doc.getText('t').toString());
    expect(a.doc.getText('t').toString()).toContain('hello');
    expect(a.doc.getText('t').toString()).toContain('world');
    expect(a.session.isSaved).toBe(true);
    expect(b.session.isSaved).toBe(true);
    const stored = new Y.Doc();
    for (const e of await server.deps.opLog.readAll('doc')) Y.applyUpdate(stored, e.update);
    expect(stored.getText('t').toString()).toBe(a.doc.getText('t').toString());
  });
});
