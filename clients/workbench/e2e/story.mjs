// The window and the back office in Debian's Chromium (playwright-core), zh-CN, against a real server.
// tests/test_workbench_browser.py prepares the world (staff, seals, the citizen's ID card) and passes it in
// ZB_STORY; the story prints one JSON line {part: outcome} that the Python test checks.
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";

const W = JSON.parse(process.env.ZB_STORY);
const BENCH = `${W.base}/workbench/`;
const report = (part, outcome) => console.log(JSON.stringify({ [part]: outcome }));
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const scan = (tag) => ({ name: `${tag}.png`, mimeType: "image/png", buffer: Buffer.concat([PNG, Buffer.from(tag)]) });

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
const desk = { viewport: { width: 1280, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" };

/** A signed-in staff member's workbench (the staff token as the login screen leaves it). */
async function workbench(token) {
  const context = await browser.newContext(desk);
  await context.addInitScript((t) => sessionStorage.setItem("zb-workbench-token", t), token);
  const page = await context.newPage();
  await page.goto(BENCH);
  return page;
}
const status = (page, text) => page.locator("[role=status]", { hasText: text }).waitFor({ timeout: 20000 });

try {
  // 综合受理: the clerk identifies the citizen by the card, asks her consent, sees 免提交, attaches two scans, submits.
  const clerk = await workbench(W.clerk);
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
  await clerk.getByRole("button", { name: "代为提交" }).click();
  await status(clerk, "已受理");
  const applicationId = (await clerk.locator("[role=status]").innerText()).match(/[0-9a-f-]{36}/)[0];
  report("intake", { application_id: applicationId, id_card: idCard });

  // 后台分类审批: 人社局 claims and approves both its tasks in the workbench (the 退休证 prefilled, two fields added).
  const renshe = await workbench(W.renshe);
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

  // 统一窗口出件: the pick-up queue (Alt+3), the printed pages, the hand-over with the card checked.
  await clerk.keyboard.press("Alt+3");
  const row = clerk.locator(`tr[data-application="${applicationId}"]`);
  await row.waitFor({ timeout: 20000 });
  const results = await row.innerText();
  const [popup] = await Promise.all([clerk.waitForEvent("popup"), row.getByRole("button", { name: "打印" }).click()]);
  const printed = popup.url();
  await row.getByRole("button", { name: "交付" }).click();
  await clerk.getByLabel("领取人身份证号码").fill(W.citizen.id);
  await clerk.getByLabel("领取人姓名").fill(W.citizen.name);
  await clerk.getByLabel("已核验领取人身份证").check();
  await clerk.screenshot({ path: join(W.artifacts, "workbench-handover.png"), fullPage: true });
  await clerk.getByRole("button", { name: "确认交付" }).click();
  await status(clerk, "已交付并登记");
  await row.waitFor({ state: "detached", timeout: 20000 });
  report("pickup", { results, printed, queue_after: await clerk.locator("tbody tr").first().innerText() });
} finally {
  await browser.close();
}
