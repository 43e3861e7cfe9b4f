/** The live channel over `EventSource` (Server-Sent Events, `/v1/notifications/stream`). */
import type { LiveConnector } from "../core/platform.js";

export function eventSource(EventSourceImpl: typeof EventSource = EventSource): LiveConnector {
  return (url, handlers) => {
    const source = new EventSourceImpl(url);
    const forward = (name: string) => (msg: MessageEvent) => handlers.onEvent({ event: name, id: msg.lastEventId || null, data: String(msg.data) });
    for (const name of ["notification", "sync", "message"]) source.addEventListener(name, forward(name) as EventListener);
    source.onerror = () => {
      source.close(); // the core reconnects with a new one-time ticket
      handlers.onClose("error");
    };
    return { close: () => source.close() };
  };
}
