// Hash routes (#/wallet, #/item/<id>): the server serves one page, and a reload offline keeps the screen.
import { ref } from "vue";

function parse(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "home", params: parts.slice(1) };
}

export const route = ref(parse(location.hash));
window.addEventListener("hashchange", () => {
  route.value = parse(location.hash);
  window.scrollTo(0, 0);
});

export function go(...parts) {
  location.hash = "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}
