"""``GET /admin``: the operators' dashboard (zh-CN) over ``/v1/admin/stats``.

The page is static; its script takes the operator token from the URL fragment (``/admin#token=…``,
never sent to the server) or a pasted token kept in sessionStorage, fetches the statistics and
draws the charts as SVG. No third-party scripts.
"""

from __future__ import annotations

from litestar import MediaType, Response, get

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>掌办 · 运营看板</title>
<style>
  body { font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
         margin: 0; background: #f4f6f9; color: #1f2d3d; }
  header { background: #c0392b; color: #fff; padding: 14px 20px; font-size: 20px; }
  main { padding: 16px 20px; max-width: 1100px; margin: auto; }
  section { background: #fff; border-radius: 8px; padding: 14px 18px; margin-bottom: 16px;
            box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h2 { font-size: 16px; margin: 0 0 10px; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; }
  th, td { border-bottom: 1px solid #e5e9f0; padding: 6px 8px; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .kpis { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
  .kpi { flex: 1 1 150px; background: #fff; border-radius: 8px; padding: 12px 16px;
         box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  .kpi b { display: block; font-size: 26px; }
  #status { color: #7f8c8d; }
  form input { width: 60%; }
</style>
</head>
<body>
<header>掌办 · 一件事一次办 运营看板</header>
<main>
  <p id="status">请在地址后附加 <code>#token=运营令牌</code>，或粘贴运营令牌后查看统计（需要启用 JavaScript）。</p>
  <form id="login"><input id="token" placeholder="运营访问令牌（zhangban operator-token）"> <button>查看</button></form>
  <div class="kpis" id="kpis"></div>
  <section><h2>各一件事：办件量与办结量</h2><div id="bundle-chart"></div></section>
  <section><h2>各部门：办结率、超期与满意度</h2><div id="dept-chart"></div></section>
  <section><h2>综合受理窗口：等候、受理、代办与出件</h2><div id="windows"></div></section>
  <section><h2>群众与企业：办件量与好差评</h2><div id="applicants"></div></section>
  <section><h2>企业开办：各部门办件量与用时</h2><div id="opening"></div></section>
  <section><h2>明细</h2><div id="tables"></div></section>
</main>
<script>
(function () {
  var stored = sessionStorage.getItem("zb-operator-token");
  var m = location.hash.match(/token=([^&]+)/);
  if (m) { stored = decodeURIComponent(m[1]); sessionStorage.setItem("zb-operator-token", stored);
           history.replaceState(null, "", location.pathname); }
  document.getElementById("login").addEventListener("submit", function (e) {
    e.preventDefault(); var t = document.getElementById("token").value.trim();
    if (t) { sessionStorage.setItem("zb-operator-token", t); load(t); }
  });
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  function pct(x) { return x === null ? "—" : (x * 100).toFixed(1) + "%"; }
  function bars(rows, series) {
    var max = 1; rows.forEach(function (r) { series.forEach(function (s) { max = Math.max(max, r[s.key] || 0); }); });
    var h = 22 * series.length + 10, w = 640, svg = "";
    rows.forEach(function (r, i) {
      var y = i * h;
      svg += '<text x="0" y="' + (y + 15) + '" font-size="13">' + esc(r.label) + "</text>";
      series.forEach(function (s, j) {
        var v = r[s.key] || 0, len = Math.round(360 * v / max);
        svg += '<rect x="220" y="' + (y + j * 22) + '" width="' + len + '" height="18" fill="' + s.color + '"></rect>' +
               '<text x="' + (226 + len) + '" y="' + (y + j * 22 + 14) + '" font-size="12">' + esc(s.name + " " + v) + "</text>";
      });
    });
    return '<svg role="img" width="' + w + '" height="' + (rows.length * h + 4) + '">' + svg + "</svg>";
  }
  function table(rows, first) {
    var head = "<tr><th>" + first + "</th><th>办件量</th><th>办结</th><th>办结率</th><th>中位用时(小时)</th><th>超期</th><th>满意度</th><th>未整改差评</th></tr>";
    return "<table>" + head + rows.map(function (r) {
      return "<tr><td>" + esc(r.label) + "</td><td>" + r.received + "</td><td>" + r.completed + "</td><td>" +
        pct(r.completion_rate) + "</td><td>" + (r.median_hours === null ? "—" : r.median_hours) + "</td><td>" +
        r.overdue + "</td><td>" + pct(r.satisfaction) + "</td><td>" + r.bad_ratings_open + "</td></tr>";
    }).join("") + "</table>";
  }
  function load(token) {
    var status = document.getElementById("status");
    status.textContent = "正在加载…";
    fetch("/v1/admin/stats", {headers: {"Authorization": "Bearer " + token}}).then(function (r) {
      if (!r.ok) { throw new Error(r.status === 401 ? "令牌无效或已过期" : r.status === 403 ? "该令牌没有运营权限" : "加载失败（" + r.status + "）"); }
      return r.json();
    }).then(function (s) {
      document.getElementById("login").style.display = "none";
      status.textContent = "统计区间：" + s.from.slice(0, 10) + " 至 " + s.to.slice(0, 10);
      var b = s.by_bundle.map(function (r) { r.label = r.bundle_name || "单个事项"; return r; });
      var d = s.by_department.map(function (r) { r.label = r.department_name;
        r.rate = r.completion_rate === null ? 0 : Math.round(r.completion_rate * 100);
        r.sat = r.satisfaction === null ? 0 : Math.round(r.satisfaction * 100); return r; });
      var sum = function (rows, k) { return rows.reduce(function (a, r) { return a + r[k]; }, 0); };
      var rec = sum(b, "received"), done = sum(b, "completed");
      document.getElementById("kpis").innerHTML =
        '<div class="kpi">办件量<b id="kpi-received">' + rec + "</b></div>" +
        '<div class="kpi">办结量<b id="kpi-completed">' + done + "</b></div>" +
        '<div class="kpi">办结率<b>' + (rec ? (100 * done / rec).toFixed(1) + "%" : "—") + "</b></div>" +
        '<div class="kpi">超期<b id="kpi-overdue">' + sum(b, "overdue") + "</b></div>" +
        '<div class="kpi">未整改差评<b>' + sum(d, "bad_ratings_open") + "</b></div>";
      document.getElementById("bundle-chart").innerHTML = b.length ? bars(b, [
        {key: "received", name: "办件", color: "#2980b9"}, {key: "completed", name: "办结", color: "#27ae60"}]) : "暂无数据";
      document.getElementById("dept-chart").innerHTML = d.length ? bars(d, [
        {key: "rate", name: "办结率%", color: "#27ae60"}, {key: "overdue", name: "超期", color: "#c0392b"},
        {key: "sat", name: "满意度%", color: "#f39c12"}]) : "暂无数据";
      document.getElementById("tables").innerHTML = table(b, "一件事") + "<br>" + table(d, "部门");
      var w = s.by_window || [], num = function (x) { return x === null ? "—" : x; };
      document.getElementById("windows").innerHTML = w.length ? "<table><tr><th>服务中心</th><th>接待</th><th>受理</th>" +
        "<th>代办</th><th>等候中位(分钟)</th><th>受理中位(分钟)</th><th>待领取</th><th>已出件</th></tr>" +
        w.map(function (r) { return "<tr><td>" + esc(r.department_name) + "</td><td>" + r.visits + "</td><td>" +
          r.applications_taken + "</td><td>" + r.taken_for_others + "</td><td>" + num(r.median_wait_minutes) +
          "</td><td>" + num(r.median_handling_minutes) + "</td><td>" + r.awaiting_pickup + "</td><td>" +
          r.picked_up + "</td></tr>"; }).join("") + "</table>" : "暂无数据";
      var who = {citizen: "群众", enterprise: "企业"};
      var ap = (s.by_applicant || []).map(function (r) { r.label = who[r.applicant] || r.applicant; return r; });
      document.getElementById("applicants").innerHTML = ap.length ? table(ap, "申请人") : "暂无数据";
      var op = (s.business_opening || []).map(function (r) { r.label = r.department_name; return r; });
      document.getElementById("opening").innerHTML = op.length ? table(op, "部门") : "暂无数据";
    }).catch(function (e) { status.textContent = e.message; });
  }
  if (stored) { load(stored); }
})();
</script>
</body>
</html>
"""


@get(
    "/admin",
    operation_id="AdminDashboard",
    summary="Operators' dashboard page (zh-CN)",
    include_in_schema=True,
    tags=["operators"],
    media_type=MediaType.HTML,
    description="A static page; open `/admin#token=<operator token>` (the token stays in the browser).",
)
async def admin_page() -> Response[str]:
    return Response(
        PAGE, media_type=MediaType.HTML, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
