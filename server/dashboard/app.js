// rtmfpd's dashboard: one EventSource on /admin/events, one frame a second,
// drawn into the page with DOM calls only (names come from clients: they
// are set as text, never as markup). Nothing is loaded from elsewhere.
"use strict";

const HISTORY = 60; // points per chart

const state = {
  offset: 0, limit: 50, filter: "", sort: "session",
  streamOffset: 0, streamLimit: 50,
  last: null,                // the previous frame
  series: new Map(),         // chart key -> values
  seen: new Set(),           // chart keys updated by this frame
};

// For tests and curious operators: frames received, and the frame in which
// each stream and group first appeared.
const dash = window.rtmfpdDashboard = { frames: 0, firstFrame: {}, frame: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function td(v, cls, attrs) { return el("td", Object.assign({ class: cls }, attrs), v); }

function fmtBytes(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + " " + u[i];
}

function fmtRate(bitsPerSecond) {
  if (!bitsPerSecond) return "0";
  if (bitsPerSecond < 1e3) return bitsPerSecond.toFixed(0) + " b/s";
  if (bitsPerSecond < 1e6) return (bitsPerSecond / 1e3).toFixed(0) + " kb/s";
  return (bitsPerSecond / 1e6).toFixed(2) + " Mb/s";
}

function fmtDuration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  const pad = (x) => String(x).padStart(2, "0");
  return (d ? d + "d " : "") + (d || h ? pad(h) + ":" : "") + pad(m) + ":" + pad(sec);
}

function fmtNum(n) { return Number(n || 0).toLocaleString("en-US"); }

function short(id) { return id && id.length > 16 ? id.slice(0, 8) + "…" + id.slice(-4) : id; }

// push adds a value to a chart's series and returns the series.
function push(key, v) {
  let s = state.series.get(key);
  if (!s) { s = []; state.series.set(key, s); }
  if (!state.seen.has(key)) {
    s.push(Number.isFinite(v) ? v : 0);
    if (s.length > HISTORY) s.shift();
    state.seen.add(key);
  }
  return s;
}

// spark draws values as a small line chart.
function spark(values, w = 160, h = 30) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  if (values.length > 1) {
    const max = Math.max(...values, 1e-9);
    const step = w / (HISTORY - 1);
    const x0 = w - (values.length - 1) * step;
    const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
    const area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", `${x0.toFixed(1)},${h} ${pts.join(" ")} ${w},${h}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.append(area, line);
  }
  return svg;
}

// rate returns the per-second change of a counter since the last frame.
function rate(key, value, f) {
  const prev = state.last && state.last.counters && state.last.counters[key];
  f.counters[key] = value;
  if (prev === undefined || !state.last) return 0;
  const dt = (Date.parse(f.time) - Date.parse(state.last.time)) / 1000;
  return dt > 0 && value >= prev ? (value - prev) / dt : 0;
}

function card(label, value, detail, chart) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value),
    detail ? el("div", { class: "detail" }, detail) : null, chart || null);
}

function fill(id, rows, cols, empty) {
  const tbody = document.querySelector(`#${id} tbody`);
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: cols }, empty))]));
}

function renderCards(f) {
  const t = f.totals;
  const byProto = Object.entries(t.byProto).sort().map(([p, n]) => `${p} ${fmtNum(n)}`).join(" · ");
  const inRate = rate("bytesIn", t.bytesIn, f) * 8, outRate = rate("bytesOut", t.bytesOut, f) * 8;
  document.getElementById("cards").replaceChildren(
    card("sessions", fmtNum(t.sessions), byProto || "none", spark(push("sessions", t.sessions))),
    card("streams", fmtNum(t.streams), `${fmtNum(t.publishers)} publishing · ${fmtNum(t.players)} playing`),
    card("in", fmtRate(inRate), fmtBytes(t.bytesIn) + " in all", spark(push("in", inRate))),
    card("out", fmtRate(outRate), fmtBytes(t.bytesOut) + " in all", spark(push("out", outRate))),
    card("groups", fmtNum(t.groups), `${fmtNum(t.members)} members`),
    card("applications", fmtNum(t.byApp.length), t.byApp.slice(0, 4).map((a) => `${a.name || "(none)"} ${a.count}`).join(" · ")),
    card("refusals", fmtNum(f.refusalsTotal), f.refusals.length ? f.refusals[0].what : "none"),
    card("RTMP / HTTP-FLV", `${fmtNum(t.rtmp.active)} / ${fmtNum(t.flv.active)}`,
      `${fmtNum(t.rtmp.handshakeFailures)} failed handshakes · ${fmtNum(t.flv.refused)} FLV refused`),
  );
}

function renderStreams(f) {
  const p = f.streams;
  document.getElementById("streams-count").textContent = `(${fmtNum(p.total)})`;
  const rows = p.items.map((s) => {
    if (!(s.key in dash.firstFrame)) dash.firstFrame[s.key] = dash.frames;
    return el("tr", { "data-stream": s.key },
      td(s.key, "mono wrap"), td(s.publisher || "—", "mono"),
      td(s.publisher ? fmtDuration(s.publishingTime) : "—", "num"),
      td(fmtRate(s.bitrate), "num"), el("td", {}, spark(push("stream:" + s.key, s.bitrate), 120, 22)),
      td(fmtNum(s.players), "num", { "data-counter": "players" }),
      el("td", {}, s.recording ? el("span", { class: "badge rec", title: s.recording }, "● " + s.recording) : "—"));
  });
  fill("streams", rows, 7, "no live stream");
  pager("streams-pager", p.total, p.offset, p.limit, (o) => { state.streamOffset = o; reconnect(); });
}

// The charts of a group stream: multicastInfo counters (per second) and rates.
const CHARTS = [
  ["sendDataBytesPerSecond", "sent to peers", (v) => fmtRate(v * 8), false],
  ["bytesPushedToPeers", "pushed to peers", (v) => fmtRate(v * 8), true],
  ["fragmentsRequestedByPeers", "fragments pulled by peers /s", (v) => v.toFixed(1), true],
  ["messagesPublished", "messages published /s", (v) => v.toFixed(1), true],
];

function renderGroups(f) {
  const g = f.groups;
  document.getElementById("groups-count").textContent = `(${g.server.length} joined by the server)`;
  const boxes = g.server.map((sg) => {
    if (!(sg.groupID in dash.firstFrame)) dash.firstFrame[sg.groupID] = dash.frames;
    const m = sg.member;
    const head = el("div", { class: "head" },
      el("span", { class: "gid mono", title: sg.groupID }, "group " + short(sg.groupID)),
      el("span", { "data-counter": "neighbors" }, `${m.neighbors} neighbours`),
      el("span", { class: "muted" }, `target ${m.targetNeighbors} · ~${Number(m.estimatedMembers).toFixed(0)} members · heard ${m.heard}`),
      el("span", { class: "muted mono", title: sg.spec }, short(sg.spec)));
    const neigh = el("div", { class: "muted" }, "neighbours: ",
      ...(sg.neighbors.length ? sg.neighbors.map((id) => el("span", { class: "chip mono", title: id }, short(id))) : ["none yet"]));
    const streams = sg.streams.map((s) => {
      const key = sg.groupID + "/" + s.name;
      const mc = s.multicast, info = s.multicastInfo;
      const props = el("div", { class: "props" },
        "window ", el("b", {}, mc.multicastWindowDuration + " s"),
        " · relay margin ", el("b", {}, mc.multicastRelayMarginDuration + " s"),
        " · fetch period ", el("b", {}, mc.multicastFetchPeriod + " s"),
        " · availability update ", el("b", {}, mc.multicastAvailabilityUpdatePeriod + " s"),
        " · send to all ", el("b", {}, mc.multicastAvailabilitySendToAll ? "yes" : "no"),
        " · push limit ", el("b", {}, String(mc.multicastPushNeighborLimit)),
        s.ipMulticast ? " · IP multicast " : null, s.ipMulticast ? el("b", {}, s.ipMulticast) : null);
      const charts = CHARTS.map(([field, label, fmt, counter]) => {
        const v = counter ? rate(key + ":" + field, info[field] || 0, f) : (info[field] || 0);
        return el("div", { class: "chart", "data-counter": field, "data-value": String(info[field] || 0) },
          el("div", { class: "label" }, label),
          el("div", { class: "value" }, fmt(v), counter ? el("span", { class: "muted" }, " · " + fmtNum(info[field]) + " in all") : null),
          spark(push(key + ":" + field, v), 170, 28));
      });
      return el("div", { class: "gstream", "data-group-stream": s.name },
        el("div", {}, el("b", {}, s.name), el("span", { class: "muted" }, " from " + s.source + " · published " + fmtDuration(s.publishingTime))),
        props, el("div", { class: "charts" }, ...charts));
    });
    return el("div", { class: "group", "data-group": sg.groupID }, head, neigh, ...streams);
  });
  document.getElementById("groups").replaceChildren(...(boxes.length ? boxes : [el("p", { class: "muted" }, "the server is a member of no group")]));
  fill("membership", g.membership.map((x) => el("tr", {}, td(x.name, "mono"), td(fmtNum(x.count), "num"))), 2, "no group has members");
}

// renderCluster draws the node's view of its cluster (absent on a single
// node): the other nodes with their load and trunk, and the pulls.
function renderCluster(f) {
  const c = f.cluster;
  const box = document.getElementById("cluster-section");
  box.hidden = !c;
  if (!c) return;
  const r = c.registry;
  document.getElementById("cluster-count").textContent = `(node ${c.node}, ${c.nodes.length} other${c.nodes.length === 1 ? "" : "s"})`;
  document.getElementById("cluster-self").textContent =
    `NATS ${r.connected ? "connected" : "down"} · registry: ${fmtNum(r.localPeers)} own peers, ${fmtNum(r.remotePeers)} of others · ` +
    `${fmtNum(r.localMembers + r.remoteMembers)} group members · ${fmtNum(r.localStreams + r.remoteStreams)} streams · ` +
    `${fmtNum(c.redirects)} sessions redirected`;
  const conns = new Map(((c.trunk && c.trunk.conns) || []).map((x) => [x.node, x]));
  const now = new Date(f.time);
  const row = (n, self) => {
    const tc = conns.get(n.name);
    const st = n.draining ? "draining" : self ? "this node" : "up";
    return el("tr", { "data-node": n.name },
      td(n.name, "mono"), el("td", {}, el("span", { class: "badge " + (n.draining ? "draining" : "publishing") }, st)),
      td(fmtNum(n.load.sessions), "num"), td(Number(n.load.cpu || 0).toFixed(0) + " %", "num"), td(fmtRate(n.load.bitsOut || 0), "num"),
      td((n.rtmfp || []).join(" "), "mono wrap"), td(n.trunk || "—", "mono"),
      td(tc ? fmtNum(tc.streams) : "—", "num"), td(tc ? fmtDuration((now - new Date(tc.since)) / 1000) : "—", "num"));
  };
  fill("cluster-nodes", [row(c.self, true), ...c.nodes.map((n) => row(n, false))], 9, "");
  fill("cluster-pulls", (c.pulls || []).map((p) => el("tr", {},
    td(p.stream, "mono wrap"), td(p.origin, "mono"), td(p.state),
    td(fmtDuration((now - new Date(p.since)) / 1000), "num"), td(fmtNum(p.messages), "num"), td(fmtBytes(p.bytes), "num"))),
  6, "no stream pulled");
}

function renderRelay(f) {
  document.getElementById("relay-count").textContent = `(${f.relay.length})`;
  fill("relay", f.relay.map((r) => el("tr", {},
    td(r.stream, "mono"), td(r.target, "mono wrap"), td(r.mode),
    el("td", {}, el("span", { class: "badge " + r.state }, r.state)),
    td(fmtNum(r.attempts), "num"), td(fmtNum(r.failures), "num"), td(fmtBytes(r.bytesSent), "num"),
    td(fmtNum(r.dropped), "num"), td(r.lastError || "", "wrap"))), 9, "no relay target");
}

function renderSessions(f) {
  const p = f.sessions;
  document.getElementById("sessions-count").textContent =
    `(${fmtNum(f.totals.sessions)}${p.filter ? ", " + fmtNum(p.matched) + " matching" : ""})`;
  fill("sessions", p.items.map((s) => el("tr", { "data-session": s.session },
    td(short(s.session), "mono", { title: s.session }), td(s.proto), td(s.remote, "mono"),
    td(s.app + (s.instance && s.instance !== "_definst_" ? "/" + s.instance : "")),
    td(fmtDuration(s.age), "num"), td(fmtBytes(s.bytesIn), "num"), td(fmtBytes(s.bytesOut), "num"),
    td(s.publishing || "", "num"), td(s.playing || "", "num"))), 9, "no session");
  pager("sessions-pager", p.matched, p.offset, p.limit, (o) => { state.offset = o; reconnect(); });
}

function renderRefusals(f) {
  document.getElementById("refusals-count").textContent = `(${fmtNum(f.refusalsTotal)} since start)`;
  fill("refusals", f.refusals.map((r) => el("tr", {},
    td(new Date(r.time).toLocaleTimeString()), td(r.what),
    td([r.proto, r.session && short(r.session), r.remote].filter(Boolean).join(" "), "mono"),
    td([r.app, r.stream].filter(Boolean).join(" / ")), td(r.code || ""), td(r.reason || "", "wrap"))), 6, "nothing refused");
}

function pager(id, total, offset, limit, go) {
  const box = document.getElementById(id);
  const first = total ? offset + 1 : 0, last = Math.min(total, offset + limit);
  const prev = el("button", { disabled: offset <= 0 }, "‹");
  const next = el("button", { disabled: last >= total }, "›");
  prev.onclick = () => go(Math.max(0, offset - limit));
  next.onclick = () => go(offset + limit);
  box.replaceChildren(`${fmtNum(first)}–${fmtNum(last)} of ${fmtNum(total)}`, prev, next);
}

function render(f) {
  dash.frames++;
  dash.frame = f;
  f.counters = {};
  state.seen = new Set();
  document.getElementById("peer").textContent = short(f.peerID);
  document.getElementById("peer").title = f.peerID;
  document.getElementById("uptime").textContent = "up " + fmtDuration(f.uptime);
  renderCards(f);
  renderStreams(f);
  renderGroups(f);
  renderCluster(f);
  renderRelay(f);
  renderSessions(f);
  renderRefusals(f);
  for (const k of state.series.keys()) if (!state.seen.has(k)) state.series.delete(k); // gone
  state.last = f;
}

let source = null;

function reconnect() {
  if (source) source.close();
  const q = new URLSearchParams({
    offset: state.offset, limit: state.limit, filter: state.filter, sort: state.sort,
    streamOffset: state.streamOffset, streamLimit: state.streamLimit,
  });
  source = new EventSource("/admin/events?" + q);
  const live = document.getElementById("live");
  source.onopen = () => { live.textContent = "live"; live.className = "state live"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "state down"; };
  source.onmessage = (e) => render(JSON.parse(e.data));
}

let filterTimer = 0;
document.getElementById("filter").addEventListener("input", (e) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => { state.filter = e.target.value; state.offset = 0; reconnect(); }, 300);
});
document.getElementById("sort").addEventListener("change", (e) => { state.sort = e.target.value; state.offset = 0; reconnect(); });
reconnect();
