// Compiled with `tsc --noEmit` by tests/test_js_sdk.py: the typed calls take and give the server's types.
import { ZhangbanClient, memoryStorage, fetchTransport } from "../src/index.js";

const client = new ZhangbanClient({ baseUrl: "https://api.example.cn", transport: fetchTransport(), storage: memoryStorage() });

export async function usage(): Promise<string[]> {
  const items = await client.api.wallet.items({ kind: "certificate" });
  const shown = await client.api.wallet.present(items.items[0].id, { fields: ["name"], ttl_seconds: 120, png: false });
  const qr: string = shown.qr;
  const unread = await client.api.notifications.unread();
  const reported = await client.api.logins.notMe("0190b5a0-0000-7000-8000-000000000001");
  const ended: number = reported.logins_ended;
  // @ts-expect-error the answer says how many logins ended, not a string
  const wrong: string = reported.logins_ended;
  // @ts-expect-error ttl_seconds is a number
  await client.api.wallet.present("x", { fields: [], ttl_seconds: "120", png: false });
  // @ts-expect-error no such operation
  await client.api.call("/v1/wallet/nothing", "get");
  return [qr, String(unread.unread), String(ended), wrong];
}
