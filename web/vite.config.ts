import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The static client. Built into web/dist and served from S3/CloudFront in AWS and by the local
 * stack on one laptop. Asset names carry a content hash so they can be cached forever (FM-4.6);
 * only index.html must be revalidated. The editor (Tiptap, ProseMirror, Yjs) is a separate chunk
 * loaded on demand, so the sign-in and document list screens stay light.
 */
export default defineConfig(({ command }) => {
  // A build is always a production build, even when a test runner has set NODE_ENV=test (that
  // would ship React's development bundle and double the initial JavaScript).
  if (command === 'build') process.env.NODE_ENV = 'production';
  return {
    root: webRoot,
    base: '/',
    plugins: [react()],
    define: {
      // The offline shell (service worker) belongs to built sites only, not to the dev server.
      __CONCORD_OFFLINE_SHELL__: JSON.stringify(command === 'build'),
    },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      assetsDir: 'assets',
      // `npm run build:web` prints the gzip size of every chunk.
      reportCompressedSize: true,
      chunkSizeWarningLimit: 900,
      rollupOptions: {
        output: {
          entryFileNames: 'assets/[name]-[hash].js',
          chunkFileNames: 'assets/[name]-[hash].js',
          assetFileNames: 'assets/[name]-[hash][extname]',
        },
      },
    },
    server: {
      // The provider imports the shared protocol core from ../lambdas/core.
      fs: { allow: [repoRoot] },
      proxy: {
        '/api': 'http://127.0.0.1:8787',
        '/local-auth': 'http://127.0.0.1:8787',
        '/ws': { target: 'ws://127.0.0.1:8787', ws: true },
      },
    },
  };
});
