// The citizen app's build: Vue 3 single-file components, the SDK compiled from its TypeScript sources,
// output into the Python package (api/h5_app) that `zhangban serve` answers at /app. A small plugin
// writes the service worker with the exact list of built files, so the app opens with no network.
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** sw.js from src/sw.js with the built files and a version that changes whenever one of them does. */
function serviceWorker() {
  return {
    name: "zhangban-service-worker",
    apply: "build",
    async generateBundle(_options, bundle) {
      const { readFile, readdir } = await import("node:fs/promises");
      const files = [...Object.keys(bundle), ...(await readdir(here("./public")))].filter((name) => name !== "sw.js").sort();
      const hash = createHash("sha256");
      for (const name of files) {
        const item = bundle[name];
        hash.update(name).update(item ? (item.type === "chunk" ? item.code : item.source) : await readFile(here(`./public/${name}`)));
      }
      const source = (await readFile(here("./src/sw.js"), "utf8"))
        .replace("__VERSION__", hash.digest("hex").slice(0, 16))
        .replace("__FILES__", JSON.stringify(["./", ...files.filter((f) => f !== "index.html")]));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

export default defineConfig({
  base: "/app/",
  plugins: [vue(), serviceWorker()],
  resolve: {
    // The SDK is built from its sources (a local file dependency); its own dependencies come from here.
    alias: { "@zhangban/sdk": here("../js/src/index.ts") },
    dedupe: ["@noble/curves", "@noble/hashes", "fflate"],
  },
  build: {
    outDir: here("../../api/h5_app"),
    emptyOutDir: true,
    target: "es2020",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { fs: { allow: [here("..")] }, proxy: { "/v1": { target: "http://127.0.0.1:8000", ws: true } } },
});
