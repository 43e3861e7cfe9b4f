/** The live channel over `wx.connectSocket` (mini-programs have no EventSource). */
import type { LiveConnector } from "../core/platform.js";
import type { Wx } from "./wx-types.js";
import { parseSocketMessage } from "../core/live.js";

export function wxSocket(wx: Wx): LiveConnector {
  return (url, handlers) => {
    const task = wx.connectSocket({ url: url.replace(/^http/, "ws") });
    let closed = false;
    const close = (reason: string) => {
      if (!closed) {
        closed = true;
        handlers.onClose(reason);
      }
    };
    task.onMessage((msg) => {
      const event = parseSocketMessage(typeof msg.data === "string" ? msg.data : "");
      if (event) handlers.onEvent(event);
    });
    task.onClose((res) => close(`closed ${res.code} ${res.reason || ""}`.trim()));
    task.onError((err) => close(err.errMsg));
    return { close: () => task.close({ code: 1000 }) };
  };
}
