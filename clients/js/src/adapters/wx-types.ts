/** The parts of the mini-program `wx` API the adapters use (declared here: no typings package needed). */
export interface WxFail {
  errMsg: string;
}

export interface WxRequestOptions {
  url: string;
  method?: string;
  header?: Record<string, string>;
  data?: string;
  timeout?: number;
  dataType?: string;
  responseType?: string;
  success?: (res: { statusCode: number; header: Record<string, string>; data: unknown }) => void;
  fail?: (err: WxFail) => void;
}

export interface WxSocketTask {
  onOpen(cb: () => void): void;
  onMessage(cb: (msg: { data: string | ArrayBuffer }) => void): void;
  onClose(cb: (res: { code: number; reason: string }) => void): void;
  onError(cb: (err: WxFail) => void): void;
  close(options?: { code?: number; reason?: string }): void;
}

export interface Wx {
  request(options: WxRequestOptions): unknown;
  getStorage(options: { key: string; success?: (res: { data: unknown }) => void; fail?: (err: WxFail) => void }): void;
  setStorage(options: { key: string; data: string; success?: () => void; fail?: (err: WxFail) => void }): void;
  removeStorage(options: { key: string; success?: () => void; fail?: (err: WxFail) => void }): void;
  getStorageInfo(options: { success?: (res: { keys: string[]; currentSize: number; limitSize: number }) => void; fail?: (err: WxFail) => void }): void;
  connectSocket(options: { url: string; header?: Record<string, string>; fail?: (err: WxFail) => void }): WxSocketTask;
  uploadFile(options: {
    url: string; filePath: string; name: string; header?: Record<string, string>; formData?: Record<string, string>; timeout?: number;
    success?: (res: { statusCode: number; data: string; header?: Record<string, string> }) => void; fail?: (err: WxFail) => void;
  }): unknown;
  login(options: { success?: (res: { code: string }) => void; fail?: (err: WxFail) => void }): void;
  /** Cryptographically secure random bytes (base library 2.22+). */
  getRandomValues?(options: { length: number; success?: (res: { randomValues: ArrayBuffer }) => void; fail?: (err: WxFail) => void }): void;
}
