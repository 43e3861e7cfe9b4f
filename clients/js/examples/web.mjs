// 网页：IndexedDB 保存本地副本与待推送队列（刷新页面不丢），WebSocket 接收实时消息（没有 WebSocket 时用
// EventSource）；收到 sync 事件就同步。服务端重启时 WebSocket 以 1012 关闭、事件流以 retry 提示结束，
// SDK 用新票据按退避重连，并带上最后一条通知的 id 续传，期间错过的通知会补发。
import { ZhangbanClient, Live, fetchTransport, fetchUploader, indexedDbStorage, webSocket, eventSource } from "@zhangban/sdk";

// 浏览器里 platform 就是 globalThis；Node 等环境可以传入 fake-indexeddb、ws、eventsource 等实现。
export async function openWebClient(baseUrl, platform = globalThis) {
  const client = new ZhangbanClient({
    baseUrl, transport: fetchTransport(), uploader: fetchUploader(),
    storage: indexedDbStorage("zhangban", platform.indexedDB),
  });
  await client.open(); // 读回上次的副本、游标和队列
  return client;
}

export async function listenLive(client, platform = globalThis, onNotification = () => undefined) {
  const socket = typeof platform.WebSocket === "function";
  const live = new Live(client.http, socket ? webSocket(platform.WebSocket) : eventSource(platform.EventSource), {
    kind: socket ? "socket" : "stream",
    onEvent: (event) => {
      if (event.event === "sync") void client.sync.syncUntilDone(10).catch(() => undefined); // 下次事件再试
      if (event.event === "notification") onNotification(JSON.parse(event.data));
    },
  });
  await live.start(); // 不用时 live.stop()
  return live;
}
