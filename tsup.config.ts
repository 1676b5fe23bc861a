import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  target: 'node18',
  platform: 'node',
  clean: true,
  sourcemap: true,
  splitting: false,
  shims: true,
  // The app's own grpc-js copy must be the one we register into.
  external: ['@grpc/grpc-js', 'dns-packet'],
});
