import { createApp } from "vue";
import App from "./App.vue";
import "./style.css";
import { boot } from "./zb.js";

createApp(App).mount("#app");
void boot();

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => undefined);
}
