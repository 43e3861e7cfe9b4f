// A fake `wx` runtime that enforces WeChat's documented limits: storage 1 MB per key and 10 MB in
// all (sizes in UTF-8 bytes of key and value), wx.request's timeout (fail "request:fail timeout"),
// sockets closed when the app goes to the background (as WeChat does after a few seconds).
import { readFile } from "node:fs/promises";
import { WebSocket as NodeWebSocket } from "ws";

// Node 20 has no global WebSocket (22 has): the `ws` package stands in for the platform's socket.
const WebSocket = globalThis.WebSocket || NodeWebSocket;

export const MB = 1024 * 1024;
const bytes = (s) => Buffer.byteLength(s, "utf8");

export function fakeWx({ handler, loginCode, face, files = new Map() } = {}) {
  const storage = new Map();
  const sockets = new Set();
  let total = 0;
  const size = (k, v) => bytes(k) + bytes(v);
  const later = (fn) => setTimeout(fn, 0);
  const wx = {
    storage,
    files,
    sockets,
    requests: 0,
    getStorage({ key, success, fail }) {
      later(() => (storage.has(key) ? success({ data: storage.get(key) }) : fail && fail({ errMsg: "getStorage:fail data not found" })));
    },
    setStorage({ key, data, success, fail }) {
      later(() => {
        if (typeof data !== "string") data = JSON.stringify(data);
        const old = storage.has(key) ? size(key, storage.get(key)) : 0;
        const add = size(key, data);
        if (add > MB) return fail({ errMsg: "setStorage:fail entry size limit reached" });
        if (total - old + add > 10 * MB) return fail({ errMsg: "setStorage:fail exceed storage max size 10MB" });
        storage.set(key, data);
        total += add - old;
        success && success();
      });
    },
    removeStorage({ key, success }) {
      later(() => {
        if (storage.has(key)) total -= size(key, storage.get(key));
        storage.delete(key);
        success && success();
      });
    },
    getStorageInfo({ success }) {
      later(() => success({ keys: [...storage.keys()], currentSize: Math.ceil(total / 1024), limitSize: 10240 }));
    },
    totalBytes: () => total,
    request({ url, method = "GET", header = {}, data, timeout = 60000, success, fail }) {
      wx.requests += 1;
      let done = false;
      const timer = setTimeout(() => {
        if (!done) {
          done = true;
          fail({ errMsg: "request:fail timeout" });
        }
      }, timeout);
      Promise.resolve(handler({ url, method, headers: header, body: data })).then(
        (res) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          success({ statusCode: res.status, header: res.headers, data: res.text });
        },
        (err) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          fail({ errMsg: `request:fail ${err && err.message}` });
        },
      );
    },
    startFacialRecognitionVerify({ verifyId, success, fail }) {
      Promise.resolve(face(verifyId)).then(() => success({ errCode: 0 }), (err) => fail({ errMsg: `startFacialRecognitionVerify:fail ${err.message}` }));
    },
    getRandomValues({ length, success, fail }) {
      if (length > 1024) fail({ errMsg: "getRandomValues:fail length" });
      else Promise.resolve().then(() => success({ randomValues: globalThis.crypto.getRandomValues(new Uint8Array(length)).buffer }));
    },
    login({ success, fail }) {
      Promise.resolve(loginCode()).then((code) => success({ code }), (err) => fail({ errMsg: `login:fail ${err.message}` }));
    },
    uploadFile({ url, filePath, name, header = {}, success, fail }) {
      (async () => {
        const content = files.has(filePath) ? files.get(filePath) : await readFile(filePath);
        const form = new FormData();
        form.append(name, new Blob([content]), filePath.split("/").pop());
        const res = await fetch(url, { method: "POST", headers: header, body: form });
        success({ statusCode: res.status, data: await res.text(), header: Object.fromEntries(res.headers) });
      })().catch((err) => fail({ errMsg: `uploadFile:fail ${err.message}` }));
    },
    connectSocket({ url }) {
      const listeners = { open: [], message: [], close: [], error: [] };
      const ws = new WebSocket(url);
      const task = {
        url,
        onOpen: (cb) => listeners.open.push(cb),
        onMessage: (cb) => listeners.message.push(cb),
        onClose: (cb) => listeners.close.push(cb),
        onError: (cb) => listeners.error.push(cb),
        close: ({ code = 1000, reason = "" } = {}) => {
          task.closeCode = code; // the real socket closes normally; listeners see WeChat's code
          ws.close(1000, reason);
        },
      };
      ws.onopen = () => listeners.open.forEach((cb) => cb());
      ws.onmessage = (m) => listeners.message.forEach((cb) => cb({ data: m.data }));
      ws.onclose = (e) => {
        sockets.delete(task);
        listeners.close.forEach((cb) => cb({ code: task.closeCode || e.code, reason: e.reason }));
      };
      ws.onerror = () => listeners.error.forEach((cb) => cb({ errMsg: "socket error" }));
      sockets.add(task);
      return task;
    },
    /** The app goes to the background: WeChat closes its sockets. */
    background() {
      for (const task of [...sockets]) task.close({ code: 1001, reason: "app in background" });
    },
  };
  return wx;
}

/** A transport handler answering from a function of (method, path, body, headers). */
export function json(status, body, headers = {}) {
  return { status, headers: { "content-type": "application/json", ...headers }, text: body === undefined ? "" : JSON.stringify(body) };
}
