// The citizen app in Debian's Chromium (playwright-core), phone-sized and zh-CN, against a real server.
// tests/test_h5_browser.py prepares the world (departments, staff, the parents' certificates) and passes
// it in ZB_STORY; each part prints one JSON line {part: outcome} that the Python tests check.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const W = JSON.parse(process.env.ZB_STORY);
const BASE = W.base;
const APP = `${BASE}/app/`;
const shot = (page, name) => page.screenshot({ path: join(W.artifacts, `${name}.png`), fullPage: true });
const report = (part, outcome) => console.log(JSON.stringify({ [part]: outcome }));

// A real 1×1 PNG, made distinct per material by bytes after IEND (decoders ignore them).
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const photo = (tag) => ({ name: `${tag}.png`, mimeType: "image/png", buffer: Buffer.concat([PNG, Buffer.from(tag)]) });

async function api(method, path, token, body) {
  const r = await fetch(BASE + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The app's own access token, read from its IndexedDB (as the SDK keeps it). */
const appToken = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const req = indexedDB.open("zhangban-app");
  req.onsuccess = () => {
    const get = req.result.transaction("kv").objectStore("kv").get("zb:tokens");
    get.onsuccess = () => resolve(JSON.parse(get.result).access_token);
    get.onerror = () => reject(get.error);
  };
  req.onerror = () => reject(req.error);
}));

/** The app verifier's verdict, or its error said aloud. */
async function verdictOf(p) {
  await p.locator("[data-testid=verdict], main [role=alert]").first().waitFor();
  const alert = p.locator("main [role=alert]");
  if (await alert.count()) throw new Error(`the verifier said: ${await alert.innerText()}`);
  return (await p.getByTestId("verdict").innerText()).trim();
}

/** 核验 pressed (again): the verdict of this check, not the one still shown from the last. */
async function checkAgain(p) {
  await p.evaluate(() => document.querySelectorAll("[data-testid=verdict]").forEach((e) => e.setAttribute("data-stale", "")));
  await p.getByRole("button", { name: "核验" }).click();
  await p.locator("[data-testid=verdict]:not([data-stale]), main [role=alert]").first().waitFor();
  return verdictOf(p);
}

async function until(fn, what, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const browser = await chromium.launch({ executablePath: process.env.ZB_CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--lang=zh-CN"] });
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN", timezoneId: "Asia/Shanghai", bypassCSP: true };
const context = await browser.newContext(phone);
context.setDefaultTimeout(45000);
context.setDefaultNavigationTimeout(90000);
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.setDefaultTimeout(45000);
page.setDefaultNavigationTimeout(90000);

try {
  // --- log in by SMS and prove who she is at the window -------------------------------------------
  await page.goto(APP);
  await page.getByRole("heading", { name: "短信登录" }).waitFor();
  await shot(page, "login");
  await page.fill("#phone", W.phone);
  await page.getByRole("button", { name: "获取验证码" }).click();
  await page.getByText("验证码已发送").waitFor();
  const smsSentAt = Date.now();
  const sms = await (await fetch(`${BASE}/v1/dev/sms?phone=${W.phone}`)).json();
  await page.fill("#code", sms.items.at(-1).params.code);
  await page.getByRole("button", { name: "登录" }).click();
  await page.getByRole("heading", { name: "掌上办事" }).waitFor();
  await page.evaluate(() => navigator.serviceWorker.ready);

  await page.goto(`${APP}#/me`);
  await page.fill("#rn-name", W.mother.name);
  await page.fill("#rn-id", W.mother.id);
  await page.getByRole("button", { name: "生成窗口认证码" }).click();
  const session = (await page.getByTestId("realname-session").innerText()).trim();
  await shot(page, "realname-counter");
  // The clerk keys in the number read from the mother's ID card.
  await api("POST", "/v1/dept/realname/attest", W.clerk, { session_id: session, id_number: W.mother.id });
  await page.getByText("实人认证已完成").waitFor();

  // Online once: the catalogue and what the wallet supplies are kept for offline use.
  await page.goto(`${APP}#/bundles`);
  await page.getByRole("link", { name: /出生一件事/ }).waitFor();
  await page.getByRole("link", { name: /出生一件事/ }).click();
  await until(async () => (await page.locator("[data-testid=supplied] li").count()) >= 3, "免提交 materials");
  await page.goto(`${APP}#/wallet`);
  await until(async () => (await page.getByTestId("wallet-item").count()) >= 3, "the parents' certificates in the wallet");

  // --- offline: start the birth bundle, fill it, three photos, reload ------------------------------
  const birth = {};
  await context.setOffline(true);
  await page.goto(`${APP}#/`).catch(() => undefined); // same document: a hash change
  await page.getByText("离线").first().waitFor();
  await page.goto(`${APP}#/bundle/birth`);
  await page.getByRole("heading", { name: "出生一件事" }).waitFor();
  const draftUrl = page.url();
  const form = { child_name: "李小满", child_born_at: "2026-11-18", father_id_number: W.father_id, mother_id_number: W.mother.id,
    household_address: W.address, bank_account_no: "6222020202020202", delivery_record_no: "ZZ-2026-1118-042" };
  for (const [key, value] of Object.entries(form)) await page.fill(`#f-${key}`, value);
  await page.selectOption("#f-child_sex", "女");
  for (const code of ["child_photo", "bank_account", "hospital_invoice"]) {
    await page.setInputFiles(`input[data-material=${code}]`, photo(code));
  }
  await page.getByRole("button", { name: "保存草稿" }).click();
  await page.getByText("草稿已保存在本机（离线）").waitFor();
  await until(async () => (await page.locator(".thumbs img").count()) === 3, "three thumbnails");
  await shot(page, "birth-offline-draft");

  await page.reload();
  birth.offline_page_reloaded = true;
  await page.getByRole("heading", { name: "出生一件事" }).waitFor();
  assert.equal(page.url(), draftUrl);
  birth.draft_survived_reload = (await page.inputValue("#f-child_name")) === "李小满" && (await page.inputValue("#f-child_sex")) === "女";
  birth.photos_survived_reload = await until(async () => {
    const n = await page.locator(".thumbs img").count();
    return n === 3 ? n : 0;
  }, "thumbnails after reload", 10000);

  await page.getByRole("button", { name: /排队提交/ }).click();
  await page.getByTestId("app-status").waitFor();
  assert.match(await page.getByTestId("app-status").innerText(), /待提交/);
  await page.reload();
  await page.getByTestId("app-status").waitFor();
  birth.queue_survived_reload = /待提交/.test(await page.getByTestId("app-status").innerText());
  birth.queued_while_offline = Number(((await page.getByTestId("network").innerText()).match(/待提交 (\d+)/) || [0, 0])[1]);
  await shot(page, "birth-queued-offline");

  // --- online: the queue goes out once ------------------------------------------------------------
  await context.setOffline(false); // the browser says "online"; the app pushes its queue
  await until(async () => !/待提交/.test(await page.getByTestId("app-status").innerText()), "the submission to land", 60000);
  birth.status_after_online = (await page.getByTestId("app-status").innerText()).trim();
  const appId = page.url().split("/").at(-1);
  const token = await appToken(page);
  const mine = await api("GET", "/v1/applications", token);
  birth.applications_on_server = mine.items.length;
  assert.equal(mine.items[0].id, appId);

  // --- departments approve through the API; the app follows live ----------------------------------
  const staff = { "430200-WJ": W.staff.weijian, "430200-GA": W.staff.gongan, "430200-RS": W.staff.renshe, "430200-YB": W.staff.yibao };
  const results = {
    "430200-WJ-001": { result_fields: { birth_place: "株洲市中心医院", mother_name: W.mother.name, father_name: "李强", institution: "株洲市中心医院" } },
    "430200-GA-001": { result_fields: { household_head: "李强", relation: "女", address: W.address, registered_on: "2026-11-20" }, assigned_id_number: W.child_id },
    "430200-RS-001": { result_fields: { card_no: "A12345678", bank: "中国工商银行", issued_on: "2026-11-21" } },
    "430200-YB-001": { result_fields: { insurance_type: "城乡居民医保", start_on: "2026-11-18" } },
    "430200-WJ-004": { result_fields: { clinic: "天元区社区卫生服务中心" } },
    "430200-WJ-005": { result_fields: { mother_name: W.mother.name, issued_on: "2026-11-21" } },
  };
  let round = 0;
  let supplementAsked = false;
  const liveEvents = async () => Number(await page.getByTestId("network").getAttribute("data-live-events"));
  const eventsBefore = await liveEvents();
  for (;;) {
    const current = await api("GET", `/v1/applications/${appId}`, token);
    const ready = current.tasks.filter((t) => t.status === "pending" || t.status === "claimed");
    if (!ready.length) break;
    for (const t of ready) {
      const h = staff[t.matter_code.slice(0, 9)];
      if (t.status === "pending") await api("POST", `/v1/dept/tasks/${t.id}/claim`, h);
      if (t.matter_code === "430200-YB-003" && !supplementAsked) {
        // 医保局 reads the bank details handed in (the family's access log shows it) and asks for 补正.
        await fetch(`${BASE}/v1/dept/tasks/${t.id}/materials/bank_account/file`, { headers: { authorization: `Bearer ${h}` } })
          .then((r) => assert.equal(r.status, 200));
        await api("POST", `/v1/dept/tasks/${t.id}/request-supplement`, h, { required_materials: ["hospital_invoice"], note: "票据不清晰，请重新拍照" });
        supplementAsked = true;
        await page.locator("#s-hospital_invoice").waitFor({ timeout: 60000 });
        await page.setInputFiles("#s-hospital_invoice", photo("hospital_invoice-again"));
        await page.getByRole("button", { name: "提交补正" }).click();
        await page.getByText("补正材料已提交").waitFor();
        await shot(page, "birth-supplement");
        birth.supplement_answered = await until(async () => {
          const again = await api("GET", `/v1/applications/${appId}`, token);
          const task = again.tasks.find((x) => x.id === t.id);
          return task.status !== "needs_supplement" ? task.status : null;
        }, "the 补正 to reach the department", 60000);
        continue;
      }
      await api("POST", `/v1/dept/tasks/${t.id}/approve`, h, results[t.matter_code] || {});
    }
    if (round++ === 0) {
      // No reload: the live channel pokes the app, which pulls the new state.
      await page.locator('[data-task="430200-WJ-001"][data-status="approved"]').waitFor({ timeout: 60000 });
      birth.first_approval_seen_live = (await liveEvents()) > eventsBefore;
      await shot(page, "birth-progress-live");
    }
  }
  await until(async () => /已办结/.test(await page.getByTestId("app-status").innerText()), "已办结 in the app", 60000);
  birth.final_status = "已办结";
  await shot(page, "birth-completed");

  // 好差评 and 找茬 from the application's page.
  await page.getByRole("radio", { name: "非常满意" }).click();
  await page.fill("#rate-comment", "一次都没跑");
  await page.getByRole("button", { name: "提交评价" }).click();
  birth.rating = await until(async () => {
    const r = await fetch(`${BASE}/v1/applications/${appId}/evaluation`, { headers: { authorization: `Bearer ${token}` } });
    return r.ok ? (await r.json()).level : null;
  }, "the rating on the server", 60000);
  await page.getByRole("link", { name: /请你来找茬/ }).click();
  await page.getByRole("heading", { name: "请你来找茬" }).waitFor();
  await page.getByLabel("建议").check();
  await page.fill("#fb-text", "希望出生医学证明能同步到父亲的卡包");
  await page.getByRole("button", { name: "提交" }).click();
  birth.feedback_received = await page.getByText(/已收到，编号/).isVisible().catch(() => false) ||
    (await page.getByText(/已收到，编号/).waitFor().then(() => true));
  await shot(page, "feedback-sent");

  // The child's certificates arrive in the wallet, under the family tag.
  await page.goto(`${APP}#/wallet`);
  const childTypes = async () => page.locator("[data-testid=wallet-item]:has(h3 .tag)").evaluateAll((els) => els.map((e) => e.dataset.type));
  birth.child_certificates = await until(async () => {
    const types = await childTypes();
    return types.includes("birth_medical_certificate") && types.includes("household_register") ? types : null;
  }, "the child's certificates", 60000);
  await shot(page, "wallet-with-child");
  birth.unread = Number(await page.getByTestId("unread").innerText());
  await page.goto(`${APP}#/inbox`);
  await shot(page, "inbox");
  await page.locator("main button.card.item").first().click(); // opens the application it is about
  birth.unread_after_reading = Number(await until(async () => {
    const n = Number(await page.getByTestId("unread").innerText());
    return n < birth.unread ? String(n) : null;
  }, "the unread count to fall", 60000));

  // Who read what: 医保局 read the bank details for the task.
  await page.goto(`${APP}#/consents`);
  birth.access_log = await until(async () => page.getByTestId("access").allInnerTexts().then((t) => (t.length ? t : null)), "the access log", 60000);
  birth.base = BASE;
  report("birth", birth);

  // --- 亮证: the QR opens a page that says 有效; after revocation 吊销 ------------------------------
  const present = {};
  // 步进认证 first: 亮证 wants L3 proven within 5 minutes, so she proves it again at the window.
  await page.goto(`${APP}#/me/stepup`);
  await page.fill("#rn-name", W.mother.name);
  await page.fill("#rn-id", W.mother.id);
  await page.getByRole("button", { name: "生成窗口认证码" }).click();
  const again = (await page.getByTestId("realname-session").innerText()).trim();
  assert.notEqual(again, session);
  await page.waitForTimeout(3500); // a poll of /v1/me has passed: the proof from before does not count
  assert.ok(await page.getByText("等待窗口工作人员核验").isVisible());
  await api("POST", "/v1/dept/realname/attest", W.clerk, { session_id: again, id_number: W.mother.id });
  await page.getByText("实人认证已完成").waitFor();
  present.stepped_up = true;

  // --- 授权用证: she lets 医保局 read her ID card for a purpose (L3, recently: just proven) ----------
  const consent = {};
  await page.goto(`${APP}#/consents`);
  await page.getByRole("button", { name: "授权部门用证" }).click();
  await page.selectOption("#g-dept", { label: "株洲市医疗保障局" });
  await page.locator("input[name^=grant-]").first().check();
  await page.fill("#g-purpose", "医保参保登记");
  await page.getByRole("button", { name: "同意授权" }).click();
  await page.getByText(/已授权株洲市医疗保障局/).waitFor();
  consent.listed = await until(async () => (await page.getByTestId("consent").allInnerTexts())
    .find((t) => t.includes("株洲市医疗保障局") && t.includes("医保参保登记")) || null, "the consent in her list");
  await shot(page, "consent-granted");
  consent.department_sees = (await api("GET", "/v1/dept/consents", W.staff.yibao)).items
    .filter((c) => c.purpose === "医保参保登记").map((c) => c.status);
  report("consent", consent);
  await page.goto(`${APP}#/wallet`);
  await page.locator("[data-testid=wallet-item][data-type=id_card]:not(:has(h3 .tag))").first().click();
  await page.getByRole("heading", { name: "亮证" }).waitFor();
  const itemUrl = page.url();
  const boxes = page.locator("input[name^=show-]");
  present.fields_shown = 2;
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.getByRole("button", { name: "生成亮证码" }).click();
  await page.getByText(/剩余 \d+ 秒/).waitFor();
  present.countdown = (await page.getByTestId("countdown").innerText()).trim();
  await shot(page, "present-qr");
  await page.addScriptTag({ path: require.resolve("jsqr/dist/jsQR.js") });
  present.qr_url = await page.evaluate(() => {
    const src = document.querySelector("[data-testid=qr]");
    const scale = 8, pad = 4 * scale, size = src.width * scale + 2 * pad;
    const c = document.createElement("canvas");
    c.width = c.height = size;
    const g = c.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, size, size);
    g.imageSmoothingEnabled = false;
    g.drawImage(src, pad, pad, src.width * scale, src.height * scale);
    const found = window.jsQR(g.getImageData(0, 0, size, size).data, size, size);
    return found ? found.data : null;
  });
  assert.ok(present.qr_url, "the QR decodes");
  const scanner = await context.newPage();
  await scanner.goto(present.qr_url);
  present.page_valid = await scanner.locator("body").innerText();
  await scanner.goto(`${APP}#/verify`);
  await scanner.fill("#token", present.qr_url);
  await scanner.getByRole("button", { name: "核验" }).click();
  present.app_valid = await verdictOf(scanner);
  present.app_fields = await scanner.getByTestId("verified-fields").innerText();
  await shot(scanner, "verify-valid");
  // The trust and status lists are kept: the same check with no network.
  await context.setOffline(true);
  await scanner.getByRole("button", { name: "核验" }).click();
  present.app_valid_offline = await verdictOf(scanner);
  present.offline_note = await scanner.getByText("（离线核验）").isVisible();
  await context.setOffline(false);

  await api("POST", `/v1/dept/certificates/${W.mother_card}/revoke`, W.staff.gongan, { reason: "注销" });
  await scanner.goto(present.qr_url);
  present.page_revoked = await scanner.locator("body").innerText();
  await scanner.goto(`${APP}#/verify`);
  await scanner.fill("#token", present.qr_url);
  await scanner.getByRole("button", { name: "核验" }).click();
  present.app_revoked = await verdictOf(scanner);
  await shot(scanner, "verify-revoked");
  await scanner.close();
  await page.goto(itemUrl);
  await page.reload(); // opening the app pulls what changed
  present.wallet_status = await until(async () => {
    const text = (await page.getByTestId("cert-status").innerText()).trim();
    return text === "已吊销" ? text : null;
  }, "已吊销 in the wallet", 60000);
  await shot(page, "wallet-revoked");
  report("present", present);

  // --- 离线亮证 (ZB2:): this phone's key, registered after a fresh L3 proof, makes a presentation of two fields
  // of her household register with no network; a verifier phone, offline too, holding the trust list and status
  // lists, shows a nonce first and says 有效 with exactly those fields. She revokes the phone from elsewhere (a
  // lost phone); a presentation made from the credential it still holds is refused once the verifier's status
  // lists refresh.
  const zb2 = {};
  await page.goto(`${APP}#/me/stepup`);
  await page.fill("#rn-name", W.mother.name);
  await page.fill("#rn-id", W.mother.id);
  await page.getByRole("button", { name: "生成窗口认证码" }).click();
  const third = (await page.getByTestId("realname-session").innerText()).trim();
  await api("POST", "/v1/dept/realname/attest", W.clerk, { session_id: third, id_number: W.mother.id });
  await page.getByText("实人认证已完成").waitFor();
  await page.getByRole("button", { name: "启用离线亮证" }).click();
  await page.getByText("本机已启用离线亮证").waitFor();
  zb2.device = (await page.locator("[data-testid=device][data-status=active]").innerText()).trim();
  await shot(page, "devices");
  await page.goto(`${APP}#/wallet`);
  await page.locator("[data-testid=wallet-item][data-type=household_register]:not(:has(h3 .tag))").first().click();
  await page.getByRole("button", { name: "离线亮证" }).waitFor(); // its credential came by sync

  const verifierContext = await browser.newContext(phone);
  verifierContext.setDefaultTimeout(45000);
  const verifier = await verifierContext.newPage();
  await verifier.goto(`${APP}#/verify`);
  await until(() => verifier.evaluate(() => new Promise((resolve) => {
    const req = indexedDB.open("zhangban-app");
    req.onsuccess = () => {
      const get = req.result.transaction("kv").objectStore("kv").get("app:trust");
      get.onsuccess = () => resolve(!!get.result);
      get.onerror = () => resolve(false);
    };
    req.onerror = () => resolve(false);
  })), "the verifier's trust list and status lists");
  await verifierContext.setOffline(true);
  await context.setOffline(true);
  await verifier.getByRole("button", { name: "先出示随机码" }).click();
  const nonce = (await verifier.getByTestId("nonce").innerText()).trim();
  await page.locator("input[name=show-household_head]").check();
  await page.locator("input[name=show-relation]").check();
  await page.fill("#nonce", nonce);
  await page.getByRole("button", { name: "离线亮证" }).click();
  const qr = page.getByTestId("qr");
  await until(async () => (await qr.getAttribute("data-offline")) === "1", "the offline presentation");
  const shown = await qr.getAttribute("data-token");
  zb2.holder_network = (await page.getByTestId("network").innerText()).trim();
  zb2.token_chars = shown.length;
  await shot(page, "present-offline");
  await verifier.fill("#token", shown);
  zb2.verdict = await checkAgain(verifier);
  zb2.fields = await verifier.getByTestId("disclosed").allInnerTexts();
  zb2.holder_bound = await verifier.getByTestId("holder-bound").isVisible();
  zb2.verifier_offline = await verifier.getByText("（离线核验）").isVisible();
  await shot(verifier, "verify-offline-presentation");

  // Revoked from elsewhere while this phone stays offline: it still holds its credential and makes another.
  const holder = await appToken(page);
  const device = (await api("GET", "/v1/devices", holder)).items.find((d) => d.status === "active");
  zb2.revoked = (await api("DELETE", `/v1/devices/${device.id}`, holder)).status;
  await page.fill("#nonce", "");
  await page.getByRole("button", { name: "离线亮证" }).click();
  const copy = await until(async () => {
    const t = await qr.getAttribute("data-token");
    return t && t !== shown ? t : null;
  }, "a presentation from the kept credential");
  await verifier.reload(); // a new check: no nonce shown this time
  await verifier.fill("#token", copy);
  zb2.before_refresh = await checkAgain(verifier); // the verifier's lists predate the revocation
  await verifierContext.setOffline(false);
  zb2.after_refresh = await checkAgain(verifier); // online: the lists refresh, the check stays local
  await verifierContext.setOffline(true);
  zb2.after_refresh_offline = await checkAgain(verifier);
  zb2.reasons = await verifier.locator("ul.plain li").allInnerTexts();
  await shot(verifier, "verify-revoked-device");
  await verifierContext.close();
  await context.setOffline(false);
  await page.goto(`${APP}#/me`); // back online, her devices say which one was revoked
  await page.locator("[data-testid=device][data-status=revoked]").first().waitFor();
  zb2.devices_after = await page.getByTestId("device").allInnerTexts();
  report("zb2", zb2);

  // --- 适老化: axe-core on the main screens, normal and large text; tap targets ≥ 48 px ------------
  const axePath = require.resolve("axe-core/axe.min.js");
  const audit = async (p, name, least = 48) => {
    await p.addScriptTag({ path: axePath });
    const violations = await p.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
      return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
    });
    const small = await p.evaluate((least) => [...document.querySelectorAll("button, a, input, select, textarea, [role=tab]")]
      .filter((e) => e.offsetParent !== null && !e.closest("p") && !e.closest("li.muted") && e.className !== "skip")
      .filter((e) => !(e.matches("input[type=checkbox], input[type=radio]") && e.closest("label.check")))
      .filter((e) => !(e.matches("input.sr-only") && e.labels && [...e.labels].some((l) => l.getBoundingClientRect().height >= least - 0.5)))
      .filter((e) => { const r = e.getBoundingClientRect(); return r.height < least - 0.5 || r.width < least - 0.5; })
      .map((e) => `${e.tagName.toLowerCase()} ${(e.innerText || e.id || "").slice(0, 20)}`), least);
    await shot(p, name);
    return { name, violations, small_targets: small };
  };
  const screens = [["home", ""], ["bundles", "bundles"], ["apply", "bundle/birth"], ["application", `app/${appId}`],
    ["applications", "apps"], ["wallet", "wallet"], ["inbox", "inbox"], ["me", "me"], ["consents", "consents"],
    ["feedback", "feedback"], ["verify", "verify"]];
  const a11y = { screens: [] };
  for (const large of [false, true]) {
    if (large) {
      await page.goto(`${APP}#/me`);
      await page.getByTestId("large-text").check();
    }
    for (const [name, hash] of screens) {
      await page.goto(`${APP}#/${hash}`);
      await page.locator("h1").first().waitFor();
      await page.waitForTimeout(200);
      a11y.screens.push(await audit(page, `a11y-${name}${large ? "-large" : ""}`, large ? 60 : 48));
    }
    a11y[large ? "large_font_px" : "normal_font_px"] = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  }
  const guest = await browser.newContext(phone);
  guest.setDefaultTimeout(45000);
  const visitor = await guest.newPage();
  visitor.setDefaultNavigationTimeout(60000);
  await visitor.goto(APP);
  await visitor.getByRole("heading", { name: "短信登录" }).waitFor();
  a11y.screens.push(await audit(visitor, "a11y-login"));
  await guest.close();
  report("a11y", a11y);

  // Inside WeChat: the host mini-program hands a wx.login code to the web-view; the app logs in with it.
  const wechat = await browser.newContext({ ...phone, userAgent: "Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0.50 miniProgram" });
  wechat.setDefaultTimeout(45000);
  const webview = await wechat.newPage();
  const code = (await (await fetch(`${W.sim}/_sim/login-codes`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()).code;
  await webview.goto(`${APP}?wx_code=${encodeURIComponent(code)}`);
  await webview.getByRole("heading", { name: "掌上办事" }).waitFor();
  report("wechat", { logged_in: true, code_left_in_url: webview.url().includes("wx_code") });
  await wechat.close();

  // --- 不是本人操作: her identity logs in on another phone; this phone's inbox says so and ends it -----
  const notMe = {};
  await page.goto(`${APP}#/inbox`);
  await page.locator("h1").first().waitFor();
  const alerts = page.getByTestId("identity-login");
  const alertsBefore = await alerts.count();
  const other = await browser.newContext(phone);
  other.setDefaultTimeout(45000);
  const stranger = await other.newPage();
  stranger.setDefaultNavigationTimeout(90000);
  await stranger.goto(APP);
  await stranger.fill("#phone", W.phone);
  // One code a minute per phone number (the server's limit, a window opened by her phone's request, which was
  // answered before smsSentAt): the other phone asks after that minute. This part comes last, so that the rest
  // of the story fills the minute.
  await stranger.waitForTimeout(Math.max(0, smsSentAt + 60500 - Date.now()));
  await stranger.getByRole("button", { name: "获取验证码" }).click();
  await stranger.getByText("验证码已发送").waitFor();
  const sms2 = await (await fetch(`${BASE}/v1/dev/sms?phone=${W.phone}`)).json();
  // Newest first; her phone also gets the identity alerts by SMS: the newest message with a code.
  await stranger.fill("#code", sms2.items.find((m) => m.params && m.params.code).params.code);
  await stranger.getByRole("button", { name: "登录" }).click();
  await stranger.getByRole("heading", { name: "掌上办事" }).waitFor().catch(async () => {
    await shot(stranger, "not-me-other-phone");
    throw new Error(`the other phone did not log in: ${await stranger.locator("main").innerText()}`);
  });
  const strangerToken = await appToken(stranger);
  const status = async (token) => (await fetch(`${BASE}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  notMe.other_login_before = await status(strangerToken);
  // The alert arrives live (no reload); the newest is the other phone's login.
  notMe.alert_shown = await until(async () => (await alerts.count()) > alertsBefore, "the identity-login alert in the inbox", 60000);
  await shot(page, "inbox-identity-login");
  page.once("dialog", (d) => { notMe.confirm_asked = d.message(); void d.accept(); });
  await alerts.first().getByRole("button", { name: "不是本人操作" }).click();
  notMe.answer = await alerts.first().getByRole("status").innerText();
  notMe.other_login_after = await status(strangerToken);
  notMe.this_login_after = await status(await appToken(page));
  await other.close();
  report("not_me", notMe);

  if (errors.length) console.error("page errors:", errors);
} catch (err) {
  await shot(page, "failure").catch(() => undefined);
  console.error(err);
  console.error("page errors:", errors);
  await browser.close();
  process.exit(1);
}
await browser.close();
