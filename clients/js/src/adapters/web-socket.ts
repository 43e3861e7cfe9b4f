/** The live channel over a browser WebSocket. */
import type { LiveConnector } from "../core/platform.js";
import { parseSocketMessage } from "../core/live.js";

export function webSocket(WebSocketImpl: typeof WebSocket = WebSocket): LiveConnector {
  return (url, handlers) => {
    const socket = new WebSocketImpl(url.replace(/^http/, "ws"));
    let closed = false;
    socket.onmessage = (msg) => {
      const event = parseSocketMessage(typeof msg.data === "string" ? msg.data : "");
      if (event) handlers.onEvent(event);
    };
    socket.onclose = (ev) => {
      if (!closed) {
        closed = true;
        handlers.onClose(`closed ${ev.code}`);
      }
    };
    return { close: () => socket.close(1000) };
  };
}
