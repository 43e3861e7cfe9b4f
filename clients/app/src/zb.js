// The one SDK client of this app and the state every screen reads: login, sync, live channel, the
// catalogue kept for offline use. Screens call the actions here; none of them talks to fetch directly.
import { reactive } from "vue";
import {
  Live, ProblemError, ZhangbanClient, base64Decode, base64urlEncode, eventSource, fetchTransport, fetchUploader, indexedDbStorage,
  makePresentation, mergeDraftForms, parseStatusList, parseTrustList, verifyToken, webCryptoDeviceKey, webSocket,
} from "@zhangban/sdk";

export const storage = indexedDbStorage("zhangban-app");
const LARGE = "zb-large-text";

export const state = reactive({
  ready: false,
  online: navigator.onLine,
  loggedIn: false,
  me: null,
  /** Bumped on every local change, so computed views re-read the SDK's copy. */
  version: 0,
  syncing: false,
  /** Queued mutations not yet answered, and how many of them are submissions. */
  pending: 0,
  pendingSubmits: 0,
  error: "",
  live: false,
  /** Events the live channel delivered (each one pulls). */
  liveEvents: 0,
  /** Final results of queued submissions by application id (rejected ones say why). */
  results: {},
  largeText: localStorage.getItem(LARGE) === "1",
  bundles: [],
  prefill: {},
  certTypes: {},
  /** A department's decision or another device's change arrived live (shown briefly). */
  flash: "",
});

const effects = {
  // A queued submission shows at once as 待提交, and its draft leaves the list.
  "application.submit": (view, args, now) => {
    const id = String(args.application_id);
    if (!view.get("application", id)) {
      view.put("application", id, {
        id, bundle_code: args.bundle_code || null, matter_code: args.matter_code || null, form: args.form || {},
        status: "queued", tasks: [], timeline: [], submitted_at: new Date(now).toISOString(),
      });
    }
    if (args.draft_id) view.del("draft", String(args.draft_id));
  },
};

export const client = new ZhangbanClient({
  baseUrl: location.origin,
  transport: fetchTransport(),
  // Photos taken offline are kept by the SDK's blob queue in this IndexedDB until they are uploaded.
  storage,
  uploader: fetchUploader(),
  // This device's key for 亮证 offline (ZB2:): WebCrypto, non-extractable, kept in its own IndexedDB.
  deviceKeys: webCryptoDeviceKey("zhangban-app-device"),
  sync: {
    namespace: "app",
    onConflict: mergeDraftForms,
    effects,
    onChange: () => { state.version += 1; },
    onResult: (mutation, result) => {
      if (mutation.name === "application.submit") {
        state.results[String(mutation.args.application_id)] = { status: result.status, code: result.code || null };
        void storage.set("app:results", JSON.stringify(state.results));
      }
    },
  },
});

/** A problem in a sentence for a person. */
export function describe(err) {
  if (err instanceof ProblemError) {
    if (err.status === 0) return "网络不可用，已保存在本机，联网后自动提交";
    return err.problem.detail || err.problem.title || err.type;
  }
  return err && err.message ? err.message : String(err);
}

async function cached(key, load) {
  if (navigator.onLine) {
    try {
      const value = await load();
      await storage.set(key, JSON.stringify(value));
      return value;
    } catch (err) {
      if (!(err instanceof ProblemError) || !err.transient) throw err;
    }
  }
  const held = await storage.get(key);
  return held ? JSON.parse(held) : null;
}

function countPending() {
  const queued = client.sync.pending();
  state.pending = queued.length;
  state.pendingSubmits = queued.filter((m) => m.name === "application.submit").length;
}

// --- sync and the live channel ------------------------------------------------------------------

let live = null;
let round = null;

/** Push what is queued, then pull; quietly does nothing offline (the queue waits). */
export function kick() {
  if (!state.loggedIn) return Promise.resolve();
  if (!navigator.onLine) {
    countPending();
    return Promise.resolve();
  }
  if (round) return round;
  state.syncing = true;
  round = client.sync.syncUntilDone(3)
    .then(() => { state.error = ""; })
    .catch((err) => { state.error = describe(err); })
    .finally(() => {
      round = null;
      state.syncing = false;
      countPending();
      state.version += 1;
    });
  return round;
}

async function startLive() {
  if (live || !navigator.onLine || !state.loggedIn) return;
  // The WebSocket channel where the browser has one, else the event stream (same events).
  const socket = typeof WebSocket === "function";
  const channel = new Live(client.http, socket ? webSocket() : eventSource(), {
    kind: socket ? "socket" : "stream",
    onEvent: (event) => {
      state.live = true;
      state.liveEvents += 1;
      if (event.event === "notification") {
        try {
          const body = JSON.parse(event.data);
          state.flash = body.title || body.body || "有新消息";
        } catch {
          state.flash = "有新消息";
        }
      }
      void kick();
    },
  });
  live = channel;
  try {
    await channel.start();
    state.live = true;
  } catch {
    live = null;
    state.live = false;
  }
}

function stopLive() {
  if (live) live.stop();
  live = null;
  state.live = false;
}

export async function refreshMe() {
  const me = await cached("app:me", () => client.http.call("GET", "/v1/me").then((a) => a.data));
  if (me) state.me = me;
  return me;
}

/**
 * The catalogue, certificate types and what the wallet supplies for each bundle, kept for offline use;
 * fetched again at login, after real-name and when the kept copy is ten minutes old.
 */
export async function refreshCatalogue(force = false) {
  const at = Number((await storage.get("app:catalogue-at")) || 0);
  const fetchNow = navigator.onLine && (force || Date.now() - at > 600000);
  if (fetchNow) await storage.set("app:catalogue-at", String(Date.now()));
  const load = (key, path, options) => (fetchNow
    ? cached(key, () => client.http.call("GET", path, options).then((a) => a.data))
    : storage.get(key).then((t) => (t ? JSON.parse(t) : null)));
  const page = await load("app:bundles", "/v1/bundles", { auth: false, query: { limit: 100 } });
  if (page) state.bundles = page.items;
  const types = await load("app:cert-types", "/v1/certificate-types", { auth: false, query: { limit: 500 } });
  if (types) for (const t of types.items) state.certTypes[t.code] = t;
  if (state.loggedIn) {
    for (const b of state.bundles) {
      try {
        const p = await load(`app:prefill:${b.code}`, `/v1/bundles/${encodeURIComponent(b.code)}/prefill`);
        if (p) state.prefill[b.code] = p;
      } catch {
        // a bundle this person cannot apply for: no prefill
      }
    }
  }
}

async function afterLogin(fresh) {
  state.loggedIn = true;
  await refreshMe().catch(() => null);
  void kick();
  void startLive();
  void refreshCatalogue(fresh).catch(() => null);
}

/**
 * Inside WeChat the app runs in the mini-program's web-view, which cannot call wx.login itself: the host
 * mini-program calls it and opens `/app/?wx_code=CODE`; the app trades the code for a login.
 */
async function wechatHandover() {
  const code = new URLSearchParams(location.search).get("wx_code");
  if (!code) return;
  history.replaceState(null, "", location.pathname + location.hash);
  try {
    await client.auth.wechatLogin(code);
  } catch (err) {
    state.error = describe(err);
  }
}

export const inWechat = /MicroMessenger/i.test(navigator.userAgent);

export async function boot() {
  await client.open();
  await wechatHandover();
  const results = await storage.get("app:results");
  if (results) Object.assign(state.results, JSON.parse(results));
  countPending();
  client.http.onLoggedOut = () => { state.loggedIn = false; stopLive(); };
  if (await client.auth.loggedIn()) await afterLogin(false);
  else void refreshCatalogue().catch(() => null);
  window.addEventListener("online", () => {
    state.online = true;
    void kick();
    void startLive();
    void refreshCatalogue().catch(() => null);
  });
  window.addEventListener("offline", () => {
    state.online = false;
    stopLive();
  });
  setInterval(() => { if (document.visibilityState === "visible") void kick(); }, 30000);
  state.ready = true;
}

// --- actions ------------------------------------------------------------------------------------

export async function sendCode(phone) {
  await client.auth.sendSmsCode(phone);
}

export async function login(phone, code) {
  await client.auth.smsLogin(phone, code);
  await afterLogin(true);
}

export async function logout() {
  stopLive();
  try {
    await client.auth.logout();
  } finally {
    for (const key of await storage.keys("")) await storage.remove(key);
    // This person's device key goes too: another person logging in here makes and registers their own.
    await client.devices.forget().catch(() => null);
    location.hash = "#/";
    location.reload();
  }
}

export function setLargeText(on) {
  state.largeText = on;
  localStorage.setItem(LARGE, on ? "1" : "0");
}

/** The local view of an entity (the server's copy with queued changes laid over). */
export function list(entity) {
  void state.version; // re-read when the copy changes
  return client.sync.list(entity);
}

export function get(entity, id) {
  void state.version;
  return client.sync.get(entity, id);
}

export { countPending };

export async function mutate(name, args) {
  const id = await client.sync.mutate(name, args);
  countPending();
  void kick();
  return id;
}

// --- offline verification -----------------------------------------------------------------------

const TRUST = "app:trust";

/** The trust list and status lists, downloaded when online and kept; the root is pinned on first use. */
export async function trustMaterial(force = false) {
  let kept = JSON.parse((await storage.get(TRUST)) || "null");
  if (navigator.onLine && (force || !kept || Date.now() - kept.at > 60000)) {
    const text = async (url) => {
      const r = await fetch(url.startsWith("http") ? url : location.origin + url, { cache: "no-store" });
      if (!r.ok) throw new Error(`${url}: ${r.status}`);
      return r.text();
    };
    const root = kept ? kept.root : (await text("/v1/root-certificate")).replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const trustJws = await text("/v1/trust-list");
    const trust = await parseTrustList(trustJws, base64Decode(root));
    const lists = {};
    for (const [id, url] of trust.statusLists) lists[id] = await text(url);
    kept = { root, trustJws, lists, at: Date.now() };
    await storage.set(TRUST, JSON.stringify(kept));
  }
  if (!kept) return null;
  const trust = await parseTrustList(kept.trustJws, base64Decode(kept.root));
  const lists = new Map();
  for (const id of Object.keys(kept.lists)) lists.set(Number(id), await parseStatusList(kept.lists[id], trust));
  return { trust, lists, at: kept.at };
}

/** Verifies a scanned QR (a bare ZB1:/ZB2: token or a /V/ link) with the SDK's offline verifier; `nonce` the
 * bytes this verifier showed first, if it did. */
export async function verify(scanned, nonce) {
  const material = await trustMaterial(navigator.onLine);
  if (!material) throw new Error("首次核验需要联网下载信任列表");
  const verdict = await verifyToken(scanned.trim(), material.trust, material.lists, { nonce: nonce || undefined });
  const c = verdict.certificate;
  // The issuer's name as the trust list gives it for the credit code the token carries.
  const seal = c && material.trust.seals.find((s) => s.creditCode === c.issuer_credit_code);
  return { verdict, at: material.at, issuer: (c && c.issuer_name) || (seal && seal.departmentName) || (c && c.issuer_credit_code) };
}

// --- 亮证 offline (ZB2:) ------------------------------------------------------------------------

/** A verifier's nonce as shown under its QR code (`ZBN:` + base64url of 16 bytes), and read back. */
export const NONCE_PREFIX = "ZBN:";
export function newNonce() {
  return crypto.getRandomValues(new Uint8Array(16));
}
export function nonceText(bytes) {
  return NONCE_PREFIX + base64urlEncode(bytes);
}
export function readNonce(text) {
  const t = (text || "").trim().replace(/^ZBN:/i, "");
  if (!t) return null;
  const bytes = /^[A-Za-z0-9_-]{22}$/.test(t) ? base64Decode(t) : null;
  if (!bytes || bytes.length !== 16) throw new Error("核验方随机码不正确");
  return bytes;
}

/** Registers this device's key (after a recent L3 proof); its presentation credentials then come by sync. */
export async function enableOffline() {
  const label = /Mobile|Android|iPhone/.test(navigator.userAgent) ? "手机浏览器" : "浏览器";
  try {
    await client.devices.register(label);
  } catch (err) {
    if (!(err instanceof ProblemError) || err.type !== "device_key_registered") throw err;
    // This key was registered before: fine while that device is active; once revoked, a new key is made.
    const mine = (await client.devices.list()).find((d) => d.this_device);
    if (!mine || mine.status !== "active") {
      await client.devices.forget();
      await client.devices.register(label);
    }
  }
  await kick();
}

/** The synced presentation credential of a wallet item for this device, or null. */
export function offlineCredential(itemId) {
  void state.version;
  return client.devices.credentialFor(client.sync, itemId);
}

/**
 * A ZB2: presentation of the chosen fields (text keys of the item's type), made here with no network;
 * the QR code's URL as FORMATS.md builds it (QR_BASE + "/V/" + the token, escaped).
 */
export async function presentOffline(itemId, keys, nonce) {
  const credential = await offlineCredential(itemId);
  if (!credential) throw new Error("本机还没有这张证照的离线亮证凭据，请联网同步");
  const material = await trustMaterial();
  const type = material && material.trust.types.get(credential.typeCode);
  if (!type) throw new Error("首次离线亮证需要联网下载信任列表");
  const fields = keys.map((k) => (type.fields.find((f) => f.key === k) || {}).n).filter((n) => n !== undefined);
  const now = Math.floor(Date.now() / 1000);
  const token = await makePresentation(credential, await client.devices.key(), { fields, nonce: nonce || undefined, now });
  const url = `${location.origin.toUpperCase()}/V/${token.replace(/%/g, "%25").replace(/ /g, "%20").replace(/\//g, "%2F")}`;
  return { token, url, expires: (now + 300) * 1000 };
}
