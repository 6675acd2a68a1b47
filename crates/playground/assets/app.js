// The playground's page: reads the controls, drives the session over the HTTP API, and draws
// every snapshot the server streams (server-sent events).
"use strict";

const $ = (id) => document.getElementById(id);
const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [44, 160, 44]];
const state = { id: null, source: null, history: [], ratios: {}, updates: 0, received: [], last: null, selected: null };
// Read by the browser check: how many updates arrived, and the latest snapshot.
window.playground = state;

function config() {
  const num = (id) => Number($(id).value);
  return {
    dataset: $("dataset").value, noise: num("noise"), points: num("points"),
    train_ratio: num("train-ratio"), seed: num("seed"),
    hidden: $("hidden").value.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number),
    activation: $("activation").value, init: $("init").value,
    batch_norm: $("batch-norm").checked, dropout: num("dropout"),
    optimizer: $("optimizer").value, lr: $("lr").value.trim(), momentum: num("momentum"),
    batch_size: num("batch-size"), l2: num("l2"),
  };
}

function showError(message) {
  const e = $("error");
  e.textContent = message || "";
  e.hidden = !message;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) {
    showError(json.error || `HTTP ${response.status}`);
    throw new Error(json.error);
  }
  showError(null);
  return json;
}

async function start() {
  if (state.source) state.source.close();
  const created = await api("POST", "/api/sessions", config());
  state.id = created.id;
  state.history = [];
  state.ratios = {};
  draw(created.snapshot);
  await setSpeed();
  state.source = new EventSource(`/api/sessions/${state.id}/events`);
  state.source.addEventListener("snapshot", (e) => {
    state.updates += 1;
    const now = performance.now();
    state.received.push(now);
    while (state.received.length && now - state.received[0] > 2000) state.received.shift();
    draw(JSON.parse(e.data));
  });
  state.source.onerror = () => {
    if (state.source.readyState === EventSource.CLOSED) showError("lost the server: reload the page");
  };
}

const session = (action) => `/api/sessions/${state.id}/${action}`;
const act = (action, body) => api("POST", session(action), body).then(draw).catch(() => {});

$("play").onclick = () => act("play");
$("pause").onclick = () => act("pause");
$("step").onclick = () => act("step", { steps: 1 });
$("reset").onclick = () => reset();
$("lr").onchange = () => act("lr", { lr: $("lr").value.trim() });
$("speed-limit").onchange = () => setSpeed().catch(() => {});

function setSpeed() {
  const v = $("speed-limit").value;
  return act("speed", { max_steps_per_sec: v === "max" ? null : Number(v) });
}
for (const id of ["dataset", "noise", "points", "train-ratio", "seed", "hidden", "activation", "init",
  "batch-norm", "dropout", "optimizer", "momentum", "batch-size", "l2"]) {
  $(id).onchange = () => reset();
}

async function reset() {
  const playing = state.last && state.last.playing;
  try {
    const snap = await api("POST", session("reset"), config());
    state.history = [];
    state.ratios = {};
    state.selected = null;
    draw(snap);
    if (playing) await act("play");
  } catch (_) { /* shown in the banner */ }
}

function fmt(v, digits) { return v === null || v === undefined || !isFinite(v) ? String(v) : v.toFixed(digits); }

function draw(s) {
  if (!s || s.step === undefined) return;
  if (state.last && s.step < state.last.step) { state.history = []; state.ratios = {}; }
  state.last = s;
  const h = state.history;
  if (!h.length || h[h.length - 1].step !== s.step) {
    h.push({ step: s.step, train: s.train_loss, test: s.test_loss, trainAcc: s.train_acc, testAcc: s.test_acc });
    if (h.length > 600) h.splice(0, h.length - 600);
  }
  if (s.monitor) {
    for (const p of s.monitor.params) {
      if (p.shape.length < 2 || p.update_ratio_log10 === null) continue;
      (state.ratios[p.name] = state.ratios[p.name] || []).push([s.step, p.update_ratio_log10]);
      if (state.ratios[p.name].length > 600) state.ratios[p.name].shift();
    }
  }
  $("step-count").textContent = s.step;
  $("speed").textContent = Math.round(s.steps_per_sec);
  $("update-rate").textContent = (state.received.length > 1
    ? (state.received.length - 1) / ((state.received[state.received.length - 1] - state.received[0]) / 1000) : 0).toFixed(1);
  $("train-loss").textContent = fmt(s.train_loss, 4);
  $("test-loss").textContent = fmt(s.test_loss, 4);
  $("train-acc").textContent = fmt(s.train_acc, 3);
  $("test-acc").textContent = fmt(s.test_acc, 3);
  if ($("lr") !== document.activeElement) $("lr").value = String(s.config.lr);
  if (s.error) showError(s.error);
  drawBoundary(s);
  drawCurves($("loss-chart"), [["train", "#546e7a", h.map((r) => [r.step, r.train])], ["test", "#d81b60", h.map((r) => [r.step, r.test])]], null);
  drawCurves($("acc-chart"), [["train", "#546e7a", h.map((r) => [r.step, r.trainAcc])], ["test", "#d81b60", h.map((r) => [r.step, r.testAcc])]], [0, 1]);
  drawUnits(s);
  drawUnitGrad(s);
  drawRatios();
  drawLayers(s);
}

function classColor(c, strength) {
  const [r, g, b] = CLASS_COLORS[c % CLASS_COLORS.length];
  const k = Math.max(0, Math.min(1, strength));
  return [255 + (r - 255) * k, 255 + (g - 255) * k, 255 + (b - 255) * k];
}

// Plane coordinates to canvas pixels.
function toPixel(canvas, extent, x, y) {
  return [(x + extent) / (2 * extent) * canvas.width, (extent - y) / (2 * extent) * canvas.height];
}

function drawBoundary(s) {
  const canvas = $("boundary"), ctx = canvas.getContext("2d"), n = s.boundary.n;
  const image = ctx.createImageData(n, n);
  const chance = 1 / s.classes;
  for (let i = 0; i < n * n; i++) {
    const strength = 0.15 + 0.6 * (s.boundary.confidence[i] / 100 - chance) / (1 - chance);
    const [r, g, b] = classColor(s.boundary.class[i], strength);
    image.data.set([r, g, b, 255], 4 * i);
  }
  const off = new OffscreenCanvas(n, n);
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  for (const [set, filled] of [[s.train, true], [s.test, false]]) {
    for (const [x, y, c] of set) {
      const [px, py] = toPixel(canvas, s.extent, x, y);
      const [r, g, b] = CLASS_COLORS[c];
      ctx.beginPath();
      ctx.arc(px, py, 3, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.strokeStyle = filled ? "#fff" : `rgb(${r},${g},${b})`;
      if (filled) ctx.fill();
      ctx.stroke();
    }
  }
}

function drawCurves(canvas, series, range) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 28;
  ctx.clearRect(0, 0, W, H);
  const all = series.flatMap(([, , pts]) => pts).filter(([, v]) => isFinite(v));
  if (all.length < 1) return;
  const x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const [y0, y1] = range || [0, Math.max(...all.map((p) => p[1]), 1e-6)];
  const X = (x) => pad + (x - x0) / (x1 - x0) * (W - pad - 6), Y = (y) => H - 14 - (y - y0) / (y1 - y0) * (H - 22);
  ctx.strokeStyle = "#cfd8dc";
  ctx.strokeRect(pad, 8, W - pad - 6, H - 22);
  ctx.fillStyle = "#607d8b";
  ctx.font = "10px sans-serif";
  ctx.fillText(fmt(y1, 2), 2, 14);
  ctx.fillText(fmt(y0, 2), 2, H - 14);
  ctx.fillText(`step ${x1}`, W - 60, H - 2);
  series.forEach(([name, color, pts], k) => {
    ctx.strokeStyle = color;
    ctx.beginPath();
    pts.filter(([, v]) => isFinite(v)).forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fillText(name, pad + 6 + 40 * k, 20);
  });
}

// -100..100 to a diverging colour: blue below 0, white at 0, orange above.
function diverging(v) {
  const k = Math.min(1, Math.abs(v) / 100);
  return v < 0 ? [255 - 247 * k, 255 - 136 * k, 255 - 66 * k] : [255 - 10 * k, 255 - 108 * k, 255 - 221 * k];
}

function drawUnits(s) {
  const box = $("units");
  const key = s.units.map((l) => `${l.layer}:${l.maps.length}`).join(",");
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.innerHTML = "";
    s.units.forEach((layer, li) => {
      const row = document.createElement("div");
      row.className = "unit-layer";
      row.innerHTML = `<span class="name">hidden ${li} (layer ${layer.layer})</span>`;
      layer.maps.forEach((_, u) => {
        const c = document.createElement("canvas");
        c.width = c.height = layer.n;
        c.id = `unit-${li}-${u}`;
        c.title = `hidden layer ${li}, unit ${u}`;
        c.onclick = () => { state.selected = [li, u]; act("unit", { layer: li, unit: u }); };
        row.appendChild(c);
      });
      box.appendChild(row);
    });
  }
  s.units.forEach((layer, li) => layer.maps.forEach((map, u) => {
    const c = $(`unit-${li}-${u}`), ctx = c.getContext("2d"), image = ctx.createImageData(layer.n, layer.n);
    map.forEach((v, i) => image.data.set([...diverging(v), 255], 4 * i));
    ctx.putImageData(image, 0, 0);
    c.classList.toggle("selected", !!s.unit && s.unit.layer === li && s.unit.unit === u);
  }));
}

function drawHistogram(canvas, hist, color, label) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  if (!hist) return;
  const max = Math.max(...hist.counts, 1), bw = W / hist.counts.length;
  ctx.fillStyle = color;
  hist.counts.forEach((c, i) => ctx.fillRect(i * bw, H - 12 - c / max * (H - 24), bw - 1, c / max * (H - 24)));
  ctx.fillStyle = "#455a64";
  ctx.font = "10px sans-serif";
  ctx.fillText(label, 2, 10);
  const edge = (v) => (v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(1) : fmt(v, 3));
  ctx.fillText(edge(hist.edges[0]), 2, H - 2);
  const right = edge(hist.edges[hist.edges.length - 1]);
  ctx.fillText(right, W - ctx.measureText(right).width - 2, H - 2);
}

function drawUnitGrad(s) {
  const box = $("unit-grad"), g = s.unit_grad;
  if (!g) {
    box.innerHTML = s.unit ? '<p class="hint">Step or play: the gradient is read at the next drawn step.</p>' : '<p class="hint">Click a unit to see the gradient reaching it.</p>';
    return;
  }
  if (!$("grad-hist")) {
    box.innerHTML = '<div><b id="grad-title"></b><div id="grad-stats" class="hint"></div><canvas id="grad-hist" width="220" height="90"></canvas></div>' +
      '<canvas id="grad-plane" width="150" height="150"></canvas><p class="hint">∂loss/∂(unit output) at each point of the last drawn batch: orange positive, blue negative.</p>';
  }
  $("grad-title").textContent = `gradient reaching hidden ${g.layer}, unit ${g.unit}`;
  $("grad-stats").textContent = `mean ${g.mean.toExponential(2)}, std ${g.std.toExponential(2)} over ${g.points.length} points`;
  drawHistogram($("grad-hist"), g.hist, "#8e24aa", "∂loss/∂output");
  const c = $("grad-plane"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const max = Math.max(...g.points.map((p) => Math.abs(p[2])), 1e-12);
  for (const [x, y, v] of g.points) {
    const [px, py] = toPixel(c, s.extent, x, y), [r, gg, b] = diverging(v / max * 100);
    ctx.fillStyle = `rgb(${r},${gg},${b})`;
    ctx.strokeStyle = "#90a4ae";
    ctx.beginPath();
    ctx.arc(px, py, 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
}

function drawRatios() {
  const canvas = $("ratios"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 30;
  ctx.clearRect(0, 0, W, H);
  const names = Object.keys(state.ratios), all = names.flatMap((n) => state.ratios[n]);
  if (!all.length) return;
  const x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const y0 = Math.min(-5, ...all.map((p) => p[1])), y1 = Math.max(-1, ...all.map((p) => p[1]));
  const X = (x) => pad + (x - x0) / (x1 - x0) * (W - pad - 90), Y = (y) => 6 + (y1 - y) / (y1 - y0) * (H - 18);
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = "#000";
  ctx.beginPath(); ctx.moveTo(pad, Y(-3)); ctx.lineTo(W - 90, Y(-3)); ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#455a64";
  ctx.fillText("-3", 4, Y(-3) + 3);
  ctx.fillText(fmt(y1, 1), 4, 12);
  ctx.fillText(fmt(y0, 1), 4, H - 8);
  names.forEach((name, k) => {
    const color = `hsl(${(k * 67) % 360},60%,45%)`;
    ctx.strokeStyle = color;
    ctx.beginPath();
    state.ratios[name].forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fillText(name, W - 85, 12 + 12 * k);
  });
}

function drawLayers(s) {
  const box = $("layers");
  if (!s.monitor) { box.innerHTML = '<p class="hint">Step or play to see the layers.</p>'; return; }
  const key = s.monitor.layers.map((l) => l.layer + l.module_type).join(",");
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.innerHTML = "";
    for (const l of s.monitor.layers) {
      const div = document.createElement("div");
      div.className = "layer";
      div.innerHTML = `<div class="name"><b>layer ${l.layer}</b> ${l.module_type}<div class="stats" id="stats-${l.layer}"></div><div class="warning" id="warn-${l.layer}"></div></div>` +
        `<canvas id="hist-${l.layer}" width="200" height="70"></canvas><canvas id="ghist-${l.layer}" width="200" height="70"></canvas>`;
      box.appendChild(div);
    }
  }
  for (const l of s.monitor.layers) {
    const parts = [`mean ${fmt(l.mean, 3)}, std ${fmt(l.std, 3)}`];
    if (l.saturated !== null) parts.push(`saturated ${(100 * l.saturated).toFixed(1)}%`);
    if (l.dead !== null) parts.push(`dead ${(100 * l.dead).toFixed(1)}%`);
    if (l.grad_std !== null) parts.push(`grad std ${l.grad_std.toExponential(2)}`);
    const ratios = s.monitor.params.filter((p) => p.name.startsWith(`${l.layer}.`) && p.update_ratio_log10 !== null)
      .map((p) => `${p.name.split(".")[1]} update:data 10^${p.update_ratio_log10.toFixed(2)}`);
    $(`stats-${l.layer}`).innerHTML = parts.concat(ratios).join("<br>");
    $(`warn-${l.layer}`).textContent = s.warnings.filter((w) => w.layer === l.layer).map((w) => "⚠ " + w.message).join("\n");
    drawHistogram($(`hist-${l.layer}`), l.hist, "#546e7a", "activations");
    drawHistogram($(`ghist-${l.layer}`), l.grad_hist, "#8e24aa", "gradients");
  }
}

window.addEventListener("pagehide", () => {
  if (state.id) fetch(`/api/sessions/${state.id}`, { method: "DELETE", keepalive: true });
});

start().catch(() => {});
