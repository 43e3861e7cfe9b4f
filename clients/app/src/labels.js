export const STATUS = {
  queued: "待提交（联网后自动提交）", submitted: "已受理", in_progress: "办理中", needs_supplement: "待补正",
  completed: "已办结", rejected: "未通过", withdrawn: "已撤回",
};
export const TASK = {
  waiting: "等待前序事项", pending: "待办理", claimed: "办理中", approved: "已通过", rejected: "未通过",
  needs_supplement: "待补正", cancelled: "已取消",
};
export const EVENT = {
  submitted: "已提交", task_claimed: "部门已受理", task_approved: "部门已通过", task_rejected: "部门未通过",
  supplement_requested: "部门要求补正", supplemented: "已补正", completed: "已办结", withdrawn: "已撤回",
  guardian_joined: "另一位监护人加入", evaluated: "已评价",
};
export const KIND = { certificate: "证照", record: "记录", event: "人生事件", application: "办件" };
export const CERT_STATUS = { valid: "有效", suspended: "已暂停", revoked: "已吊销", expired: "已过期" };
export const REASONS = {
  revoked: "证照已被签发机关吊销", suspended: "证照已暂停使用", expired: "证照已过期", presentation_expired: "亮证码已过期，请对方刷新",
  signature: "签名不正确", chain: "签发机关不在信任列表中", format: "不是本平台的电子证照码", not_yet_valid: "证照尚未生效",
  status_unknown: "无法确认证照状态（请联网更新状态列表）", trust_list_expired: "信任列表已过期，请联网更新",
  status_unavailable: "无法确认证照状态（请联网更新状态列表）", credential_expired: "对方的离线亮证凭据已过期，请对方联网同步",
  holder_binding: "不是由持证人本人手机签名（可能是复制的凭据）", nonce: "未包含本机出示的随机码，请对方重新亮证",
  disclosure: "出示的字段被改动过", unknown_seal: "签发机关不在信任列表中",
};
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
