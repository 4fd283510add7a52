// analyzer's audit page: plain DOM, no framework, no build step. Every value from
// Kafka is hostile: it only ever reaches the page as text (textContent, text nodes),
// never as HTML. The bearer token, when the server wants one, is kept for the tab
// (sessionStorage), never in a URL.
"use strict";

const PAGE = 50;
const FOLD = 4000; // characters of a value shown before "Show all"
const TOKEN_KEY = "analyzer-token";
const main = document.getElementById("main");

// ---- DOM, text only

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  main.focus();
}

function failure(error) {
  show(el("p", { class: "error", role: "alert", text: String(error.message || error) }),
    el("p", {}, el("a", { href: "#/", text: "Back to the types" })));
}

// ---- API, with the token

class NeedsToken extends Error {}

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new NeedsToken("This server needs a token.");
  return response;
}

async function json(path) {
  const response = await api(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || "HTTP " + response.status);
  return body;
}

function askToken() {
  const input = el("input", { type: "password", id: "token", autocomplete: "off", "aria-label": "Bearer token" });
  const form = el("form", {
    onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      route();
    },
  }, el("label", { for: "token", text: "Bearer token " }), input, " ", el("button", { type: "submit", text: "Use it" }));
  show(el("h1", { text: "A token is needed" }),
    el("p", { class: "muted", text: "It is kept for this tab only, and sent as an Authorization header." }), form);
  input.focus();
}

// ---- formats

const path = (type) => "/events/" + encodeURIComponent(type);
const link = (type, index) => "#/events/" + encodeURIComponent(type) + (index === undefined ? "" : "/" + index);

// A key as the API and the page's URLs name it: its bytes, percent-encoded.
function keySegment(event) {
  if (event.key !== undefined) return encodeURIComponent(event.key);
  if (event.key_base64 === undefined) return null;
  return Array.from(bytesOf(event.key_base64), (b) => "%" + b.toString(16).padStart(2, "0").toUpperCase()).join("");
}
const keyLink = (segment, from) => "#/keys/" + segment + (from ? "?from=" + from : "");
const keyShown = (named) => (named.key !== undefined ? named.key : "base64: " + named.key_base64);

function utc(ms) {
  return ms === undefined || ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

function bytesOf(base64) {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function textOf(bytes) {
  try { return new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch { return null; }
}

function hexOf(bytes) {
  const lines = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = Array.from(bytes.slice(at, at + 16));
    const hex = row.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(at.toString(16).padStart(8, "0") + "  " + hex.padEnd(47) + "  " + ascii);
  }
  return lines.join("\n");
}

function preview(event) {
  if (event.gone) return "(no longer in Kafka)";
  if (event.tombstone) return "(tombstone: no value)";
  if (event.value !== undefined) return JSON.stringify(event.value);
  const text = textOf(bytesOf(event.value_base64));
  return text === null ? "(" + atob(event.value_base64).length + " bytes, not text)" : text;
}

async function download(url, name) {
  const response = await api(url);
  if (!response.ok) throw new Error("HTTP " + response.status);
  const blob = await response.blob();
  const anchor = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(anchor.href), 10000);
}

// ---- views

const REFRESH_MS = 5000;
let refresher = null;

// A sparkline of each listed type's activity (the most frequent SPARK_TYPES),
// over the span all types share, so that rows compare: from /histogram.
const SPARK_BARS = 24, SPARK_TYPES = 50;

function sharedSpan(status) {
  const all = [...Object.values(status.types), status.unclassified].filter((t) => t.first && t.last);
  if (!all.length) return null;
  return { from: Math.min(...all.map((t) => t.first.clock_ms)), to: Math.max(...all.map((t) => t.last.clock_ms)) + 1 };
}

function sparkline(type, span) {
  const cell = el("td", { class: "hide-narrow spark-cell" });
  if (!span) return cell;
  json(path(type) + "/histogram?buckets=" + SPARK_BARS + "&from=" + span.from + "&to=" + span.to).then((h) => {
    const max = Math.max(1, ...h.counts), height = 16;
    const peak = h.counts.indexOf(Math.max(...h.counts));
    const chart = svg("svg", {
      viewBox: "0 0 " + h.counts.length + " " + height, preserveAspectRatio: "none", class: "spark", role: "img",
      "aria-label": type + ": at most " + h.counts[peak].toLocaleString("en") + " events in a span of " + duration(h.bucket_ms) + ", around " + utc(h.from + peak * h.bucket_ms),
    }, ...h.counts.map((count, i) => {
      const tall = count ? Math.max(1, (count / max) * height) : 0;
      return svg("rect", { x: i + 0.1, y: height - tall, width: 0.8, height: tall, "data-count": count });
    }));
    cell.replaceChildren(chart);
  }).catch(() => { /* no sparkline: the counts still show */ });
  return cell;
}

function typeRows(status) {
  const span = sharedSpan(status);
  const types = Object.entries(status.types).sort((a, b) => b[1].count - a[1].count);
  const rows = types.map(([name, t], i) => el("tr", {},
    el("td", {}, el("a", { href: link(name), text: name })),
    el("td", { class: "num", text: t.count.toLocaleString("en") }),
    el("td", { class: "num hide-narrow", text: t.settled.toLocaleString("en") }),
    i < SPARK_TYPES ? sparkline(name, span) : el("td", { class: "hide-narrow" })));
  rows.push(el("tr", {},
    el("td", {}, el("a", { href: link("unclassified"), text: "unclassified" })),
    el("td", { class: "num", text: status.unclassified.count.toLocaleString("en") }),
    el("td", { class: "num hide-narrow", text: status.unclassified.settled.toLocaleString("en") }),
    sparkline("unclassified", span)));
  return rows;
}

// Live counts: the types table is refreshed in place (focus stays where it is)
// while the overview is on screen.
function refreshTypes() {
  clearInterval(refresher);
  refresher = setInterval(async () => {
    const body = document.getElementById("types");
    if (!body || (location.hash && location.hash !== "#/")) return clearInterval(refresher);
    try { body.replaceChildren(...typeRows(await json("/status?types=all"))); } catch { /* next time */ }
  }, REFRESH_MS);
}

async function overview() {
  const status = await json("/status?types=all");
  const rows = typeRows(status);
  const reasons = Object.entries(status.unclassified.by_reason).filter(([, n]) => n > 0)
    .map(([reason, n]) => el("tr", {}, el("td", { text: reason }), el("td", { class: "num", text: n.toLocaleString("en") })));
  const partitions = status.partitions.map((p) => el("tr", p.error ? { class: "stalled" } : {},
    el("td", { text: p.topic + "/" + p.partition }),
    el("td", { class: "num", text: p.lag === null || p.lag === undefined ? "?" : String(p.lag) }),
    el("td", { text: p.error ? "stalled" : p.caught_up ? "caught up" : "reading" })));
  // What keeps ingest from reading, as Kafka said it (text only: hostile too).
  const problems = status.partitions.filter((p) => p.error)
    .map((p) => [p.topic + "/" + p.partition, p.error]);
  if (status.kafka.error) problems.unshift(["kafka", status.kafka.error]);
  const problemList = problems.map(([what, e]) => el("li", {},
    el("strong", { text: what + " cannot be read (" + e.reason + ")" }),
    el("span", { text: ": " + e.message + " (since " + e.since + ")" })));
  const cache = status.cache;
  const keyInput = el("input", { id: "key-search", placeholder: "a key, like p-0017", "aria-label": "Key" });
  const keySearch = status.keys ? el("form", {
    class: "toolbar", role: "search",
    onsubmit: (e) => { e.preventDefault(); if (keyInput.value !== "") location.hash = keyLink(encodeURIComponent(keyInput.value)); },
  }, el("label", { for: "key-search", text: "History of a key " }), keyInput, el("button", { type: "submit", text: "Show" }),
  el("span", { class: "muted", text: status.keys.keys.toLocaleString("en") + " keys indexed" })) : "";
  show(
    el("h1", { text: "Types" }),
    keySearch,
    el("div", { class: "panels" },
      el("section", { class: "panel", "aria-label": "Types" },
        el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "type" }), el("th", { class: "num", text: "events" }),
          el("th", { class: "num hide-narrow", text: "settled" }), el("th", { class: "hide-narrow", text: "activity" }))),
        el("tbody", { id: "types" }, ...rows)),
        status.types_left_out ? el("p", { class: "muted", text: status.types_left_out + " more types not listed" }) : ""),
      el("section", { class: "panel", "aria-label": "Operator" },
        el("h2", { text: "Operator" }),
        problems.length ? el("ul", { class: "problems", id: "problems", role: "alert" }, ...problemList) : "",
        el("dl", { class: "facts" },
          el("dt", { text: "ready" }), el("dd", { id: "ready", text: String(status.ready) }),
          el("dt", { text: "kafka" }), el("dd", { text: status.kafka.connection }),
          el("dt", { text: "watermark" }), el("dd", { text: utc(status.order.watermark_ms) }),
          el("dt", { text: "tentative" }), el("dd", { text: String(status.order.tentative) }),
          el("dt", { text: "cache" }), el("dd", { text: `${(cache.bytes / 1048576).toFixed(1)} of ${(cache.max_bytes / 1048576).toFixed(0)} MiB, ${cache.hits} hits, ${cache.misses} misses` }),
          el("dt", { text: "version" }), el("dd", { text: status.version })),
        el("h2", { text: "Lag per partition" }),
        el("table", {}, el("tbody", {}, ...partitions)),
        reasons.length ? el("h2", { text: "Unclassified by reason" }) : "",
        reasons.length ? el("table", {}, el("tbody", {}, ...reasons)) : "")));
  refreshTypes();
}

// ---- the timeline: a type's events counted over time, drawn from /histogram

const BARS = 60;

// A bar chart of `type`'s events over [from, to) (the whole span when absent):
// click a bar to list the type from that time; drag over bars to zoom in.
function timeline(type, span) {
  const figure = el("figure", { id: "timeline", class: "timeline" });
  const query = "?buckets=" + BARS + (span ? "&from=" + span.from + "&to=" + span.to : "");
  json(path(type) + "/histogram" + query).then((h) => drawTimeline(figure, type, h, span)).catch((error) => {
    figure.replaceChildren(el("p", { class: "muted", text: "No timeline: " + String(error.message || error) }));
  });
  return figure;
}

function drawTimeline(figure, type, h, span) {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...h.counts);
  const width = 10, height = 60;
  const chart = svg("svg", {
    viewBox: "0 0 " + h.counts.length * width + " " + height, preserveAspectRatio: "none",
    class: "bars", role: "img", "aria-label": type + ": " + total + " events over time",
  });
  let dragFrom = null;
  const open = async (start) => {
    try {
      const response = await api(path(type) + "?time=" + start);
      if (!response.ok) throw new Error((await response.json()).message);
      location.hash = link(type) + "?from=" + response.headers.get("X-Index");
    } catch (error) { failure(error); }
  };
  h.counts.forEach((count, i) => {
    const start = h.from + i * h.bucket_ms;
    const end = Math.min(h.to, start + h.bucket_ms);
    const tall = count ? Math.max(1.5, (count / max) * (height - 2)) : 0;
    const settledTall = count ? tall * (count - h.tentative[i]) / count : 0;
    const bar = svg("g", {
      class: "bar", "data-count": count, "data-from": start, tabindex: "0",
      onpointerdown: () => { dragFrom = i; },
      onpointerup: () => {
        if (dragFrom !== null && dragFrom !== i) {
          const [a, b] = [Math.min(dragFrom, i), Math.max(dragFrom, i)];
          figure.replaceWith(timeline(type, { from: h.from + a * h.bucket_ms, to: Math.min(h.to, h.from + (b + 1) * h.bucket_ms) }));
        } else if (count) open(start);
        dragFrom = null;
      },
      onkeydown: (e) => { if (e.key === "Enter" && count) open(start); },
    },
    svg("title", { text: count.toLocaleString("en") + " events, " + utc(start) + " to " + utc(end) + (h.tentative[i] ? " (" + h.tentative[i] + " tentative)" : "") }),
    svg("rect", { class: "hit", x: i * width, y: 0, width, height }),
    svg("rect", { class: "tentative", x: i * width + 1, y: height - tall, width: width - 2, height: tall - settledTall }),
    svg("rect", { class: "settled", x: i * width + 1, y: height - settledTall, width: width - 2, height: settledTall }));
    chart.append(bar);
  });
  const caption = el("figcaption", { class: "muted" },
    el("span", { text: utc(h.from) }),
    el("span", { text: total.toLocaleString("en") + " events in " + h.counts.length + " spans of " + duration(h.bucket_ms) + "; click a bar to list from there, drag to zoom" }),
    el("span", { text: utc(h.to) }));
  const reset = span ? el("button", { type: "button", text: "Whole span", onclick: () => figure.replaceWith(timeline(type)) }) : "";
  figure.replaceChildren(chart, caption, reset);
}

function duration(ms) {
  const units = [["d", 86400000], ["h", 3600000], ["min", 60000], ["s", 1000]];
  for (const [unit, size] of units) if (ms >= size) return (ms / size).toLocaleString("en", { maximumFractionDigits: 1 }) + " " + unit;
  return ms + " ms";
}

function navButton(label, from, type, enabled) {
  return el("button", {
    type: "button", text: label,
    ...(enabled ? {} : { disabled: "" }),
    onclick: () => { location.hash = link(type) + "?from=" + from; },
  });
}

// A row of a type's events (a page, or followed): opens the event when chosen.
function eventRow(type, event, note) {
  const row = el("tr", { class: "event", tabindex: "0" },
    el("td", { class: "num" }, el("a", { href: link(type, event.index), text: String(event.index) })),
    el("td", { class: "hide-narrow", text: utc(event.timestamp) }),
    el("td", { class: "hide-narrow", text: event.topic + "/" + event.partition + "@" + event.offset + note }),
    el("td", { class: "preview", text: preview(event).slice(0, 200) }));
  const open = () => { location.hash = link(type, event.index); };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return row;
}

async function list(type, from) {
  const page = await json(path(type) + "/range?from=" + from + "&limit=" + PAGE);
  const last = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE);
  const rows = page.events.map((event) => eventRow(type, event, ""));
  const goIndex = el("input", { id: "go-index", inputmode: "numeric", placeholder: "index", "aria-label": "Index" });
  const goTime = el("input", { id: "go-time", placeholder: "2026-11-30T10:00:00Z", "aria-label": "Time (RFC 3339 or epoch ms)" });
  const end = from + page.events.length;
  show(
    el("h1", { text: type + " — " + page.total.toLocaleString("en") + " events" }),
    el("div", { class: "toolbar" },
      navButton("First", 0, type, from > 0),
      navButton("Previous", Math.max(0, from - PAGE), type, from > 0),
      navButton("Next", from + PAGE, type, end < page.total),
      navButton("Last", last, type, from < last),
      el("form", { onsubmit: (e) => { e.preventDefault(); const n = goIndex.value.trim(); if (/^\d+$/.test(n)) location.hash = link(type, n); } },
        goIndex, el("button", { type: "submit", text: "Open index" })),
      el("form", {
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const response = await api(path(type) + "?time=" + encodeURIComponent(goTime.value.trim()));
            if (!response.ok) throw new Error((await response.json()).message);
            location.hash = link(type, response.headers.get("X-Index"));
          } catch (error) { failure(error); }
        },
      }, goTime, el("button", { type: "submit", text: "Go to time" })),
      el("button", { type: "button", text: "Export page", onclick: () => download(path(type) + "/export?from=" + from + "&to=" + end, type + "-" + from + "-" + end + ".ndjson").catch(failure) }),
      el("button", { type: "button", text: "Export all", onclick: () => download(path(type) + "/export", type + ".ndjson").catch(failure) })),
    timeline(type),
    follow(type),
    el("p", { class: "muted", text: page.total ? "Events " + from + " to " + (end - 1) : "No events." }),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { class: "num", text: "index" }), el("th", { class: "hide-narrow", text: "time" }),
        el("th", { class: "hide-narrow", text: "position" }), el("th", { text: "value" }))),
      el("tbody", { id: "events" }, ...rows))));
}

// ---- Follow: new events as they are indexed, from the live tail (SSE over fetch,
// so that the token goes in a header; EventSource cannot set one). Paused, events
// keep arriving and wait; resumed, they show. Leaving the view ends the stream.

const FOLLOW_SHOWN = 200;
let following = null;

function follow(type) {
  if (following) following.abort();
  const rows = el("tbody", { id: "followed" });
  const note = el("span", { class: "muted", id: "follow-note", text: "" });
  const waiting = [];
  let paused = false;
  const showRow = (event) => {
    rows.prepend(eventRow(type, event, event.settled ? "" : " (tentative)"));
    while (rows.children.length > FOLLOW_SHOWN) rows.lastChild.remove();
  };
  const flush = () => { while (waiting.length) showRow(waiting.shift()); note.textContent = ""; };
  const toggle = el("button", { type: "button", id: "follow", "aria-pressed": "false", text: "Follow" });
  const pause = el("button", { type: "button", id: "follow-pause", hidden: "", text: "Pause" });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) flush();
  });
  toggle.addEventListener("click", () => {
    if (following) { following.abort(); following = null; toggle.setAttribute("aria-pressed", "false"); pause.hidden = true; return; }
    const controller = new AbortController();
    following = controller;
    toggle.setAttribute("aria-pressed", "true");
    pause.hidden = false;
    stream(path(type) + "/stream", controller.signal, (event) => {
      if (paused) { waiting.push(event); note.textContent = waiting.length + " new, paused"; } else showRow(event);
    }).catch((error) => { if (!controller.signal.aborted) note.textContent = "Follow stopped: " + String(error.message || error); });
  });
  window.addEventListener("hashchange", () => { if (following === null) return; following.abort(); following = null; }, { once: true });
  return el("section", { class: "follow", "aria-label": "Follow" },
    el("div", { class: "toolbar" }, toggle, pause, note),
    el("div", { class: "scroll" }, el("table", {}, rows)));
}

// Reads Server-Sent Events from `url` with the token, calling `onEvent` with each
// message's data (a /range item) until `signal` aborts or the server ends it.
async function stream(url, signal, onEvent) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(url, { headers, signal });
  if (!response.ok) throw new Error((await response.json()).message);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
      const name = block.split("\n").find((l) => l.startsWith("event: "));
      if (name) throw new Error(JSON.parse(data).message);
      if (data) onEvent(JSON.parse(data));
    }
  }
}

function valueBlock(event) {
  if (event.gone) return el("p", { class: "muted", text: "Kafka no longer has this event (retention or compaction)." });
  const bytes = event.value !== undefined ? new TextEncoder().encode(JSON.stringify(event.value)) : bytesOf(event.value_base64);
  const text = textOf(bytes);
  const views = {};
  if (event.value !== undefined) views.JSON = JSON.stringify(event.value, null, 2);
  if (text !== null) views.Text = text;
  views.Hex = hexOf(bytes);
  const pre = el("pre", { class: "value", id: "value" });
  const more = el("button", { type: "button", text: "Show all" });
  let current = Object.keys(views)[0];
  const render = (all) => {
    const full = views[current];
    pre.textContent = all || full.length <= FOLD ? full : full.slice(0, FOLD) + "\n…";
    more.hidden = all || full.length <= FOLD;
  };
  more.addEventListener("click", () => render(true));
  const buttons = Object.keys(views).map((name) => el("button", {
    type: "button", text: name, "aria-pressed": String(name === current),
    onclick: (e) => { current = name; for (const b of buttons) b.setAttribute("aria-pressed", String(b === e.target)); render(false); },
  }));
  render(false);
  return el("div", {}, el("div", { class: "toolbar" }, ...buttons, more), pre);
}

async function eventView(type, index) {
  const page = await json(path(type) + "/range?from=" + index + "&limit=1");
  const event = page.events[0];
  if (!event) throw new Error(`No event at index ${index}: type '${type}' has ${page.total} events.`);
  const headers = event.headers.map((h) => el("tr", {},
    el("td", { text: h.name }),
    el("td", { text: h.value !== undefined ? h.value : h.value_base64 !== undefined ? "base64: " + h.value_base64 : "(null)" })));
  const segment = keySegment(event);
  const key = el("dd", { id: "key", text: segment === null ? "(none)" : keyShown(event) });
  if (segment !== null) {
    // With the key index on: the key links to its history, with its count.
    json("/keys/" + segment).then((summary) => {
      key.replaceChildren(el("a", { href: keyLink(segment), text: keyShown(event) }),
        el("span", { class: "muted", text: " (" + summary.total.toLocaleString("en") + " events with this key)" }));
    }).catch(() => { /* no key index, or the key left out: the key stays text */ });
  }
  show(
    el("h1", { text: type + " #" + index }),
    el("div", { class: "toolbar" },
      el("button", { type: "button", text: "Previous", ...(index > 0 ? {} : { disabled: "" }), onclick: () => { location.hash = link(type, index - 1); } }),
      el("button", { type: "button", text: "Next", ...(index + 1 < page.total ? {} : { disabled: "" }), onclick: () => { location.hash = link(type, index + 1); } }),
      el("button", { type: "button", text: "Back to the list", onclick: () => { location.hash = link(type) + "?from=" + Math.floor(index / PAGE) * PAGE; } }),
      el("button", { type: "button", text: "Download value", onclick: () => download(path(type) + "?index=" + index, type + "-" + index + ".bin").catch(failure) })),
    el("section", { class: "panel", "aria-label": "Provenance" }, el("dl", { class: "facts", id: "provenance" },
      el("dt", { text: "index" }), el("dd", { text: String(event.index) + (event.settled ? " (settled)" : " (tentative)") }),
      el("dt", { text: "topic" }), el("dd", { text: event.topic }),
      el("dt", { text: "partition" }), el("dd", { text: String(event.partition) }),
      el("dt", { text: "offset" }), el("dd", { text: String(event.offset) }),
      el("dt", { text: "timestamp" }), el("dd", { text: utc(event.timestamp) + (event.timestamp !== undefined ? " (" + event.timestamp + " ms)" : "") }),
      el("dt", { text: "key" }), key,
      ...(event.schema_type === undefined ? [] : [
        el("dt", { text: "schema" }),
        el("dd", { id: "schema", text: [event.schema_type, event.schema, event.schema_id === undefined ? undefined : "(registry id " + event.schema_id + ")"].filter((part) => part !== undefined).join(" ") })]))),
    el("h2", { text: "Headers" }),
    headers.length ? el("div", { class: "scroll" }, el("table", {}, el("tbody", {}, ...headers))) : el("p", { class: "muted", text: "None." }),
    el("h2", { text: "Value" }),
    valueBlock(event));
}

// ---- one key's history, across types

async function keyView(segment, from) {
  const [summary, page] = await Promise.all([json("/keys/" + segment), json("/keys/" + segment + "/events?from=" + from + "&limit=" + PAGE)]);
  const last = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE);
  const end = from + page.events.length;
  const go = (n) => () => { location.hash = keyLink(segment, n); };
  const button = (label, n, enabled) => el("button", { type: "button", text: label, ...(enabled ? {} : { disabled: "" }), onclick: go(n) });
  const rows = page.events.map((event, i) => {
    const row = el("tr", { class: "event", tabindex: "0" },
      el("td", { class: "num", text: String(from + i) }),
      el("td", {}, el("a", { href: link(event.type, event.index), text: event.type })),
      el("td", { class: "num", text: String(event.index) }),
      el("td", { class: "hide-narrow", text: utc(event.timestamp) }),
      el("td", { class: "hide-narrow", text: event.topic + "/" + event.partition + "@" + event.offset }),
      el("td", { class: "preview", text: preview(event).slice(0, 200) }));
    const open = () => { location.hash = link(event.type, event.index); };
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return row;
  });
  const types = Object.entries(summary.types).map(([type, n]) => el("li", {},
    el("a", { href: link(type), text: type }), el("span", { text: ": " + n.toLocaleString("en") })));
  show(
    el("h1", { text: "Key " + keyShown(summary) + " — " + page.total.toLocaleString("en") + " events" }),
    el("ul", { class: "types-of-key", "aria-label": "Events per type" }, ...types),
    el("div", { class: "toolbar" },
      button("First", 0, from > 0), button("Previous", Math.max(0, from - PAGE), from > 0),
      button("Next", from + PAGE, end < page.total), button("Last", last, from < last)),
    el("p", { class: "muted", text: page.total ? "Events " + from + " to " + (end - 1) + " of this key, in the one numbering's order" : "No events." }),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { class: "num", text: "#" }), el("th", { text: "type" }), el("th", { class: "num", text: "index" }),
        el("th", { class: "hide-narrow", text: "time" }), el("th", { class: "hide-narrow", text: "position" }), el("th", { text: "value" }))),
      el("tbody", { id: "key-events" }, ...rows))));
}

// ---- routing: the URL follows what is on screen, so it can go into a ticket

async function route() {
  const hash = location.hash.slice(1) || "/";
  const event = /^\/events\/([^/?]+)\/(\d+)$/.exec(hash);
  const listed = /^\/events\/([^/?]+)(?:\?from=(\d+))?$/.exec(hash);
  const keyed = /^\/keys\/([^/?]+)(?:\?from=(\d+))?$/.exec(hash);
  try {
    if (event) await eventView(decodeURIComponent(event[1]), Number(event[2]));
    else if (keyed) await keyView(keyed[1], Number(keyed[2] || 0));
    else if (listed) await list(decodeURIComponent(listed[1]), Number(listed[2] || 0));
    else if (hash === "/") await overview();
    else throw new Error("No such page: " + hash);
  } catch (error) {
    if (error instanceof NeedsToken) askToken();
    else failure(error);
  }
}

window.addEventListener("hashchange", route);
route();
