// The staff workbench's build: Vue 3 single-file components, output into the Python package
// (api/workbench_app) that `zhangban serve` answers at /workbench, as the citizen app is.
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  base: "/workbench/",
  plugins: [vue()],
  resolve: {
    // The SDK is built from its sources (a local file dependency), as the citizen app builds it.
    alias: { "@zhangban/sdk": here("../js/src/index.ts") },
    dedupe: ["@noble/curves", "@noble/hashes", "fflate"],
  },
  build: {
    outDir: here("../../api/workbench_app"),
    emptyOutDir: true,
    target: "es2020",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { fs: { allow: [here("..")] }, proxy: { "/v1": { target: "http://127.0.0.1:8000" } } },
});
