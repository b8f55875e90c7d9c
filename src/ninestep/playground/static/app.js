// The page: controls -> server, frames -> canvases. No training happens here.
import { CLASS_COLOURS, drawLoss, drawNetwork, drawOutput, drawPvt, fmt } from "./draw.js";

const $ = id => document.getElementById(id);
const state = {
  id: null, dataset: null, frame: null, playing: false, busy: false, limits: null,
  train: [], test: [], outIndex: 0,
};

async function api(path, body, raw = false) {
  const options = body === undefined ? {} : {
    method: "POST", body: raw ? body : JSON.stringify(body),
    headers: raw ? { "Content-Type": "text/csv" } : { "Content-Type": "application/json" },
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
  return data;
}
const sessionPath = p => `/api/sessions/${state.id}/${p}`;

function say(text, isError = true) {
  const m = $("message");
  m.textContent = text;
  m.className = text ? (isError ? "error" : "info") : "";
}

// ---------------------------------------------------------------- settings <-> controls <-> URL
function showSettings(s) {
  for (const el of document.querySelectorAll("[data-key]")) {
    const v = s[el.dataset.key];
    if (v === undefined) continue;
    if (el.tagName === "SELECT" && ![...el.options].some(o => o.value === v)) {  // e.g. speed=3 from a URL
      el.add(new Option(v, v));
    }
    el.value = v;
  }
  const url = new URL(location.href);
  url.search = new URLSearchParams(s).toString();
  history.replaceState(null, "", url);
  const layers = s.layers ? s.layers.split(",") : [];
  const box = $("layer-units");
  box.replaceChildren(...layers.map((u, l) => {
    const group = document.createElement("span");
    group.className = "units";
    const minus = button("\u2212", `Remove a unit from hidden layer ${l + 1}`, () => changeUnits(l, -1));
    const plus = button("+", `Add a unit to hidden layer ${l + 1}`, () => changeUnits(l, +1));
    group.append(minus, ` ${u} `, plus);
    return group;
  }));
}

function button(text, label, onclick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.setAttribute("aria-label", label); b.onclick = onclick;
  return b;
}

function layersNow() {
  return state.dataset.settings.layers ? state.dataset.settings.layers.split(",").map(Number) : [];
}
function changeUnits(l, delta) {
  const layers = layersNow();
  layers[l] = Math.max(1, Math.min(state.limits.max_units, layers[l] + delta));
  send({ layers: layers.join(",") });
}

async function send(change) {
  if (!("speed" in change)) pause();  // a new setting is a new run: it starts paused at epoch 0
  try {
    const r = await api(sessionPath("settings"), change);
    accept(r);
    say("");
  } catch (e) {
    say(e.message);
    showSettings(state.dataset.settings);  // the controls go back to the run that is still there
  }
}

function accept({ dataset, frame }) {
  state.dataset = dataset;
  state.train = []; state.test = [];
  showSettings(dataset.settings);
  showDataset(dataset);
  render(frame);
}

function showDataset(ds) {
  const regression = ds.task === "regression";
  $("accuracy-box").hidden = regression;
  $("rmse-box").hidden = !regression;
  const names = regression ? ds.target_names : [];
  $("output-choice").hidden = names.length < 2;
  $("output-index").replaceChildren(...names.map((n, i) => new Option(n, i)));
  state.outIndex = Math.min(state.outIndex, Math.max(0, names.length - 1));
  $("output-index").value = state.outIndex;
  const csv = ds.settings.data === "csv";
  for (const id of ["target", "fx", "fy"]) $(id).disabled = !csv;
  if (csv) {
    $("target").replaceChildren(...ds.columns.map(c => new Option(c, c)));
    $("target").value = ds.settings.target;
    for (const id of ["fx", "fy"]) {
      $(id).replaceChildren(...ds.feature_names.map(c => new Option(c, c)));
      $(id).value = ds.settings[id];
    }
  }
  const fixed2 = ["xor", "moons"].includes(ds.settings.data);
  $("classes").disabled = regression || fixed2 || csv;
  $("noise").disabled = csv || ds.settings.data === "arithmetic";
  $("n").disabled = csv;
  $("momentum").disabled = !["momentum", "nesterov"].includes(ds.settings.opt);
  $("batch").disabled = ds.settings.opt === "gd";
  $("description").textContent = `${ds.description}. ${ds.n_train} training and ${ds.n_test} test rows; `
    + `network ${JSON.stringify(ds.layer_sizes)}, ${ds.n_params} parameters.`;
  $("steps").replaceChildren(...ds.steps.map(s => {
    const li = document.createElement("li");
    li.id = `step-${s.step}`;
    li.innerHTML = `<strong></strong> <code class="eq"></code> <span class="shapes"></span>`;
    li.querySelector("strong").textContent = `${s.step}. ${s.title}`;
    li.querySelector(".eq").textContent = s.equation;
    li.querySelector(".shapes").textContent = s.shapes.join(",  ");
    return li;
  }));
  $("download-model").href = sessionPath("model.npz");
  $("download-data").href = sessionPath("data.csv");
  $("command").value = ""; $("python").value = "";
}

// ---------------------------------------------------------------- frames
function render(f) {
  if (!f || !state.dataset || f.version !== state.dataset.version) return;  // a frame of a run just replaced
  state.frame = f;
  const h = f.history;
  state.train.length = Math.min(state.train.length, h.start);
  state.test.length = Math.min(state.test.length, h.start);
  state.gap = state.train.length !== h.start;
  if (!state.gap) { state.train.push(...h.train); state.test.push(...h.test); }
  const m = f.metrics;
  $("epoch").textContent = m.epoch;
  $("train-loss").textContent = fmt(m.train_loss);
  $("test-loss").textContent = fmt(m.test_loss);
  $("lr-now").textContent = fmt(m.lr);
  $("notes").textContent = f.notes.join(" ");
  if ("test_accuracy" in m) $("test-accuracy").textContent = m.test_accuracy.toFixed(3);
  if ("test_rmse" in m) $("test-rmse").textContent = `${fmt(m.test_rmse)} (MAE ${fmt(m.test_mae)})`;
  drawOutput($("output"), state.dataset, f, state.outIndex);
  $("legend").replaceChildren(...legend(state.dataset, f));
  drawLoss($("loss"), state.train, state.test);
  drawNetwork($("network"), state.dataset, f);
  const sizes = state.dataset.layer_sizes;
  $("dead").textContent = f.dead.length === 0 ? "" : "Dead units (zero on every training row): "
    + f.dead.map((d, l) => `layer ${l + 1}: ${d} of ${sizes[l + 1]}`).join(", ")
    + (f.dead.some(d => d > 0) ? " - they no longer learn." : ".")
    + (f.check_rows < f.train_rows ? ` (checked on the first ${f.check_rows} of the ${f.train_rows} training rows)` : "");
  showGrads(f.grad_norms);
  showPvt(f);
  const phase = state.playing ? [6, 7, 8] : m.epoch === 0 ? [5] : [9];
  for (let s = 1; s <= 9; s++) $(`step-${s}`)?.classList.toggle("active", phase.includes(s));
  $("running").textContent = state.playing ? `Running steps 6-8 (forward, back-propagate, update) every batch; epoch ${m.epoch}.`
    : m.epoch === 0 ? "Steps 1-5 done: data, split, scaling and initial weights are ready." : `Paused after epoch ${m.epoch}: step 9, the test.`;
  if (f.error) { say(f.error); pause(); }
  else if (f.finished && state.playing) { say(`Reached the ${m.epoch} epochs set in Epochs.`, false); pause(); }
}

// What the colours of the output view mean, as text with colour chips.
function legend(ds, f) {
  const chip = (colour, text) => {
    const span = document.createElement("span");
    span.className = "chip"; span.style.background = colour;
    return [span, ` ${text}  `];
  };
  const parts = [];
  if (ds.axes.length === 1) {
    parts.push(...chip("#0877bd", "training points"), ...chip("#f59322", "test points"), ...chip("#222", "the network's output"));
  } else if (ds.task === "classification") {
    ds.classes.forEach((c, i) => parts.push(...chip(CLASS_COLOURS[i % 6], `class ${c}`)));
    parts.push("(background: the predicted class, paler where the network is unsure; white outline: training "
      + "points, black: test points)");
  } else {
    const i = state.outIndex;
    parts.push(...chip("#f59322", `${ds.target_names[i]} ${fmt(f.output.lo[i])}`),
      ...chip("#e8eaeb", "middle"), ...chip("#0877bd", `${fmt(f.output.hi[i])}`),
      "(points: the true values; white outline: training, black: test)");
  }
  return parts.flat();
}

function showGrads(norms) {
  const top = Math.max(...norms.filter(v => v !== null), 1e-12);
  $("grads").replaceChildren(...norms.map((g, l) => {
    const li = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    // log scale over 6 decades below the largest: vanishing gradients stay visible
    bar.style.width = `${Math.max(1, 100 * (1 + Math.log10(Math.max(g, 1e-12) / top) / 6))}%`;
    li.append(`layer ${l + 1}: ${fmt(g)} `, bar);
    return li;
  }));
}

function showPvt(f) {
  const box = $("pvt-box");
  box.hidden = !f.pvt && !f.confusion;
  $("pvt").hidden = !f.pvt;
  $("confusion").hidden = !f.confusion;
  if (f.pvt) {
    const i = Math.min(state.outIndex, f.pvt.truth.length - 1);
    drawPvt($("pvt"), f.pvt.truth[i], f.pvt.pred[i], state.dataset.target_names[i]);
  }
  if (f.confusion) {
    const classes = state.dataset.classes;
    $("confusion").innerHTML = "<tr><th>true \\ predicted</th>" + classes.map(c => `<th>${escape(c)}</th>`).join("") + "</tr>"
      + f.confusion.map((row, i) => `<tr><th>${escape(classes[i])}</th>` + row.map(v => `<td>${v}</td>`).join("") + "</tr>").join("");
  }
}
const escape = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

async function tick(action) {
  const f = await api(sessionPath("tick"), { action, since: state.train.length, version: state.dataset.version });
  render(f);
  return f;
}

// ---------------------------------------------------------------- controls
// While playing, the next frame is asked for as soon as one arrives, and drawn while the server
// trains the next: the frame rate is the slower of the two, not their sum.
async function loop() {
  const version = state.dataset.version;  // a Reset or a new setting ends this loop's run
  let pending = api(sessionPath("tick"), { action: "play", since: state.train.length, version });
  while (state.playing) {
    let f;
    try { f = await pending; } catch (e) { say(e.message); pause(); return; }
    const since = state.gap ? 0 : f.metrics.epoch;  // after a gap in the curve, ask for all of it again
    pending = state.playing && !f.finished && !f.error
      ? api(sessionPath("tick"), { action: "play", since, version }) : null;
    await new Promise(requestAnimationFrame);
    render(f);
    document.body.dataset.frames = Number(document.body.dataset.frames || 0) + 1;  // read by the benchmark
    if (!pending) break;
  }
  if (pending) pending.then(render, () => {});  // paused while a frame was on its way: show it
}
function play() {
  if (state.playing) return;
  if (state.frame && state.frame.finished) { say("The run has reached its Epochs; raise Epochs or press Reset.", false); return; }
  state.playing = true;
  $("play").disabled = true; $("pause").disabled = false;
  say("");
  loop();
}
function pause() {
  state.playing = false;
  $("play").disabled = false; $("pause").disabled = true;
  if (state.frame) render(state.frame);
}
async function step() {
  if (state.playing) pause();
  try { await tick("step"); } catch (e) { say(e.message); }
}
async function reset() {
  pause();
  try { accept(await api(sessionPath("reset"), {})); say(""); } catch (e) { say(e.message); }
}

function wire() {
  $("play").onclick = play; $("pause").onclick = pause; $("step").onclick = step; $("reset").onclick = reset;
  for (const el of document.querySelectorAll("[data-key]")) {
    el.addEventListener("change", () => send({ [el.dataset.key]: el.value }));
  }
  for (const b of document.querySelectorAll("[data-preset]")) {
    b.onclick = () => send({ preset: b.dataset.preset });
  }
  $("regenerate").onclick = () => send({ seed: String(Number(state.dataset.settings.seed) + 1) });
  $("add-layer").onclick = () => {
    const layers = layersNow();
    if (layers.length >= state.limits.max_layers) { say(`At most ${state.limits.max_layers} hidden layers.`); return; }
    send({ layers: [...layers, layers.length ? layers[layers.length - 1] : 4].join(",") });
  };
  $("remove-layer").onclick = () => send({ layers: layersNow().slice(0, -1).join(",") });
  $("output-index").onchange = () => { state.outIndex = Number($("output-index").value); render(state.frame); };
  $("csv-file").onchange = upload;
  $("show-export").onclick = showExport;
  $("copy-command").onclick = () => copy("command");
  $("copy-python").onclick = () => copy("python");
  document.addEventListener("keydown", e => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " && !e.target.closest("button, a")) { e.preventDefault(); state.playing ? pause() : play(); }
    else if (e.key === "s" || e.key === "S") step();
    else if (e.key === "r" || e.key === "R") reset();
  });
  // The page is closing: end the session now rather than at the idle time-out.
  addEventListener("pagehide", () => { if (state.id) navigator.sendBeacon(sessionPath("close")); });
  // A paused page says it is still open, so its session outlives the idle time-out.
  setInterval(() => { if (!state.playing && state.id) tick("none").catch(e => say(e.message)); }, 60_000);
}

async function upload() {
  const file = $("csv-file").files[0];
  if (!file) return;
  if (file.size > state.limits.max_upload_bytes) {
    say(`${file.name} is ${file.size.toLocaleString()} bytes; the playground takes CSV files up to `
      + `${state.limits.max_upload_bytes.toLocaleString()} bytes.`);
    return;
  }
  pause();
  try {
    accept(await api(sessionPath("csv"), await file.arrayBuffer(), true));
    say(`Loaded ${file.name}.`, false);
  } catch (e) {
    say(`${file.name}: ${e.message} The previous data is still loaded.`);
  }
  $("csv-file").value = "";
}

async function showExport() {
  try {
    const r = await api(sessionPath("export"));
    $("command").value = r.command; $("python").value = r.python;
  } catch (e) { say(e.message); }
}
async function copy(id) {
  if (!$(id).value) await showExport();
  try { await navigator.clipboard.writeText($(id).value); say("Copied.", false); }
  catch { $(id).select(); document.execCommand("copy"); }
}

async function start() {
  wire();
  const info = await api("/api/limits");
  state.limits = info.limits;
  const L = info.limits;
  $("net-limits").textContent = `Limits: ${L.max_layers} hidden layers of up to ${L.max_units} units, `
    + `${L.max_epochs.toLocaleString()} epochs.`;
  $("csv-limits").textContent = `Up to ${L.max_upload_bytes.toLocaleString()} bytes, ${L.max_rows.toLocaleString()} `
    + `rows and ${L.max_columns} feature columns; the last column is the target until you choose another.`;
  const asked = Object.fromEntries(new URLSearchParams(location.search));
  let r;
  try {
    r = await api("/api/sessions", asked);
  } catch (e) {
    say(`${e.message} Starting from the usual settings instead.`);
    r = await api("/api/sessions", {});
  }
  state.id = r.id;
  accept(r);
  document.body.dataset.ready = "true";
}

start().catch(e => say(e.message));
