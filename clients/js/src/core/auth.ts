/** Logging in (WeChat, SMS), logging out, and the real-name (实人认证) steps. */
import type { HttpCore, Tokens } from "./http.js";

export interface Account {
  id: string;
  assurance_level?: string;
  [member: string]: unknown;
}

export interface LoginAnswer extends Tokens {
  expires_in: number;
  account: Account;
  /**
   * Staff whose login still needs its second factor: `totp` — pass a code with `totpVerify`;
   * `totp_enrol` — bind an authenticator first with `totpEnrol`. Until then no staff roles.
   */
  second_factor?: "totp" | "totp_enrol" | null;
}

/** A new authenticator secret, shown once: the `otpauth://` URI and its QR code (an SVG data URL). */
export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

export interface RealnameSession {
  session_id: string;
  verify_id?: string;
  [member: string]: unknown;
}

export interface RealnameStart {
  name: string;
  id_number: string;
  method?: string;
}

/**
 * The face step runs on the platform: a mini-program calls its own verification API with the
 * session's `verify_id` (e.g. `wx.startFacialRecognitionVerify`), so it is passed in as a function.
 */
export type FaceStep = (session: RealnameSession) => Promise<void>;

export class Auth {
  private readonly http: HttpCore;
  constructor(http: HttpCore) {
    this.http = http;
  }

  /** `code` is what `wx.login` gave (the wx adapter's `wxLoginCode()` fetches it). */
  async wechatLogin(code: string): Promise<LoginAnswer> {
    const answer = await this.http.call<LoginAnswer>("POST", "/v1/auth/wechat/login", { auth: false, body: { code } });
    await this.http.setTokens(answer.data);
    return answer.data;
  }

  async sendSmsCode(phone: string): Promise<void> {
    await this.http.call<null>("POST", "/v1/auth/sms/send", { auth: false, body: { phone } });
  }

  async smsLogin(phone: string, code: string): Promise<LoginAnswer> {
    const answer = await this.http.call<LoginAnswer>("POST", "/v1/auth/sms/login", { auth: false, body: { phone, code } });
    await this.http.setTokens(answer.data);
    return answer.data;
  }

  /** Staff: bind an authenticator app to the account (before the first `totpVerify`). */
  async totpEnrol(): Promise<TotpEnrolment> {
    return (await this.http.call<TotpEnrolment>("POST", "/v1/auth/totp/enrol")).data;
  }

  /** Staff: pass this login's second factor with the authenticator's code; the new tokens carry the staff roles. */
  async totpVerify(code: string): Promise<LoginAnswer> {
    const answer = await this.http.call<LoginAnswer>("POST", "/v1/auth/totp/verify", { body: { code } });
    await this.http.setTokens(answer.data);
    return answer.data;
  }

  async loggedIn(): Promise<boolean> {
    return (await this.http.currentTokens()) !== null;
  }

  /** Forces a refresh now (e.g. after the real-name steps raised the account's assurance level). */
  async refresh(): Promise<boolean> {
    const tokens = await this.http.currentTokens();
    return tokens !== null && (await this.http.refresh(tokens)) !== null;
  }

  /** Ends this login on the server (its refresh family) and forgets the tokens here. */
  async logout(): Promise<void> {
    const tokens = await this.http.currentTokens();
    if (tokens) {
      try {
        await this.http.call<null>("POST", "/v1/auth/logout", { auth: false, body: { refresh_token: tokens.refresh_token } });
      } finally {
        await this.http.setTokens(null);
      }
    }
  }

  /**
   * 实人认证: start a session, run the platform's face verification, then ask the server to
   * complete it; afterwards the tokens are refreshed so they carry the new level.
   */
  async realname(person: RealnameStart, face: FaceStep): Promise<Record<string, unknown>> {
    const started = await this.http.call<RealnameSession>("POST", "/v1/auth/realname/sessions", {
      body: { name: person.name, id_number: person.id_number, method: person.method || "wechat_face" },
    });
    await face(started.data);
    const done = await this.http.call<Record<string, unknown>>("POST", `/v1/auth/realname/sessions/${encodeURIComponent(started.data.session_id)}/complete`, { body: {} });
    await this.refresh();
    return done.data;
  }
}
