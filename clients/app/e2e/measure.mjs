// bench/app.py's browser half: first contentful paint of the app and of a bare page under a throttled
// 4G profile (CDP: 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up, CPU 4× slower), each in a cold context,
// and the bytes on the wire of the app's first sync. Env: ZB_MEASURE = {app, bare, tokens, runs}.
import { chromium } from "playwright-core";

const M = JSON.parse(process.env.ZB_MEASURE);
const browser = await chromium.launch({ executablePath: process.env.ZB_CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN" };

async function paint(url, ready) {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  const start = Date.now();
  await page.goto(url);
  await page.locator(ready).first().waitFor({ timeout: 60000 });
  const readyMs = Date.now() - start;
  const fcp = await page.evaluate(() => new Promise((resolve) => {
    const seen = performance.getEntriesByName("first-contentful-paint")[0];
    if (seen) return resolve(seen.startTime);
    new PerformanceObserver((list) => resolve(list.getEntries()[0].startTime)).observe({ type: "paint", buffered: true });
  }));
  await context.close();
  return { fcp, ready: readyMs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const app = [], bare = [];
for (let i = 0; i < M.runs; i++) {
  bare.push(await paint(M.bare, "h1"));
  app.push(await paint(M.app, "h1"));
}

// The first sync of a logged-in phone: the SDK's tokens put where it keeps them, then the app opened.
const context = await browser.newContext(phone);
const page = await context.newPage();
await page.goto(M.app);
await page.locator("h1").first().waitFor();
await page.evaluate((tokens) => new Promise((resolve, reject) => {
  const req = indexedDB.open("zhangban-app");
  req.onsuccess = () => {
    const tx = req.result.transaction("kv", "readwrite");
    tx.objectStore("kv").put(JSON.stringify(tokens), "zb:tokens");
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  };
  req.onerror = () => reject(req.error);
}), M.tokens);
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
const pulls = new Map();
let wire = 0, pages = 0;
cdp.on("Network.responseReceived", (e) => { if (e.response.url.includes("/v1/sync/pull")) pulls.set(e.requestId, true); });
cdp.on("Network.loadingFinished", (e) => { if (pulls.has(e.requestId)) { wire += e.encodedDataLength; pages += 1; } });
await page.reload();
await page.goto(`${M.app}#/wallet`);
await page.waitForFunction((n) => document.querySelectorAll("[data-testid=wallet-item]").length >= n, M.items, { timeout: 120000 });
await browser.close();
console.log(JSON.stringify({
  app_fcp_ms: median(app.map((r) => r.fcp)), app_ready_ms: median(app.map((r) => r.ready)),
  bare_fcp_ms: median(bare.map((r) => r.fcp)), bare_ready_ms: median(bare.map((r) => r.ready)),
  first_sync_wire_bytes: wire, first_sync_pages: pages,
}));
