// Painting only: every number drawn here was computed by the server (views.py).

export const CLASS_COLOURS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const NEG = [245, 147, 34], MID = [232, 234, 235], POS = [8, 119, 189];

export function decode(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function hexRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
const CLASS_RGB = CLASS_COLOURS.map(hexRgb);

// 0..255 -> orange .. grey .. blue (TensorFlow Playground's colours), as a table: no work per pixel.
const DIVERGING = Array.from({ length: 256 }, (_, q) => {
  const t = q / 255;
  const [a, b, u] = t < 0.5 ? [NEG, MID, t * 2] : [MID, POS, (t - 0.5) * 2];
  return [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u];
});
const diverging = q => DIVERGING[q];

const scratch = new Map();  // one small canvas and image per grid size, reused by every frame
function paintGrid(ctx, res, colourAt, x, y, w, h) {
  if (!scratch.has(res)) {
    const c = document.createElement("canvas");
    c.width = res; c.height = res;
    scratch.set(res, [c, c.getContext("2d").createImageData(res, res)]);
  }
  const [off, img] = scratch.get(res), d = img.data;
  for (let i = 0; i < res * res; i++) {
    const c = colourAt(i);
    d[4 * i] = c[0]; d[4 * i + 1] = c[1]; d[4 * i + 2] = c[2]; d[4 * i + 3] = 255;
  }
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, x, y, w, h);
}

// The points change only with the data: drawn once onto their own canvas, then copied each frame.
let pointsCache = { key: null, canvas: null };
function pointsLayer(ds, frame, outIndex, W, H) {
  const key = `${ds.version}|${outIndex}|${W}x${H}`;
  if (pointsCache.key === key) return pointsCache.canvas;
  const layer = document.createElement("canvas");
  layer.width = W; layer.height = H;
  const ctx = layer.getContext("2d"), [ax, ay] = ds.axes;
  const sx = v => (v - ax[0]) / (ax[1] - ax[0]) * W, sy = v => (1 - (v - ay[0]) / (ay[1] - ay[0])) * H;
  const colour = pointColour(ds, frame, outIndex);
  for (const [part, stroke] of [["train", "#fff"], ["test", "#000"]]) {
    const p = ds[part];
    for (let i = 0; i < p.x[0].length; i++) {
      ctx.beginPath();
      ctx.arc(sx(p.x[0][i]), sy(p.x[1][i]), 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = colour(p, i);
      ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = stroke; ctx.stroke();
    }
  }
  pointsCache = { key, canvas: layer };
  return layer;
}

// The output over the plane (2-D) or along the axis (1-D), with the points.
export function drawOutput(canvas, ds, frame, outIndex) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const out = frame.output;
  const [ax, ay] = ds.axes;
  const sx = v => (v - ax[0]) / (ax[1] - ax[0]) * W;
  if (ds.axes.length === 2) {
    const sy = v => (1 - (v - ay[0]) / (ay[1] - ay[0])) * H;
    if (out.kind === "binary") {
      const g = decode(out.grid);
      paintGrid(ctx, Math.sqrt(g.length), i => diverging(g[i]), 0, 0, W, H);
    } else if (out.kind === "classes") {
      const g = decode(out.grid), c = decode(out.confidence), k = ds.classes.length, rgb = [0, 0, 0];
      paintGrid(ctx, Math.sqrt(g.length), i => {
        // paler where the network is unsure: confidence 1/k (a guess) -> mostly grey, 1 -> the class colour
        const base = CLASS_RGB[g[i] % 6], u = 0.25 + 0.6 * Math.max(0, (c[i] / 255 - 1 / k) / (1 - 1 / k));
        for (let j = 0; j < 3; j++) rgb[j] = MID[j] + (base[j] - MID[j]) * u;
        return rgb;
      }, 0, 0, W, H);
    } else {
      const g = decode(out.grids[outIndex]);
      paintGrid(ctx, Math.sqrt(g.length), i => diverging(g[i]), 0, 0, W, H);
    }
    ctx.drawImage(pointsLayer(ds, frame, outIndex, W, H), 0, 0);
    axisLabels(ctx, W, H, ds.plot[0], ds.plot[1], ax, ay);
    return;
  }
  // 1-D: points and the prediction as a curve, y axis from the data's range.
  const ys = ds.train.y.length && Array.isArray(ds.train.y[0]) ? ds.train.y[outIndex] : ds.train.y;
  const values = out.kind === "curve" ? out.values.map(r => r[outIndex]) : out.values.map(r => r[r.length - 1]);
  let lo = Math.min(...ys, ...values.filter(v => v !== null)), hi = Math.max(...ys, ...values.filter(v => v !== null));
  if (out.kind === "curve_proba") { lo = -0.05; hi = 1.05; }
  const pad = 0.05 * (hi - lo || 1);
  lo -= pad; hi += pad;
  const sy = v => (1 - (v - lo) / (hi - lo)) * H;
  ctx.fillStyle = "#f6f7f8"; ctx.fillRect(0, 0, W, H);
  for (const [part, stroke] of [["train", "#0877bd"], ["test", "#f59322"]]) {
    const p = ds[part];
    const y = Array.isArray(p.y[0]) ? p.y[outIndex] : p.y.map(c => out.kind === "curve_proba" ? c / (ds.classes.length - 1) : c);
    ctx.fillStyle = stroke;
    for (let i = 0; i < p.x[0].length; i++) {
      ctx.beginPath(); ctx.arc(sx(p.x[0][i]), sy(y[i]), 2.5, 0, 2 * Math.PI); ctx.fill();
    }
  }
  ctx.strokeStyle = "#222"; ctx.lineWidth = 2.5; ctx.beginPath();
  values.forEach((v, i) => {
    const x = i / (values.length - 1) * W;
    if (i === 0) ctx.moveTo(x, sy(v)); else ctx.lineTo(x, sy(v));
  });
  ctx.stroke();
  axisLabels(ctx, W, H, ds.plot[0], ds.target_names[outIndex] || "", ax, [lo, hi]);
}

function pointColour(ds, frame, outIndex) {
  if (ds.task === "classification") return (p, i) => CLASS_COLOURS[p.y[i] % 6];
  const out = frame.output, lo = out.lo[outIndex], hi = out.hi[outIndex];
  return (p, i) => {
    const q = Math.round(Math.max(0, Math.min(255, (p.y[outIndex][i] - lo) / (hi - lo || 1) * 255)));
    const c = diverging(q);
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  };
}

function axisLabels(ctx, W, H, xName, yName, ax, ay) {
  ctx.fillStyle = "rgba(0,0,0,0.75)"; ctx.font = "11px sans-serif";
  ctx.fillText(`${xName}: ${fmt(ax[0])} .. ${fmt(ax[1])}`, 4, H - 4);
  ctx.save(); ctx.translate(11, H - 4); ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${yName}: ${fmt(ay[0])} .. ${fmt(ay[1])}`, 14, 0); ctx.restore();
}

export function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : Number(v.toPrecision(5)).toString();
}

// Train and test loss on a log scale; at most one point per pixel column is drawn.
export function drawLoss(canvas, train, test) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, H);
  let lo = Infinity, hi = -Infinity;  // a loop: spreading 100,000 epochs into Math.min would overflow the stack
  for (const series of [train, test]) {
    for (const v of series) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (!(lo <= hi)) return;
  lo = Math.log10(lo); hi = Math.log10(hi);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const n = train.length, stride = Math.max(1, Math.floor(n / W));
  const sx = i => n > 1 ? i / (n - 1) * (W - 40) + 36 : 36;
  const sy = v => 6 + (1 - (Math.log10(v) - lo) / (hi - lo)) * (H - 22);
  for (const [series, colour] of [[train, "#0877bd"], [test, "#f59322"]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    for (let i = 0; i < series.length; i += stride) {
      const v = series[i];
      if (!(v > 0)) continue;
      if (!started) { ctx.moveTo(sx(i), sy(v)); started = true; } else ctx.lineTo(sx(i), sy(v));
    }
    ctx.stroke();
  }
  ctx.fillStyle = "#333"; ctx.font = "10px sans-serif";
  ctx.fillText(fmt(10 ** hi), 2, 12); ctx.fillText(fmt(10 ** lo), 2, H - 16);
  ctx.fillText(`epoch ${n}`, W - 70, H - 3);
  ctx.fillStyle = "#0877bd"; ctx.fillText("train", 40, H - 3);
  ctx.fillStyle = "#f59322"; ctx.fillText("test", 75, H - 3);
}

// Inputs, hidden units (thumbnails), outputs; links by the weight's sign (colour) and size (width).
export function drawNetwork(canvas, ds, frame) {
  const ctx = canvas.getContext("2d");
  const sizes = ds.layer_sizes, drawn = sizes.map(s => Math.min(s, 16));
  const T = drawn.slice(1, -1).some(d => d > 8) ? 26 : 36, gap = 8;
  const H = Math.max(...drawn) * (T + gap) + 30, colW = Math.max(90, Math.min(130, 620 / sizes.length));
  canvas.width = Math.max(300, colW * sizes.length); canvas.height = H;
  ctx.clearRect(0, 0, canvas.width, H);
  const pos = (l, j) => [l * colW + colW / 2, 20 + j * (T + gap) + (H - 20 - drawn[l] * (T + gap)) / 2 + T / 2];
  frame.weights.forEach((W, l) => {
    const flat = W.flat().map(Math.abs), big = Math.max(...flat, 1e-9);
    W.forEach((row, i) => row.forEach((w, j) => {
      const [x0, y0] = pos(l, i), [x1, y1] = pos(l + 1, j);
      ctx.strokeStyle = w >= 0 ? "rgba(8,119,189,0.65)" : "rgba(245,147,34,0.65)";
      ctx.lineWidth = 0.3 + 4 * Math.abs(w) / big;
      ctx.beginPath(); ctx.moveTo(x0 + T / 2, y0); ctx.lineTo(x1 - T / 2, y1); ctx.stroke();
    }));
  });
  ctx.font = "10px sans-serif"; ctx.textAlign = "center";
  sizes.forEach((size, l) => {
    for (let j = 0; j < drawn[l]; j++) {
      const [x, y] = pos(l, j);
      const unit = l > 0 && l < sizes.length - 1 ? frame.units[l - 1][j] : null;
      if (unit) drawThumb(ctx, unit.grid, x - T / 2, y - T / 2, T, ds.axes.length);
      else { ctx.fillStyle = "#ddd"; ctx.fillRect(x - T / 2, y - T / 2, T, T); }
      ctx.lineWidth = unit && unit.dead ? 3 : 1;
      ctx.strokeStyle = unit && unit.dead ? "#d00" : "#555";
      ctx.strokeRect(x - T / 2, y - T / 2, T, T);
      ctx.fillStyle = "#111";
      if (l === 0) ctx.fillText(ds.feature_names[j].slice(0, 8), x, y + 3);
      else if (l === sizes.length - 1) ctx.fillText((ds.classes ? ds.classes[j] : ds.target_names[j] || "").slice(0, 8), x, y + 3);
      if (unit && unit.dead) { ctx.fillStyle = "#d00"; ctx.fillText("dead", x, y + T / 2 + 9); }
    }
    ctx.fillStyle = "#333";
    const name = l === 0 ? "input" : l === sizes.length - 1 ? "output" : `hidden ${l}`;
    ctx.fillText(`${name} (${size})`, l * colW + colW / 2, 11);
    if (size > drawn[l]) ctx.fillText(`+${size - drawn[l]} more`, l * colW + colW / 2, H - 2);
  });
  ctx.textAlign = "start";
}

function drawThumb(ctx, b64, x, y, T, dims) {
  const g = decode(b64);
  if (dims === 2) { paintGrid(ctx, Math.sqrt(g.length), i => diverging(g[i]), x, y, T, T); return; }
  ctx.fillStyle = "#f4f4f4"; ctx.fillRect(x, y, T, T);
  ctx.strokeStyle = "#0877bd"; ctx.lineWidth = 1.2; ctx.beginPath();
  g.forEach((q, i) => {
    const px = x + i / (g.length - 1) * T, py = y + T - q / 255 * T;
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

// Predicted against true on the test set, with the diagonal of perfect predictions.
export function drawPvt(canvas, truth, pred, name) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H); ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, H);
  const vals = truth.concat(pred).filter(v => v !== null);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (hi - lo < 1e-12) { lo -= 1; hi += 1; }
  const s = (v, size) => 20 + (v - lo) / (hi - lo) * (size - 30);
  ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(s(lo, W), H - s(lo, H)); ctx.lineTo(s(hi, W), H - s(hi, H)); ctx.stroke();
  ctx.fillStyle = "rgba(8,119,189,0.7)";
  truth.forEach((t, i) => { ctx.beginPath(); ctx.arc(s(t, W), H - s(pred[i], H), 2.5, 0, 2 * Math.PI); ctx.fill(); });
  ctx.fillStyle = "#333"; ctx.font = "10px sans-serif";
  ctx.fillText(`true ${name} (x) against predicted (y)`, 24, 12);
}
