// The verifier's camera in Debian's Chromium: a fake camera (a YUV4MPEG2 file of a certificate's QR code, made by
// tests/test_h5_browser.py with the server's own QR code) is scanned by #/verify, which must say 有效 with the
// labelled fields; cancelling and leaving the page stop the camera. Prints one JSON line {camera: outcome}.
import { chromium } from "playwright-core";

const W = JSON.parse(process.env.ZB_STORY);
const APP = `${W.base}/app/`;
const outcome = {};
const browser = await chromium.launch({
  executablePath: process.env.ZB_CHROMIUM,
  args: ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${W.camera_file}`],
});
try {
  const phone = { viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true, hasTouch: true };
  // Whether a camera track is live: counted by wrapping getUserMedia before the app runs.
  const counted = async (context) => {
    await context.grantPermissions(["camera"], { origin: W.base });
    const page = await context.newPage();
    await page.addInitScript(() => {
      const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      window.__tracks = [];
      navigator.mediaDevices.getUserMedia = async (c) => {
        const s = await open(c);
        window.__tracks.push(...s.getTracks());
        return s;
      };
    });
    await page.goto(`${APP}#/verify`);
    return page;
  };
  const live = (page) => page.evaluate(() => window.__tracks.filter((t) => t.readyState === "live").length);
  const opened = (page) => page.waitForFunction(() => window.__tracks.some((t) => t.readyState === "live"));

  // Cancel and leave, with the decoder held back (its chunk never arrives) so nothing is read meanwhile.
  const held = await browser.newContext({ ...phone, serviceWorkers: "block" });
  await held.route(/jsQR-[^/]*\.js$/, () => {});
  let page = await counted(held);
  outcome.native_detector = await page.evaluate(() => typeof window.BarcodeDetector === "function");
  await page.getByRole("button", { name: "扫码" }).click();
  await opened(page);
  outcome.live_while_scanning = await live(page);
  await page.getByRole("button", { name: "取消扫码" }).click();
  await page.getByRole("button", { name: "扫码" }).waitFor();
  outcome.live_after_cancel = await live(page);
  await page.getByRole("button", { name: "扫码" }).click();
  await opened(page);
  await page.evaluate(() => { location.hash = "#/"; });
  await page.waitForFunction(() => !window.__tracks.some((t) => t.readyState === "live"));
  outcome.live_after_leaving = await live(page);
  await held.close();

  // Scan: the fake camera shows the certificate's QR code.
  const context = await browser.newContext(phone);
  page = await counted(context);
  await page.getByRole("button", { name: "扫码" }).click();
  const verdict = page.getByTestId("verdict");
  await verdict.waitFor({ timeout: 20000 });
  outcome.verdict = (await verdict.innerText()).trim();
  outcome.reader = await page.evaluate(() => document.querySelector("video").dataset.reader);
  outcome.scanned = await page.inputValue("#token");
  outcome.fields = await page.getByTestId("verified-fields").innerText();
  outcome.live_after_scan = await live(page);
  await page.screenshot({ path: `${W.artifacts}/verify-camera.png`, fullPage: true });
  await context.close();

  // Permission refused: a clear message, no camera.
  const denied = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN" });
  const other = await denied.newPage();
  await other.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = async () => { throw new DOMException("Permission denied", "NotAllowedError"); };
  });
  await other.goto(`${APP}#/verify`);
  await other.getByRole("button", { name: "扫码" }).click();
  outcome.denied = (await other.getByRole("alert").innerText()).trim();
  await denied.close();
} catch (err) {
  outcome.error = String(err && err.stack || err);
} finally {
  console.log(JSON.stringify({ camera: outcome }));
  await browser.close();
}
