// pgwarden dashboard: live charts from WS /live, findings, tables, recent changes.
// Plain JavaScript and <canvas>; no library, nothing fetched from outside the server.
"use strict";

const KEY = "pgwarden.token";
const WINDOW_SECONDS = 180;
const GAP_SECONDS = 5;
const COLORS = ["#2b6cb0", "#c53030", "#1a7f4b", "#b7791f", "#6b46c1"];
let token = sessionStorage.getItem(KEY);
const live = { samples: 0, last: null, socket: null };
window.pgwardenLive = live;  // read by the browser tests

class AuthError extends Error {}

// A line chart of the last WINDOW_SECONDS of samples; null values leave gaps.
class Chart {
  constructor(id, series, format) {
    this.el = typeof id === "string" ? document.getElementById(id) : id;
    this.canvas = this.el.querySelector("canvas");
    this.now = this.el.querySelector(".now");
    this.series = series;
    this.format = format || ((v) => (v == null ? "–" : String(Math.round(v * 10) / 10)));
    this.points = [];
    this.count = 0;
  }

  push(t, values) {
    this.points.push({ t, values });
    while (this.points.length && this.points[0].t < t - WINDOW_SECONDS) this.points.shift();
    this.count += 1;
    this.el.dataset.samples = String(this.count);
    this.now.textContent = this.format(values[0]);
    this.draw();
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth, height = this.canvas.clientHeight;
    if (!width || !height) return;
    this.canvas.width = width * ratio;
    this.canvas.height = height * ratio;
    const g = this.canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const last = this.points.length ? this.points[this.points.length - 1].t : 0;
    // Few points yet: spread them over the width rather than a dot at the right edge.
    const span = Math.min(WINDOW_SECONDS, Math.max(30, last - (this.points[0] || { t: last }).t));
    let top = 0;
    for (const p of this.points) for (const v of p.values) if (Number.isFinite(v) && v > top) top = v;
    top = niceCeiling(top);
    const x = (t) => width - ((last - t) / span) * width;
    const y = (v) => height - 14 - (v / top) * (height - 24);
    g.strokeStyle = "#e3e7ee";
    g.fillStyle = "#6b7585";
    g.font = "10px system-ui, sans-serif";
    g.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      g.beginPath();
      g.moveTo(0, y(top * f));
      g.lineTo(width, y(top * f));
      g.stroke();
      g.fillText(axisLabel(top * f), 2, y(top * f) - 2);
    }
    this.series.forEach((name, i) => {
      g.strokeStyle = COLORS[i % COLORS.length];
      g.lineWidth = 1.5;
      g.beginPath();
      let drawing = false;
      let previous = null;
      for (const p of this.points) {
        const v = p.values[i];
        // No line across a pause (nobody watched, so nothing was sampled) or a null.
        if (previous !== null && p.t - previous > GAP_SECONDS) drawing = false;
        previous = p.t;
        if (!Number.isFinite(v)) { drawing = false; continue; }
        if (drawing) g.lineTo(x(p.t), y(v)); else g.moveTo(x(p.t), y(v));
        drawing = true;
      }
      g.stroke();
      if (this.series.length > 1) {
        g.fillStyle = COLORS[i % COLORS.length];
        g.fillText(name, width - 8 - 70 * (this.series.length - i), height - 2);
      }
    });
  }
}

function axisLabel(v) {
  return v >= 10 || v === 0 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const step = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * step) return m * step;
  return 10 * step;
}

const charts = {
  tps: new Chart("chart-tps", ["commits", "rollbacks"]),
  connections: new Chart("chart-connections", ["active", "idle", "idle in transaction"],
    (v) => (v == null ? "–" : String(Math.round(v)))),
  cache: new Chart("chart-cache", ["hit %"], (v) => (v == null ? "–" : v.toFixed(1))),
  xact: new Chart("chart-xact", ["longest"], (v) => (v == null ? "–" : v.toFixed(1))),
  lag: new Chart("chart-lag", ["lag"], (v) => (v == null ? "–" : v.toFixed(2))),
  waits: new Chart("chart-waits", ["waiting"], (v) => (v == null ? "–" : String(Math.round(v)))),
};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells, classes) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => tr.appendChild(el("td", c == null ? "" : c, classes && classes[i])));
  return tr;
}

function bytes(n) {
  if (n == null) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function api(path) {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (response.status === 401) throw new AuthError("the token was refused");
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function setLive(up, reason) {
  document.body.dataset.live = up ? "up" : "down";
  document.getElementById("status").textContent = up ? "live" : "down";
  document.getElementById("down").hidden = up;
  document.getElementById("down-reason").textContent = reason || "";
}

function onSample(s) {
  live.samples += 1;
  live.last = s;
  if (live.samples === 1) live.firstSampleAt = performance.now();  // for bench/serve.py
  setLive(s.up, s.error);
  if (!s.up) {
    for (const chart of Object.values(charts)) chart.push(s.t, [null, null, null]);
    return;
  }
  document.getElementById("role").textContent = s.role;
  const c = s.connections || {};
  const waiting = Object.values(s.waits || {}).reduce((a, b) => a + b, 0);
  charts.tps.push(s.t, [s.commits, s.rollbacks]);
  charts.connections.push(s.t, [c.active || 0, c.idle || 0, c["idle in transaction"] || 0]);
  charts.cache.push(s.t, [s.cache_hit == null ? null : s.cache_hit * 100]);
  charts.xact.push(s.t, [s.longest_xact || 0]);
  charts.lag.push(s.t, [s.lag_seconds]);
  charts.waits.push(s.t, [waiting]);
  for (const part of s.extra || []) onExtra(s.t, part);
  const body = document.querySelector("#running tbody");
  body.replaceChildren(...(s.top || []).map((q) =>
    row([q.pid, q.user, q.state, q.wait, q.seconds, q.query], [0, 0, 0, 0, 0, "query"])));
}

// Series other modules add (LiveSource, entry points "pgwarden.live"): one section per source,
// one chart per series, made when first seen. Names are shown as text, never as markup.
const extra = {};

function extraChart(box, series) {
  const figure = el("figure", null, "chart");
  figure.dataset.series = series.name;
  const unit = series.unit && series.unit !== "bytes" ? ` ${series.unit}` : "";
  const caption = el("figcaption", `${series.name}${unit} `);
  caption.append(el("b", null, "now"));
  figure.append(caption, el("canvas"));
  box.grid.append(figure);
  const format = series.unit === "bytes" ? (v) => (v == null ? "–" : bytes(v)) : undefined;
  return new Chart(figure, [series.name], format);
}

function onExtra(t, part) {
  let box = extra[part.name];
  if (!box) {
    const section = el("section", null, "extra");
    section.dataset.source = part.name;
    const grid = el("div", null, "charts");
    const error = el("p", null, "error");
    section.append(el("h2", part.title), error, grid);
    document.getElementById("extra").append(section);
    box = extra[part.name] = { grid, error, charts: {} };
  }
  box.error.textContent = part.error || "";
  for (const series of part.series || []) {
    const chart = box.charts[series.name] || (box.charts[series.name] = extraChart(box, series));
    chart.push(t, [series.value]);
  }
}

function b64url(text) {
  const raw = btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  return raw.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function connect() {
  const url = new URL("live", document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const protocols = ["pgwarden.live"];
  if (token) protocols.push(`bearer.${b64url(token)}`);
  const socket = new WebSocket(url, protocols);
  live.socket = socket;
  socket.onmessage = (event) => onSample(JSON.parse(event.data));
  socket.onclose = (event) => {
    if (event.code === 4401) { showLogin("the token was refused"); return; }
    document.getElementById("status").textContent = "reconnecting";
    setTimeout(connect, 2000);
  };
}

function renderHealth(h) {
  const server = h.server || {};
  if (server.reachable) {
    document.getElementById("database").textContent =
      `${server.database} · PostgreSQL ${server.version} · ${bytes(server.size_bytes)} · ` +
      `${server.connections}/${server.max_connections} connections`;
  }
  const list = document.getElementById("findings");
  const counts = document.getElementById("finding-counts");
  if (!h.findings) {
    const why = h.checks && h.checks.errors ? Object.values(h.checks.errors).join("; ") : "";
    counts.textContent = h.checks && h.checks.state === "pending" ? "(checks running…)" : "";
    list.replaceChildren(el("li", why || "no findings yet", "muted"));
    return;
  }
  const n = h.findings.counts;
  const firing = (h.alerts || []).filter((a) => a.status === "firing").length;
  counts.textContent = `(${n.critical} critical, ${n.warning} warning, ${n.info} info` +
    (firing ? `; ${firing} alert${firing > 1 ? "s" : ""} firing)` : ")");
  list.dataset.count = String(h.findings.items.length);
  if (!h.findings.items.length) { list.replaceChildren(el("li", "nothing found", "muted")); return; }
  list.replaceChildren(...h.findings.items.map((f) => {
    const li = el("li");
    li.dataset.check = f.check;
    li.append(el("span", f.severity, `sev sev-${f.severity}`), el("b", f.check), " ",
      el("span", f.object), el("div", f.advice, "muted"));
    return li;
  }));
}

function renderTables(t) {
  document.querySelector("#tables tbody").replaceChildren(...t.tables.map((r) => row([
    r.table, bytes(r.size_bytes), r.rows, r.dead_rows, r.partitions, r.partitions_ahead,
    r.default_rows, (r.features || []).join(", ")])));
}

function renderChanges(c) {
  document.querySelector("#changes tbody").replaceChildren(...c.changes.map((e) => row([
    new Date(e.at).toLocaleString(), e.table, e.op, JSON.stringify(e.key),
    e.changed.join(", "), e.actor, e.reason])));
  document.getElementById("changes-note").textContent = c.note || "";
}

async function refresh() {
  const [health, tables, changes] = await Promise.all(
    [api("api/health"), api("api/tables"), api("api/changes")]);
  renderHealth(health);
  renderTables(tables);
  renderChanges(changes);
}

function showLogin(message) {
  document.getElementById("main").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("token").focus();
}

async function open() {
  try {
    await refresh();
  } catch (error) {
    if (error instanceof AuthError) { showLogin(error.message); return; }
    console.warn("first load:", error.message);  // the live view still starts
  }
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  for (const chart of Object.values(charts)) chart.draw();
  connect();
  setInterval(() => refresh().catch((e) => console.warn("refresh:", e.message)), 10000);
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value;
  sessionStorage.setItem(KEY, token);
  open();
});

if (document.body.dataset.auth === "required" && !token) showLogin();
else open();
