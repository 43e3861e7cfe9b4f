// Photos and scans taken offline, kept in IndexedDB as Blobs so they survive a reload. The SDK's blob
// queue refers to each by a path `idb:<key>`; this uploader reads the file back when it is sent.
const DB = "zhangban-files";
let opened = null;

function db() {
  return (opened = opened || new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("files");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  }));
}

async function run(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction("files", mode);
    const req = fn(tx.objectStore("files"));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Keeps a file; answers the path to queue it by. */
export async function keepFile(file) {
  const key = crypto.randomUUID();
  await run("readwrite", (s) => s.put({ blob: file, name: file.name || "photo", type: file.type }, key));
  return `idb:${key}`;
}

export async function readFile(path) {
  if (!path || !path.startsWith("idb:")) return null;
  return (await run("readonly", (s) => s.get(path.slice(4)))) || null;
}

/** The SDK's Uploader for `idb:` paths: multipart POST, the server computes the SHA-256. */
export function idbUploader() {
  return async (request) => {
    const kept = "path" in request.file ? await readFile(request.file.path) : { blob: request.file.blob, name: request.file.name };
    if (!kept) throw new Error(`no kept file ${request.file.path}`);
    const form = new FormData();
    form.append(request.field, kept.blob, kept.name || "file");
    const res = await fetch(request.url, { method: "POST", headers: request.headers, body: form });
    const headers = {};
    res.headers.forEach((value, key) => { headers[key.toLowerCase()] = value; });
    return { status: res.status, headers, text: await res.text() };
  };
}
