/** The HTTP core: JSON calls, problems, bearer tokens and single-flight refresh. Platform-neutral. */
import type { HttpResponse, KeyValueStore, Transport } from "./platform.js";
import { ProblemError, networkProblem, problemFrom } from "./problem.js";

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** false: no Authorization header (login, public routes). */
  auth?: boolean;
  timeoutMs?: number;
}

export interface Answer<T> {
  status: number;
  headers: Record<string, string>;
  data: T;
}

const TOKENS_KEY = "zb:tokens";

function retryAfterOf(headers: Record<string, string>): number | null {
  const value = headers["retry-after"];
  if (value === undefined) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const parts: string[] = [];
  for (const key of Object.keys(query)) {
    const v = query[key];
    if (v !== undefined && v !== null) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `${path}${path.indexOf("?") >= 0 ? "&" : "?"}${parts.join("&")}` : path;
}

/**
 * Calls the API. Holds the login's tokens (persisted in the store), adds the bearer, and on a 401
 * refreshes once — concurrent 401s share one refresh — then retries the call once.
 */
export class HttpCore {
  readonly baseUrl: string;
  private readonly transport: Transport;
  private readonly store: KeyValueStore;
  private tokens: Tokens | null = null;
  private loaded = false;
  private refreshing: Promise<Tokens | null> | null = null;
  /** Called when the login ended (refresh refused, logout). */
  onLoggedOut: (() => void) | null = null;
  /** How many refreshes were sent (tests and diagnostics). */
  refreshCount = 0;

  constructor(baseUrl: string, transport: Transport, store: KeyValueStore) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.transport = transport;
    this.store = store;
  }

  async currentTokens(): Promise<Tokens | null> {
    if (!this.loaded) {
      const text = await this.store.get(TOKENS_KEY);
      this.tokens = text ? (JSON.parse(text) as Tokens) : null;
      this.loaded = true;
    }
    return this.tokens;
  }

  async setTokens(tokens: Tokens | null): Promise<void> {
    this.tokens = tokens ? { access_token: tokens.access_token, refresh_token: tokens.refresh_token } : null;
    this.loaded = true;
    if (this.tokens) await this.store.set(TOKENS_KEY, JSON.stringify(this.tokens));
    else await this.store.remove(TOKENS_KEY);
  }

  /** One raw exchange: no problem parsing, no refresh. Rejects with a network ProblemError. */
  async send(method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH", path: string, options: CallOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: "application/json", ...(options.headers || {}) };
    if (options.auth !== false) {
      const tokens = await this.currentTokens();
      if (tokens) headers.authorization = `Bearer ${tokens.access_token}`;
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    try {
      return await this.transport({ method, url: this.baseUrl + withQuery(path, options.query), headers, body, timeoutMs: options.timeoutMs });
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      throw networkProblem(err instanceof Error ? err.message : String(err));
    }
  }

  /** A JSON call: 2xx/304 answers, anything else rejects with a ProblemError. Refreshes once on 401. */
  async call<T>(method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH", path: string, options: CallOptions = {}): Promise<Answer<T>> {
    const before = options.auth !== false ? await this.currentTokens() : null;
    let response = await this.send(method, path, options);
    if (response.status === 401 && before) {
      const fresh = await this.refresh(before);
      if (fresh) response = await this.send(method, path, options);
    }
    return this.answer<T>(response);
  }

  answer<T>(response: HttpResponse): Answer<T> {
    let data: unknown = null;
    if (response.text) {
      try {
        data = JSON.parse(response.text);
      } catch {
        data = response.text;
      }
    }
    if ((response.status >= 200 && response.status < 300) || response.status === 304) {
      return { status: response.status, headers: response.headers, data: data as T };
    }
    throw problemFrom(response.status, data, retryAfterOf(response.headers));
  }

  /**
   * Exchanges the refresh token once for every caller that saw a 401 with the same tokens.
   * Answers the new tokens, or null when the login has ended (then tokens are cleared).
   */
  refresh(stale: Tokens): Promise<Tokens | null> {
    if (this.tokens && this.tokens.access_token !== stale.access_token) return Promise.resolve(this.tokens);
    if (this.refreshing) return this.refreshing;
    this.refreshCount += 1;
    this.refreshing = (async () => {
      try {
        const response = await this.send("POST", "/v1/auth/refresh", { auth: false, body: { refresh_token: stale.refresh_token } });
        if (response.status === 200) {
          const pair = JSON.parse(response.text) as Tokens;
          await this.setTokens(pair);
          return this.tokens;
        }
        if (response.status === 400 || response.status === 401 || response.status === 403) {
          await this.setTokens(null);
          if (this.onLoggedOut) this.onLoggedOut();
          return null;
        }
        throw this.answerError(response);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private answerError(response: HttpResponse): ProblemError {
    try {
      this.answer(response);
    } catch (err) {
      if (err instanceof ProblemError) return err;
    }
    return problemFrom(response.status, response.text, retryAfterOf(response.headers));
  }
}

export { retryAfterOf };
