// The window and the back office in Debian's Chromium (playwright-core), zh-CN, against a real server.
// tests/test_workbench_browser.py prepares the world (staff, seals, the citizen's ID card) and passes it in
// ZB_STORY; the story prints one JSON line {part: outcome} that the Python test checks.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

const W = JSON.parse(process.env.ZB_STORY);
const BENCH = `${W.base}/workbench/`;
const report = (part, outcome) => console.log(JSON.stringify({ [part]: outcome }));
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const scan = (tag) => ({ name: `${tag}.png`, mimeType: "image/png", buffer: Buffer.concat([PNG, Buffer.from(tag)]) });

/** What an authenticator app shows for `secret` (RFC 6238: SHA-1, 30 s, 6 digits), `ahead` steps from now. */
function totp(secret, ahead = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bits = [...secret.replace(/=+$/, "")].map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0")).join("");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + ahead));
  const mac = createHmac("sha1", key).update(counter).digest();
  return String((mac.readUInt32BE(mac[19] & 15) & 0x7fffffff) % 1e6).padStart(6, "0");
}

/** axe-core's WCAG 2.1 A/AA rules on the page as it is now: the rules broken and where. */
async function audit(page, name) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  a11y.push({ name, violations });
}
const a11y = [];

async function api(method, path, token, body) {
  const r = await fetch(W.base + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const browser = await chromium.launch({ executablePath: process.env.ZB_CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--lang=zh-CN"] });
// bypassCSP lets the audit inject axe-core; the page itself runs under its CSP as served.
const desk = { viewport: { width: 1280, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai", bypassCSP: true };

/** A staff member's workbench, their tokens where the SDK keeps them (as the login screen leaves them). */
async function workbench(pair) {
  const context = await browser.newContext(desk);
  if (pair) {
    await context.addInitScript((t) => { if (!sessionStorage.getItem("zb:tokens")) sessionStorage.setItem("zb:tokens", t); },
                                JSON.stringify({ access_token: pair.access_token, refresh_token: pair.refresh_token }));
  }
  const page = await context.newPage();
  await page.goto(BENCH);
  return page;
}
const status = (page, text) => page.locator("[role=status]", { hasText: text }).waitFor({ timeout: 20000 });

try {
  // The login screen, before anyone is signed in.
  const nobody = await workbench(null);
  await nobody.getByLabel("手机号").waitFor();
  await audit(nobody, "login");
  await nobody.context().close();

  // The clerk's first login passed the SMS code: the workbench asks for the second factor, and as none is bound
  // yet it shows the authenticator's QR code and secret once; the first code signs the clerk in.
  const clerk = await workbench(W.clerk);
  const secret = (await clerk.getByTestId("totp-secret").innerText()).trim();
  const qr = await clerk.getByRole("img", { name: "身份验证器绑定二维码" }).getAttribute("src");
  await audit(clerk, "login-enrol");
  await clerk.screenshot({ path: join(W.artifacts, "workbench-enrol.png"), fullPage: true });
  await clerk.getByLabel("身份验证器动态码（6位）").fill(totp(secret));
  await clerk.getByRole("button", { name: "登录" }).click();
  await clerk.getByLabel("身份证号码（读卡或录入）").waitFor({ timeout: 20000 });
  report("login", { secret_length: secret.length, qr: qr.slice(0, 26) });

  // 综合受理: the clerk identifies the citizen by the card, asks her consent, sees 免提交, attaches two scans, submits.
  await clerk.getByLabel("身份证号码（读卡或录入）").fill(W.citizen.id);
  await clerk.getByLabel("姓名").fill(W.citizen.name);
  await clerk.getByLabel("短信通知手机号（无掌办的群众）").fill(W.citizen.phone);
  await clerk.getByLabel("窗口").fill("3号综合受理窗口");
  await clerk.getByLabel("窗口").press("Enter");
  await clerk.getByRole("button", { name: "群众同意调取" }).click();
  await status(clerk, "当面授权");
  await clerk.getByLabel("一件事").selectOption("retirement");
  await clerk.getByRole("button", { name: "查看免提交" }).click();
  const idCard = await clerk.locator("tr", { hasText: "applicant_id_card" }).innerText();
  await clerk.locator("input[name=scan-retirement_application]").setInputFiles(scan("retirement_application"));
  await clerk.locator("input[name=scan-employment_record]").setInputFiles(scan("employment_record"));
  await clerk.getByLabel("表单（字段=值，每行一项）").fill(
    "employer=株洲冶炼集团\nretire_on=2026-12-01\nbank_account_no=6222020202021234");
  await clerk.screenshot({ path: join(W.artifacts, "workbench-intake.png"), fullPage: true });
  await audit(clerk, "intake");
  await clerk.getByRole("button", { name: "代为提交" }).click();
  await status(clerk, "已受理");
  const applicationId = (await clerk.locator("[role=status]").innerText()).match(/[0-9a-f-]{36}/)[0];
  report("intake", { application_id: applicationId, id_card: idCard });

  // 后台分类审批: 人社局 claims and approves both its tasks in the workbench (the 退休证 prefilled, two fields added).
  const renshe = await workbench(W.renshe);
  await renshe.getByLabel("状态").waitFor({ timeout: 20000 });
  await audit(renshe, "tasks");
  const approved = [];
  for (const fields of ["retired_on=2026-12-01\npension_type=企业职工基本养老保险", ""]) {
    await renshe.getByLabel("状态").selectOption("pending");
    await renshe.getByRole("button", { name: "认领" }).first().click();
    await status(renshe, "已认领");
    await renshe.getByLabel("状态").selectOption("claimed");
    await renshe.getByRole("button", { name: "审核" }).first().click();
    approved.push(await renshe.locator("#decide-title").innerText());
    if (fields) await renshe.getByLabel(/结果证照字段/).fill(fields);
    await renshe.screenshot({ path: join(W.artifacts, `workbench-decide-${approved.length}.png`), fullPage: true });
    if (approved.length === 1) await audit(renshe, "decide");
    await renshe.getByRole("button", { name: "通过并出证" }).click();
    await status(renshe, "已通过");
    if (approved.length === 1) {
      // The other departments' parts start once 职工退休核准 is done; 医保 and 公积金 approve through their systems.
      for (const token of [W.yibao, W.gongjijin]) {
        for (const t of (await api("GET", "/v1/dept/tasks?status=pending", token)).items) {
          if (t.application_id !== applicationId) continue;
          await api("POST", `/v1/dept/tasks/${t.id}/claim`, token);
          await api("POST", `/v1/dept/tasks/${t.id}/approve`, token, {});
        }
      }
    }
  }
  report("back_office", { approved });

  // A department clerk without window authority: no 综合受理 among their screens, and the server refuses the intake.
  const tabs = await renshe.getByRole("navigation").innerText();
  await renshe.keyboard.press("Alt+2");
  await renshe.getByLabel("身份证号码（读卡或录入）").fill(W.citizen.id);
  await renshe.getByLabel("姓名").fill(W.citizen.name);
  await renshe.getByRole("button", { name: "核验并接待" }).click();
  const backOffice = await renshe.locator("[role=alert]").filter({ hasText: /\S/ }).innerText({ timeout: 20000 });
  report("no_window_authority", { tabs, refused: backOffice });

  // 统一窗口出件: the pick-up queue (Alt+3), the printed pages, the hand-over with the card checked.
  await clerk.keyboard.press("Alt+3");
  const row = clerk.locator(`tr[data-application="${applicationId}"]`);
  await row.waitFor({ timeout: 20000 });
  const results = await row.innerText();
  const [popup] = await Promise.all([clerk.waitForEvent("popup"), row.getByRole("button", { name: "打印" }).click()]);
  const printed = popup.url();
  await audit(clerk, "pickups");
  // A clerk of another centre (公安局's window) does not find it in their pick-up queue.
  const other = await workbench(W.other_centre);
  await other.getByRole("heading", { name: "综合受理：核验身份" }).waitFor({ timeout: 20000 });
  await other.keyboard.press("Alt+3");
  await other.getByRole("heading", { name: "待领取" }).waitFor({ timeout: 20000 });
  await other.getByText("暂无待领取").waitFor({ timeout: 20000 });
  report("other_centre", { queue: await other.locator("tbody").innerText() });
  await row.getByRole("button", { name: "交付" }).click();
  await clerk.getByLabel("领取人身份证号码").fill(W.citizen.id);
  await clerk.getByLabel("领取人姓名").fill(W.citizen.name);
  await clerk.getByLabel("已核验领取人身份证").check();
  await clerk.screenshot({ path: join(W.artifacts, "workbench-handover.png"), fullPage: true });
  await audit(clerk, "handover");
  await clerk.getByRole("button", { name: "确认交付" }).click();
  await status(clerk, "已交付并登记");
  await row.waitFor({ state: "detached", timeout: 20000 });
  report("pickup", { results, printed, queue_after: await clerk.locator("tbody tr").first().innerText() });

  // A 代办人 whose authorisation has expired comes for his mother: the window refuses him.
  await clerk.keyboard.press("Alt+2");
  await clerk.getByLabel("身份证号码（读卡或录入）").fill(W.expired.principal_id_number);
  await clerk.getByLabel("姓名").fill(W.expired.principal_name);
  await clerk.getByLabel("代办授权编号").fill(W.expired.delegation_id);
  await clerk.getByLabel("代办人身份证号码（读卡）").fill(W.expired.agent_id_number);
  await clerk.getByRole("button", { name: "核验并接待" }).click();
  const expired = await clerk.locator("[role=alert]").filter({ hasText: /\S/ }).innerText({ timeout: 20000 });
  report("expired_agent", { refused: expired });

  // Her son holds another authorisation, for 退休一件事: he installs the app, proves who he is at a window, and
  // applies for her from it (代办).
  const son = await (await browser.newContext(desk)).newPage();
  await son.goto(`${W.base}/app/`);
  await son.getByRole("heading", { name: "短信登录" }).waitFor({ timeout: 30000 });
  await son.fill("#phone", W.agent.phone);
  await son.getByRole("button", { name: "获取验证码" }).click();
  await son.getByText("验证码已发送").waitFor();
  const sms = await (await fetch(`${W.base}/v1/dev/sms?phone=${W.agent.phone}`)).json();
  await son.fill("#code", sms.items.at(-1).params.code);
  await son.getByRole("button", { name: "登录" }).click();
  await son.getByRole("heading", { name: "掌上办事" }).waitFor({ timeout: 30000 });
  await son.goto(`${W.base}/app/#/me`);
  await son.fill("#rn-name", W.agent.name);
  await son.fill("#rn-id", W.agent.id);
  await son.getByRole("button", { name: "生成窗口认证码" }).click();
  const rn = (await son.getByTestId("realname-session").innerText()).trim();
  await api("POST", "/v1/dept/realname/attest", W.agent.attester, { session_id: rn, id_number: W.agent.id });
  await son.getByText("实人认证已完成").waitFor({ timeout: 30000 });
  await son.goto(`${W.base}/app/#/agent`);
  await son.getByTestId("principal").click();
  const acting = await son.getByTestId("acting").innerText({ timeout: 30000 });
  await son.selectOption("#agent-bundle", "retirement");
  await son.locator("#agent-f-employer").waitFor({ timeout: 30000 });
  await son.fill("#agent-f-employer", "株洲硬质合金集团");
  await son.fill("#agent-f-retire_on", "2026-12-01");
  await son.fill("#agent-f-bank_account_no", "6222020202025678");
  const inputs = son.locator("form input[type=file]");
  for (let i = 0; i < (await inputs.count()); i += 1) {
    const id = await inputs.nth(i).getAttribute("id");
    await inputs.nth(i).setInputFiles(scan(id));
    await son.waitForFunction((n) => performance.getEntriesByType("resource").filter((e) => e.name.includes("/v1/blobs/")).length >= n, i + 1);
  }
  await audit(son, "app-agent");
  await son.screenshot({ path: join(W.artifacts, "app-agent.png"), fullPage: true });
  await son.getByRole("button", { name: "代为提交" }).click();
  const submitted = await son.locator("[role=status].ok").innerText({ timeout: 30000 });
  report("app_agent", { acting, submitted });
  report("a11y", a11y);
  report("clerk_tokens", JSON.parse(await clerk.evaluate(() => sessionStorage.getItem("zb:tokens"))));
} finally {
  await browser.close();
}
