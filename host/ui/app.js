// The live view's page: one EventSource, a few tables, canvas sparklines.
// Event data is attacker-controlled text (it comes from logs), so it is only
// ever put into the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KEEP_POINTS = 300;
const TAIL_KEEP = 500;

const state = {
  points: [],          // [{t, pipelines: {p: [eps, p50, p99]}, filters: {"p/f": [...]}}]
  tails: {},           // pipeline -> [item]
  anomalies: [],
  newTemplates: [],
  samples: new Map(),  // failure tag -> its latest sample (updates send only new ones)
  shown: {},           // list ("e:PIPELINE", "a", "t") -> highest seq shown
  paused: false,
  source: null,
};

// Whether `item` of `list` is new to the page: each list comes in seq order.
// A hello (a new connection, perhaps to a restarted sidecar that counts
// from 1 again) carries everything and starts the page afresh.
function fresh(list, item) {
  if (item.seq <= (state.shown[list] || 0)) return false;
  state.shown[list] = item.seq;
  return true;
}

function forgetAll() {
  Object.assign(state, { tails: {}, anomalies: [], newTemplates: [], samples: new Map(), shown: {} });
}

// A value as text. Events are the logs' own: a field may hold an object
// where a string is expected ({"toString": 1} makes String() throw).
function shown(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// A value as the tail's `field=value` filter reads it: as String() does
// (a list as its items joined by commas, null as "null"), but never
// throwing.
function filterText(value) {
  try {
    return String(value);
  } catch {
    return JSON.stringify(value);
  }
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = shown(text);
  if (cls) node.className = cls;
  return node;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

function fmt(n, digits) {
  if (n === null || n === undefined) return "–";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Number(n).toFixed(digits ?? 0);
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  return n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB" : (n / 1024).toFixed(0) + " KiB";
}

function get(obj, path) {
  // A Logstash field reference or a dotted path.
  const parts = path.startsWith("[") ? path.slice(1, -1).split("][") : path.split(".");
  return parts.reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

// ---- detail panel ----------------------------------------------------------

function showEvent(title, event) {
  $("detail-title").textContent = title;
  $("detail-json").textContent = JSON.stringify(event, null, 2);
  $("detail").hidden = false;
}

// ---- sparklines --------------------------------------------------------------

function sparkline(canvas, lines) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * ratio) { canvas.width = w * ratio; canvas.height = h * ratio; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  let max = 0;
  for (const line of lines) for (const v of line.values) if (v !== null && v > max) max = v;
  if (max === 0) max = 1;
  for (const line of lines) {
    ctx.strokeStyle = line.color;
    ctx.lineWidth = 1.3;
    ctx.beginPath();
    let started = false;
    // The newest point at the right edge; the first minute fills the width,
    // then the window grows to the points kept (5 minutes).
    const span = Math.max(line.values.length, 60) - 1;
    line.values.forEach((v, i) => {
      const x = w - ((line.values.length - 1 - i) / span) * w;
      if (v === null) { started = false; return; }
      const y = h - 2 - (v / max) * (h - 4);
      if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
    });
    ctx.stroke();
  }
}

// ---- throughput ---------------------------------------------------------------

// Cards for the pipelines loaded now, with a row per filter they have now:
// the sidecar's counters outlive a reload, so a point still names what a
// reload removed, at 0 events/s.
function renderThroughput(overview) {
  const box = $("pipelines");
  const last = state.points[state.points.length - 1];
  if (!last) return;
  const loaded = new Set(overview.pipelines);
  const stages = new Set(overview.modules.map((m) => `${m.pipeline}/${m.filter}`));
  for (const card of [...box.querySelectorAll("[data-pipeline]")]) {
    if (!loaded.has(card.dataset.pipeline)) card.remove();
  }
  for (const row of [...box.querySelectorAll("[data-kind=filters]")]) {
    if (!stages.has(row.dataset.key)) row.remove();
  }
  const names = Object.keys(last.pipelines).filter((name) => loaded.has(name));
  box.dataset.points = state.points.length;
  for (const name of names) {
    let card = box.querySelector(`[data-pipeline="${CSS.escape(name)}"]`);
    if (!card) {
      card = el("div", null, "pipeline");
      card.dataset.pipeline = name;
      box.append(card);
    }
    const filters = Object.keys(last.filters).filter((k) => k.startsWith(name + "/") && stages.has(k));
    const rows = [{ key: name, label: name, kind: "pipelines", cls: "row" }]
      .concat(filters.map((k) => ({ key: k, label: k.slice(name.length + 1), kind: "filters", cls: "row filter" })));
    for (const r of rows) {
      let row = card.querySelector(`[data-key="${CSS.escape(r.key)}"][data-kind="${r.kind}"]`);
      if (!row) {
        row = el("div", null, r.cls);
        row.dataset.key = r.key;
        row.dataset.kind = r.kind;
        const name = el("span", null, "name");
        name.append(el("span", r.label), el("br"), el("small", "", "num total muted"));
        row.append(name, el("span", "", "num eps"), el("canvas", null, "eps-chart"),
          el("span", "", "num lat legend"), el("canvas", null, "lat-chart"));
        card.append(row);
      }
      const series = state.points.map((p) => (p[r.kind][r.key] || [0, null, null]));
      const now = series[series.length - 1];
      row.querySelector(".eps").textContent = fmt(now[0], 1) + " ev/s";
      row.querySelector(".eps").title = `${now[3] ?? 0} events since start`;
      if (r.kind === "pipelines") row.querySelector(".total").textContent = fmt(now[3] ?? 0) + " events";
      const lat = row.querySelector(".lat");
      lat.replaceChildren(el("span", "p50 " + fmt(now[1], 3) + " ms ", "p50"), el("span", "p99 " + fmt(now[2], 3) + " ms", "p99"));
      sparkline(row.querySelector(".eps-chart"), [{ color: "#1d2127", values: series.map((s) => s[0]) }]);
      sparkline(row.querySelector(".lat-chart"), [
        { color: "#1a6fd6", values: series.map((s) => s[1]) },
        { color: "#d9480f", values: series.map((s) => s[2]) },
      ]);
    }
  }
}

// ---- failures, anomalies, templates --------------------------------------------

function renderFailures(failures, hostTotals) {
  const body = $("failures").tBodies[0];
  body.replaceChildren();
  const tags = new Map(failures.map((f) => [f.tag, f]));
  for (const tag of Object.keys(hostTotals || {})) if (!tags.has(tag)) tags.set(tag, { tag, sampled: 0, samples: [] });
  for (const f of tags.values()) {
    if (f.samples.length) state.samples.set(f.tag, f.samples[f.samples.length - 1]);
    const latest = state.samples.get(f.tag);
    const row = el("tr", null, latest ? "click" : "");
    const tagCell = el("td");
    tagCell.append(el("span", f.tag, "tag"));
    const sample = latest ? (latest.event.message ?? JSON.stringify(latest.event)) : "";
    const total = hostTotals && Object.hasOwn(hostTotals, f.tag) ? hostTotals[f.tag] : "–";
    row.append(tagCell, el("td", f.sampled, "num"), el("td", total, "num"),
      el("td", latest ? `${time(latest.t)} ${latest.pipeline}: ${shown(sample).slice(0, 160)}` : "", "mono"));
    if (latest) row.addEventListener("click", () => showEvent(`${f.tag} (${latest.pipeline})`, latest.event));
    body.append(row);
  }
  $("failures-empty").hidden = tags.size > 0;
}

function addAnomalies(items) {
  for (const item of items) {
    if (!fresh("a", item)) continue;
    state.anomalies.unshift(item);
  }
  state.anomalies.length = Math.min(state.anomalies.length, 100);
  const body = $("anomalies").tBodies[0];
  body.replaceChildren();
  for (const item of state.anomalies) {
    const a = get(item.event, "wasmstash.anomaly") || {};
    const row = el("tr", null, "click anomaly");
    const score = typeof a.score === "number" ? a.score.toFixed(2) : a.score;
    row.append(el("td", time(item.t)), el("td", item.pipeline), el("td", a.key ?? "–", "mono"),
      el("td", [].concat(a.detectors ?? []).map(shown).join(", ")), el("td", score ?? "–", "score"),
      el("td", a.reason ?? ""));
    row.addEventListener("click", () => showEvent(`anomaly: ${shown(a.key)}`, item.event));
    body.append(row);
  }
  $("anomalies-empty").hidden = state.anomalies.length > 0;
}

function renderTemplates(templates) {
  $("templates-distinct").textContent = templates.distinct ? `${templates.distinct} distinct in the sample` : "";
  const top = $("top-templates").tBodies[0];
  top.replaceChildren();
  for (const t of templates.top) {
    const row = el("tr");
    row.append(el("td", t.count, "num"), el("td", t.text, "mono"));
    top.append(row);
  }
  for (const item of templates.new) {
    if (!fresh("t", item)) continue;
    state.newTemplates.unshift(item);
  }
  state.newTemplates.length = Math.min(state.newTemplates.length, 50);
  const body = $("new-templates").tBodies[0];
  body.replaceChildren();
  for (const item of state.newTemplates) {
    const row = el("tr", null, "click");
    row.append(el("td", time(item.t)), el("td", get(item.event, "wasmstash.template.text") ?? "", "mono"));
    row.addEventListener("click", () => showEvent("new template", item.event));
    body.append(row);
  }
}

function renderOverview(o) {
  const body = $("modules").tBodies[0];
  body.replaceChildren();
  for (const m of o.modules) {
    const row = el("tr");
    const hash = el("td", m.sha256.slice(0, 16) + "…", "mono");
    hash.title = m.sha256;
    row.append(el("td", m.pipeline), el("td", m.filter), hash, el("td", m.abi), el("td", bytes(m.memory_bytes)), el("td", m.workers));
    body.append(row);
  }
  const loaded = o.loaded_at ? `Pipelines loaded ${time(o.loaded_at)}. ` : "";
  const r = o.reload;
  $("reload").textContent = loaded + (r ? `Last reload ${time(r.t)} (${r.why}): ${r.ok ? "ok" : "rejected"}, ${r.message}` : "No reload since start.");
  const counters = $("counters");
  counters.replaceChildren();
  if (o.counters.length) {
    counters.append(el("h3", "Filters' own counters"));
    const list = el("p", o.counters.map((c) => `${c.pipeline}/${c.filter} ${c.name} = ${c.value}`).join(" · "), "mono");
    counters.append(list);
  }
  const select = $("tail-pipeline");
  for (const p of o.pipelines) {
    if (![...select.options].some((opt) => opt.value === p)) select.append(new Option(p, p));
  }
  // A pipeline a reload removed leaves the list, unless it is the one shown.
  for (const opt of [...select.options]) {
    if (!o.pipelines.includes(opt.value) && opt.value !== select.value) opt.remove();
  }
}

// ---- live tail --------------------------------------------------------------------

function matches(item, filter) {
  if (!filter) return true;
  if (filter.startsWith("tag:")) {
    const tags = item.event.tags;
    const want = filter.slice(4).trim();
    return Array.isArray(tags) ? tags.includes(want) : tags === want;
  }
  const eq = filter.indexOf("=");
  if (eq > 0) {
    const value = get(item.event, filter.slice(0, eq).trim());
    return value !== undefined && filterText(value) === filter.slice(eq + 1).trim();
  }
  return JSON.stringify(item.event).includes(filter);
}

function addTail(tails) {
  for (const [pipeline, items] of Object.entries(tails)) {
    const list = (state.tails[pipeline] ||= []);
    for (const item of items) {
      if (!fresh("e:" + pipeline, item)) continue;
      list.push(item);
    }
    if (list.length > TAIL_KEEP) list.splice(0, list.length - TAIL_KEEP);
  }
  if (!state.paused) renderTail();
}

function renderTail() {
  const pipeline = $("tail-pipeline").value;
  const filter = $("tail-filter").value.trim();
  const items = (state.tails[pipeline] || []).filter((i) => matches(i, filter));
  const list = $("tail");
  list.replaceChildren();
  for (const item of items.slice(-200).reverse()) {
    const li = el("li", `${time(item.t)}  ${JSON.stringify(item.event)}`);
    li.addEventListener("click", () => showEvent(`event (${item.pipeline})`, item.event));
    list.append(li);
  }
  $("tail-count").textContent = `${items.length} of ${(state.tails[pipeline] || []).length} kept` + (state.paused ? " · paused" : "");
}

// ---- the stream -------------------------------------------------------------------

function pushPoint(point) {
  state.points.push(point);
  if (state.points.length > KEEP_POINTS) state.points.splice(0, state.points.length - KEEP_POINTS);
}

// Each panel apart: one that a strange event makes throw must not leave
// the others (and every later frame) undrawn.
function apply(frame) {
  const panels = [
    ["tail", () => addTail(frame.tail)],
    ["failures", () => renderFailures(frame.failures, frame.overview.host_failures)],
    ["anomalies", () => addAnomalies(frame.anomalies)],
    ["templates", () => renderTemplates(frame.templates)],
    ["overview", () => renderOverview(frame.overview)],
    ["throughput", () => renderThroughput(frame.overview)],
  ];
  for (const [name, draw] of panels) {
    try {
      draw();
    } catch (error) {
      console.error(`live view: the ${name} panel was not drawn`, error);
    }
  }
}

function connect() {
  const source = new EventSource("/ui/events");
  state.source = source;
  source.addEventListener("hello", (e) => {
    const frame = JSON.parse(e.data);
    forgetAll();
    state.points = frame.series.slice(-KEEP_POINTS);
    apply(frame);
    const masked = frame.masked.length ? ` · masked: ${frame.masked.join(", ")}` : "";
    $("status").dataset.masked = masked;
    $("status").textContent = "live" + masked;
    $("status").className = "status ok";
  });
  source.addEventListener("update", (e) => {
    const frame = JSON.parse(e.data);
    pushPoint(frame.point);
    apply(frame);
    const calls = frame.calls;
    $("coverage").textContent = calls.seen
      ? `sampled ${calls.sampled} of ${calls.seen} calls (${Math.round((100 * calls.sampled) / calls.seen)}%) · ${frame.overview.viewers} page(s) open`
      : `no calls in the last update · ${frame.overview.viewers} page(s) open`;
    $("status").textContent = `live · ${time(frame.point.t)}` + ($("status").dataset.masked || "");
  });
  source.onerror = () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "status bad";
    // If the session expired, EventSource would retry forever; ask instead.
    fetch("/ui/session").then((r) => {
      if (r.status === 401) { source.close(); start(); return; }
      // A refused stream (503: as many pages are open as the sidecar
      // serves) is closed for good, as EventSource retries no refusal.
      if (source.readyState === EventSource.CLOSED && state.source === source) {
        $("status").textContent = "the sidecar refused the stream (too many pages open?); trying again in 5 s";
        setTimeout(() => { if (state.source === source) connect(); }, 5000);
      }
    });
  };
}

// A page left for another (kept in the browser's back/forward cache) gives
// its stream back, as the sidecar serves only a few at once.
window.addEventListener("pagehide", () => { if (state.source) state.source.close(); });
window.addEventListener("pageshow", (e) => { if (e.persisted) start(); });

async function start() {
  const response = await fetch("/ui/session");
  if (response.ok) {
    const body = await response.json();
    $("logout").hidden = !body.token_required;
    connect();
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (body.login) {
    $("login").showModal();
  } else {
    $("denied").textContent = body.error || `the live view answered ${response.status}`;
    $("denied").hidden = false;
    $("status").textContent = "no access";
    $("status").className = "status bad";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await fetch("/ui/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: $("token").value }),
    });
    if (r.ok) {
      $("token").value = "";
      $("login").close();
      start();
    } else {
      $("login-error").textContent = (await r.json().catch(() => ({}))).error || `login failed (${r.status})`;
    }
  });
  $("logout").addEventListener("click", async () => {
    await fetch("/ui/logout", { method: "POST" });
    if (state.source) state.source.close();
    location.reload();
  });
  $("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
  $("tail-pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("tail-pause").textContent = state.paused ? "resume" : "pause";
    renderTail();
  });
  $("tail-filter").addEventListener("input", renderTail);
  $("tail-pipeline").addEventListener("change", renderTail);
  start();
});
