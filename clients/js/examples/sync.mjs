// 离线同步：断网时照常保存草稿，联网后 syncUntilDone() 推送并拉取；冲突时合并双方改动。
import { randomUUID } from "./uuid.mjs";

export async function saveDraftOffline(client, matterCode, form) {
  const draftId = randomUUID();
  // 立即写入本地队列（先持久化、再发送），界面马上能看到（乐观更新）。
  await client.sync.saveDraft({ draft_id: draftId, matter_code: matterCode, form, materials: [] });
  const shown = client.sync.get("draft", draftId);
  // 网络恢复后：推送队列、拉取变更；503 / 断网时按 Retry-After 或指数退避重试。
  await client.sync.syncUntilDone(10);
  return { draftId, shown, pending: client.sync.pending().length, drafts: client.sync.list("draft") };
}
