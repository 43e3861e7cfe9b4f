/**
 * Typed calls generated from the server's OpenAPI document (`src/generated/openapi.ts`, made by
 * openapi-typescript; a test checks it is current): bodies, answers and parameters are the
 * server's own types. `call` reaches any operation; the named groups cover the everyday ones.
 */
import type { paths } from "../generated/openapi.js";
import type { HttpCore, Query } from "./http.js";

type Method = "get" | "post" | "put" | "delete" | "patch";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : null;
type Responses<O> = O extends { responses: infer R } ? R : never;
/** The body of the operation's success answer (200, else 201, else nothing). */
export type Answer<O> = Responses<O> extends { 200: infer A } ? JsonOf<A> : Responses<O> extends { 201: infer A } ? JsonOf<A> : null;
/** The operation's JSON request body. */
export type Body<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? B | undefined
    : undefined;
type Params<O> = O extends { parameters: { query?: infer Q; path?: infer P } } ? { query?: Q; path?: P } : { query?: undefined; path?: undefined };

export type CallArgs<O> = Params<O> & { body?: Body<O>; headers?: Record<string, string> };

export class Api {
  private readonly http: HttpCore;
  constructor(http: HttpCore) {
    this.http = http;
  }

  /** Any operation: `api.call("/v1/wallet/items/{item_id}", "get", { path: { item_id } })`. */
  async call<P extends keyof paths, M extends Method>(path: P, method: M, args: CallArgs<Operation<P, M>> = {} as CallArgs<Operation<P, M>>): Promise<Answer<Operation<P, M>>> {
    const a = args as { query?: Query; path?: Record<string, string>; body?: unknown; headers?: Record<string, string> };
    const url = String(path).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String((a.path || {})[name])));
    const answer = await this.http.call<Answer<Operation<P, M>>>(method.toUpperCase() as "GET", url, { query: a.query, body: a.body, headers: a.headers });
    return answer.data;
  }

  readonly wallet = {
    items: (query?: CallArgs<Operation<"/v1/wallet/items", "get">>["query"]) => this.call("/v1/wallet/items", "get", { query }),
    item: (item_id: string) => this.call("/v1/wallet/items/{item_id}", "get", { path: { item_id } }),
    /** 亮证: a presentation token (`qr`) disclosing only `fields`, valid at most 300 s. */
    present: (item_id: string, body: Body<Operation<"/v1/wallet/items/{item_id}/present", "post">>) =>
      this.call("/v1/wallet/items/{item_id}/present", "post", { path: { item_id }, body }),
  };

  readonly applications = {
    list: (query?: CallArgs<Operation<"/v1/applications", "get">>["query"]) => this.call("/v1/applications", "get", { query }),
    get: (application_id: string) => this.call("/v1/applications/{application_id}", "get", { path: { application_id } }),
  };

  readonly notifications = {
    list: (query?: CallArgs<Operation<"/v1/notifications", "get">>["query"]) => this.call("/v1/notifications", "get", { query }),
    unread: () => this.call("/v1/notifications/unread-count", "get"),
    read: (notification_id: string) => this.call("/v1/notifications/{notification_id}/read", "post", { path: { notification_id } }),
  };

  readonly logins = {
    /**
     * 不是本人操作: ends a login bound to your identity that you did not make — the `data.login_id` of an
     * `auth.identity_login` inbox item. Its tokens are refused at once and an identity case opens. The
     * login you are using cannot be reported (409 `not_me_own_login`: log out instead).
     */
    notMe: (login_id: string) => this.call("/v1/auth/logins/{login_id}/not-me", "post", { path: { login_id } }),
  };

  readonly consents = {
    list: (query?: CallArgs<Operation<"/v1/wallet/consents", "get">>["query"]) => this.call("/v1/wallet/consents", "get", { query }),
    grant: (body: Body<Operation<"/v1/wallet/consents", "post">>) => this.call("/v1/wallet/consents", "post", { body }),
  };
}
