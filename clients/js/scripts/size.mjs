// The SDK's size as a mini-program ships it: bundled, minified, gzipped (budget 50 KB).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const out = await build({ entryPoints: ["dist/index.js"], bundle: true, minify: true, format: "esm", target: "es2017", write: false, platform: "neutral" });
const code = out.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
console.log(JSON.stringify({ minified_bytes: code.length, gzipped_bytes: gz, budget_bytes: 50 * 1024 }));
