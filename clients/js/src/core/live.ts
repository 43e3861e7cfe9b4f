/**
 * Live events (notifications, "sync" pokes) over whichever channel the platform has: a one-time
 * ticket per connection, resume by the last notification id, reconnect with backoff. A "sync"
 * event is the cue to pull.
 */
import type { HttpCore } from "./http.js";
import type { Clock, LiveConnection, LiveConnector, LiveEvent } from "./platform.js";
import { systemClock } from "./platform.js";

/** A WebSocket text frame `{"event", "id"?, "data"?}` as a LiveEvent (null when not one). */
export function parseSocketMessage(text: string): LiveEvent | null {
  try {
    const frame = JSON.parse(text) as { event?: unknown; id?: unknown; data?: unknown };
    if (!frame || typeof frame.event !== "string") return null;
    return { event: frame.event, id: typeof frame.id === "string" ? frame.id : null, data: frame.data === undefined ? "" : JSON.stringify(frame.data) };
  } catch {
    return null;
  }
}

export interface LiveOptions {
  /** "socket" (`/v1/notifications/socket`, WebSocket and wx) or "stream" (SSE, EventSource). */
  kind: "socket" | "stream";
  onEvent: (event: LiveEvent) => void;
  clock?: Clock;
}

export class Live {
  private readonly http: HttpCore;
  private readonly connector: LiveConnector;
  private readonly options: LiveOptions;
  private connection: LiveConnection | null = null;
  private stopped = true;
  private lastEventId: string | null = null;
  private failures = 0;

  constructor(http: HttpCore, connector: LiveConnector, options: LiveOptions) {
    this.http = http;
    this.connector = connector;
    this.options = options;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.connection) this.connection.close();
    this.connection = null;
  }

  private async connect(): Promise<void> {
    const ticket = await this.http.call<{ ticket: string }>("POST", "/v1/notifications/stream-tickets", { body: {} });
    const path = this.options.kind === "socket" ? "/v1/notifications/socket" : "/v1/notifications/stream";
    let url = `${this.http.baseUrl}${path}?ticket=${encodeURIComponent(ticket.data.ticket)}`;
    if (this.lastEventId) url += `&last_event_id=${encodeURIComponent(this.lastEventId)}`;
    this.connection = this.connector(url, {
      onEvent: (event) => {
        this.failures = 0;
        if (event.event === "notification" && event.id) this.lastEventId = event.id;
        if (event.event !== "ping") this.options.onEvent(event);
      },
      onClose: () => {
        this.connection = null;
        if (!this.stopped) void this.reconnect();
      },
    });
  }

  private async reconnect(): Promise<void> {
    const clock = this.options.clock || systemClock;
    while (!this.stopped) {
      this.failures += 1;
      await clock.sleep(Math.min(30000, 500 * Math.pow(2, Math.min(this.failures, 6))));
      if (this.stopped) return;
      try {
        await this.connect();
        return;
      } catch {
        // offline: try again later
      }
    }
  }
}
