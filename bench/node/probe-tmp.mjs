import { chromium } from "playwright-core";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox","--disable-gpu","--disable-background-networking","--disable-component-update","--disable-sync","--no-first-run"] });
for (let i = 0; i < 5; i++) {
  const ctx = await browser.newContext();
  await ctx.addInitScript(() => {
    const m = window.__m = {};
    for (const f of ["instantiateStreaming", "instantiate", "compileStreaming", "compile"]) {
      const orig = WebAssembly[f];
      WebAssembly[f] = async function (...a) { m[f + "_start"] = performance.now(); const r = await orig.apply(this, a); m[f + "_end"] = performance.now(); return r; };
    }
    const obs = new MutationObserver(() => {
      if (!m.hydrated && document.querySelector('main[data-hydrated="true"]')) m.hydrated = performance.now();
      if (!m.connected && document.querySelector('[data-testid="status"][data-state="connected"]')) m.connected = performance.now();
      if (!m.firstmut) m.firstmut = performance.now();
    });
    obs.observe(document, { subtree: true, childList: true, attributes: true });
    const ws = window.WebSocket;
    window.WebSocket = function (...a) { m.ws_new = performance.now(); const s = new ws(...a); s.addEventListener("open", () => m.ws_open ??= performance.now()); s.addEventListener("message", () => { m.ws_msgs = (m.ws_msgs||[]); if (m.ws_msgs.length < 6) m.ws_msgs.push(Math.round(performance.now())); }); return s; };
    window.WebSocket.prototype = ws.prototype;
  });
  const page = await ctx.newPage();
  await page.goto("http://127.0.0.1:3999/", { waitUntil: "commit" });
  await page.waitForSelector('[data-testid="status"][data-state="connected"]', { timeout: 30000 });
  const r = await page.evaluate(() => ({ m: Object.fromEntries(Object.entries(window.__m).map(([k,v]) => [k, Array.isArray(v)?v:Math.round(v)])), res: performance.getEntriesByType("resource").map(e => [e.name.replace(location.origin, ""), Math.round(e.startTime), Math.round(e.responseEnd)]), dcl: Math.round(performance.getEntriesByType("navigation")[0].domContentLoadedEventStart) }));
  console.log(JSON.stringify(r));
  await ctx.close();
}
await browser.close();
