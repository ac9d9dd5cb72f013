// Front-end figures for a running Palaver: asset sizes, bytes a first visit transfers, server
// render time, and time until the page is hydrated and connected. One JSON object on stdout;
// progress goes to stderr.
//
//   node frontend.mjs --url http://127.0.0.1:PORT [--pkg DIR] [--runs N] [--ssr-requests N]
//                     [--messages N]
//
// The server must hold at least --messages (default 50) messages in the lobby: the page renders
// the newest 50, and this script refuses to measure a page that does not show them.

import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { parseArgs } from "node:util";
import { constants, brotliCompressSync, gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    pkg: { type: "string", default: "/work/main/target/site/pkg" },
    runs: { type: "string", default: "10" },
    "ssr-requests": { type: "string", default: "50" },
    "ssr-warmup": { type: "string", default: "5" },
    messages: { type: "string", default: "50" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!opts.url) fail("--url http://127.0.0.1:PORT is required");
const url = opts.url.replace(/\/+$/, "") + "/";
const runs = positive("runs");
const ssrRequests = positive("ssr-requests");
const ssrWarmup = Number(opts["ssr-warmup"]);
const expectedMessages = Number(opts.messages);

function positive(name) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer`);
  return n;
}
function fail(message) {
  console.error(`frontend.mjs: ${message}`);
  process.exit(1);
}
const log = (...a) => console.error("[frontend]", ...a);
const round = (x) => Math.round(x * 100) / 100;

// Nearest-rank percentiles, the same for every figure here.
function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { median_ms: round(rank(50)), p95_ms: round(rank(95)), max_ms: round(s.at(-1)), min_ms: round(s[0]) };
}

// --- Bytes of the built assets, as they would be served raw, gzipped, brotli-compressed. ---------
// `total` is what a first visit loads: the wasm, its JS (with the split loader's) and the CSS.
// The chunks that `cargo leptos build --split` cuts off (`split_*.wasm`, and `chunk_*.wasm`
// for code several of them share) load when a panel first opens: counted apart, as `chunks`.
function assetBytes(dir) {
  const kinds = { ".wasm": "wasm", ".js": "js", ".css": "css" };
  const bytes = {};
  const total = { raw: 0, gzip: 0, brotli: 0 };
  // `.d.ts` files end in `.ts`, so they are skipped with everything else.
  for (const file of readdirSync(dir).sort()) {
    let kind = kinds[extname(file)];
    if (!kind) continue;
    if (kind === "wasm" && /^(split|chunk)_/.test(file)) kind = "chunks";
    const data = readFileSync(join(dir, file));
    const sizes = {
      raw: data.length,
      gzip: gzipSync(data, { level: 9 }).length,
      brotli: brotliCompressSync(data, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 11,
          [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          [constants.BROTLI_PARAM_MODE]: kind === "wasm" ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
        },
      }).length,
    };
    const entry = (bytes[kind] ??= { raw: 0, gzip: 0, brotli: 0, files: [] });
    for (const k of ["raw", "gzip", "brotli"]) {
      entry[k] += sizes[k];
      if (kind !== "chunks") total[k] += sizes[k];
    }
    entry.files.push(file);
  }
  for (const kind of ["wasm", "js", "css"]) if (!bytes[kind]) fail(`no .${kind} file in ${dir}`);
  return { ...bytes, total };
}

// --- Server-side render: sequential GET / with fetch (undici). ---------------------------------
async function ssr() {
  const countMessages = (html) => html.split('data-testid="message"').length - 1;
  let html = "";
  const samples = [];
  for (let i = 0; i < ssrWarmup + ssrRequests; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    html = await res.text(); // until the whole body is in: the page streams
    const ms = performance.now() - t0;
    if (!res.ok) fail(`GET ${url} answered ${res.status}`);
    if (i >= ssrWarmup) samples.push(ms);
  }
  const messages = countMessages(html);
  if (messages !== expectedMessages) {
    fail(`the server-rendered page shows ${messages} messages (data-testid="message"), expected ${expectedMessages}; seed the lobby first`);
  }
  return { ...summary(samples), requests: ssrRequests, html_bytes: Buffer.byteLength(html), messages };
}

// --- In Chromium: hydrated and connected, and what a first visit transfers. --------------------

// Runs in the page before any of its scripts. A MutationObserver fires in the microtask after the
// DOM change, so the time is exact, not a polling interval late. performance.now() counts from
// the start of the navigation.
function readinessProbe() {
  const marks = {};
  const check = () => {
    const now = performance.now();
    if (marks.hydrated === undefined && document.querySelector('main[data-hydrated="true"]')) marks.hydrated = now;
    if (marks.connected === undefined && document.querySelector('[data-testid="status"][data-state="connected"]')) {
      marks.connected = now;
    }
    if (marks.ready === undefined && marks.hydrated !== undefined && marks.connected !== undefined) {
      marks.ready = now;
      observer.disconnect();
      // Tells the runner through the console, which costs the page nothing (see measureRun).
      console.debug("palaver-bench-ready");
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-hydrated", "data-state"],
  });
  window.__palaverMarks = marks;
}

async function measureRun(browser) {
  const context = await browser.newContext();
  try {
    await context.addInitScript(readinessProbe);
    const page = await context.newPage();
    // Waits on the probe's console message, not with page.waitForFunction: that makes
    // Playwright inject its own script (330 KB) into the page while it loads, about 70 ms of
    // the page's main thread on this machine that no visitor's browser spends.
    const ready = page.waitForEvent("console", {
      predicate: (message) => message.text() === "palaver-bench-ready",
      timeout: 30_000,
    });
    await page.goto(url, { waitUntil: "commit" });
    await ready;
    return await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const paint = performance.getEntriesByName("first-contentful-paint")[0];
      return {
        ready_ms: window.__palaverMarks.ready,
        hydrated_ms: window.__palaverMarks.hydrated,
        connected_ms: window.__palaverMarks.connected,
        html_done_ms: nav.responseEnd,
        dom_content_loaded_ms: nav.domContentLoadedEventEnd,
        fcp_ms: paint?.startTime ?? null,
      };
    });
  } finally {
    await context.close();
  }
}

// One more fresh visit, untimed, recording every response's size and encoding.
async function measureTransfer(browser) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const finished = [];
    const websockets = [];
    page.on("requestfinished", (request) => finished.push(request));
    page.on("websocket", (ws) => websockets.push(new URL(ws.url()).pathname));
    await context.addInitScript(readinessProbe);
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => window.__palaverMarks?.ready !== undefined, null, { timeout: 30_000 });
    await page.waitForLoadState("networkidle");
    const byType = {};
    const encodings = {};
    const resources = [];
    let total = 0;
    let headers = 0;
    for (const request of finished) {
      const response = await request.response();
      const sizes = await request.sizes();
      const type = request.resourceType();
      const path = new URL(request.url()).pathname;
      const encoding = (await response?.headerValue("content-encoding")) ?? "identity";
      byType[type] = (byType[type] ?? 0) + sizes.responseBodySize;
      total += sizes.responseBodySize;
      headers += sizes.responseHeadersSize;
      encodings[path] = encoding;
      resources.push({ path, type, status: response?.status(), encoding, body: sizes.responseBodySize });
    }
    return { total, headers, byType, encodings, requests: resources.length, resources, websockets };
  } finally {
    await context.close();
  }
}

async function browserFigures() {
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const run = await measureRun(browser);
      log(`run ${i + 1}/${runs}: ready ${round(run.ready_ms)} ms`);
      samples.push(run);
    }
    // After the timed runs, so that the first of those is the browser's very first page load.
    const transfer = await measureTransfer(browser);
    const breakdown = {};
    for (const k of ["hydrated_ms", "connected_ms", "html_done_ms", "dom_content_loaded_ms", "fcp_ms"]) {
      const values = samples.map((s) => s[k]).filter((v) => v !== null);
      if (values.length) breakdown[k] = summary(values).median_ms;
    }
    const hydrate = {
      ...summary(samples.map((s) => s.ready_ms)),
      first_ms: round(samples[0].ready_ms),
      median_breakdown: breakdown,
      runs: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v === null ? null : round(v)]))),
    };
    return { transfer, hydrate };
  } finally {
    await browser.close();
  }
}

log(`assets in ${opts.pkg}`);
const bytes = assetBytes(opts.pkg);
log(`SSR: ${ssrWarmup} warm-up + ${ssrRequests} requests to ${url}`);
const ssrFigures = await ssr();
log(`browser: ${runs} cold loads`);
const { transfer, hydrate } = await browserFigures();
console.log(JSON.stringify({ url, bytes, transfer, ssr: ssrFigures, hydrate }, null, 2));
