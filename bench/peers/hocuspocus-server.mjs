// Hocuspocus 4 with its default settings (2 s debounced / 10 s max persistence) and file-backed
// persistence equivalent to its Database extension, so a document unloaded after its last client
// leaves is opened cold from disk, as in production. Usage: node hocuspocus-server.mjs <port> <dir>
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Server } from '@hocuspocus/server';
import * as Y from 'yjs';

const port = Number(process.argv[2]);
const dir = process.argv[3];
if (!port || !dir) {
  console.error('usage: node hocuspocus-server.mjs <port> <data-dir>');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const fileOf = (name) => join(dir, `${encodeURIComponent(name)}.ydoc`);

const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  async onLoadDocument({ document, documentName }) {
    const file = fileOf(documentName);
    if (existsSync(file)) Y.applyUpdate(document, new Uint8Array(readFileSync(file)));
  },
  async onStoreDocument({ document, documentName }) {
    const file = fileOf(documentName);
    writeFileSync(`${file}.tmp`, Y.encodeStateAsUpdate(document));
    renameSync(`${file}.tmp`, file);
  },
});
await server.listen();
console.log(`hocuspocus listening on 127.0.0.1:${port}`);
console.log('ready');
