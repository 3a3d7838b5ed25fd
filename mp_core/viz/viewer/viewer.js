/* Motion prompts viewer: the four panels of one frame pair, computed in the browser.
 *
 * Shared by the Streamlit app (a components v2 component) and the standalone HTML demo. A classic script:
 * it defines globalThis.MotionPromptsViewer; the app appends one `export default` line to make it the
 * component's module. Payloads are built by mp_core/viz/viewer/__init__.py.
 *
 * Computation mirrors mp_core in float32: gray = 0.299 R + 0.587 G + 0.114 B of frames in [0, 1],
 * D_t = G_{t+1} - G_t, A_t = sigmoid(a (D_t - b)), P_t = A_t * X_{t+1}; images use the same 256-entry
 * colormap tables (matplotlib's, sent in the payload), index rounding (half to even) and colour ranges as
 * mp_core.viz.render.
 *
 * Scripting API (the viewer mounted last): window.motionPrompts.info(), .setParams({slope, shift} or
 * {m, n}, and pair, overlay), .attention(t) -> Float32Array (H*W, row-major), .stats(); the event
 * "motionprompts:render" is dispatched on window after each redraw.
 */
(function () {
  "use strict";

  const f32 = Math.fround;
  const GRAY = [f32(0.299), f32(0.587), f32(0.114)];
  const PANELS = [
    ["frame", "Frame X\u209c\u208a\u2081"],
    ["difference", "Difference D\u209c = G\u209c\u208a\u2081 \u2212 G\u209c"],
    ["attention", "Attention A\u209c = \u03c3(a(D\u209c \u2212 b))"],
    ["prompt", "Prompt P\u209c = A\u209c \u2299 X\u209c\u208a\u2081"],
  ];
  const STALE_MS = 3000; // a change the host never acknowledged stops holding back its values after this
  const KEEP_CLIPS = 2; // decoded clips kept in the page (the current one and the one before)

  // ---- clips: decoded once per content hash, shared by every viewer of the page ----------------------
  const store = globalThis.__motionPromptsClips || (globalThis.__motionPromptsClips = new Map());

  function entry(id) {
    let item = store.get(id);
    if (!item) {
      let resolve, reject;
      const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
      item = { promise, resolve, reject, started: false };
      store.set(id, item);
    }
    return item;
  }

  function putClip(payload) {
    const item = entry(payload.id);
    if (item.started) return item.promise;
    item.started = true;
    store.delete(payload.id); // re-insert: Map order is the recency order
    store.set(payload.id, item);
    while (store.size > KEEP_CLIPS) store.delete(store.keys().next().value);
    decodeClip(payload).then(item.resolve, item.reject);
    return item.promise;
  }

  function bytesOf(base64) {
    const text = atob(base64);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function canvas2d(width, height) {
    const canvas = typeof OffscreenCanvas === "function"
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement("canvas"), { width, height });
    return canvas.getContext("2d", { willReadFrequently: true });
  }

  async function decodePng(base64, width, height) {
    // No colour management: the PNG's bytes are the frame's bytes (the difference must be exact).
    const blob = new Blob([bytesOf(base64)], { type: "image/png" });
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const ctx = canvas2d(width, height);
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    return ctx.getImageData(0, 0, width, height).data;
  }

  function grayOf(rgba, n) {
    const gray = new Float32Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      const r = f32(f32(rgba[j] / 255) * GRAY[0]);
      const g = f32(f32(rgba[j + 1] / 255) * GRAY[1]);
      const b = f32(f32(rgba[j + 2] / 255) * GRAY[2]);
      gray[i] = f32(r + g) + b;
    }
    return gray;
  }

  // clip_bytes(): "MPV1", uint32 LE header length, JSON header, then T raw RGB frames.
  function unpackClip(bytes) {
    const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
    if (magic !== "MPV1") throw new Error(`not a motion prompts clip (starts with ${JSON.stringify(magic)})`);
    const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    const size = header.width * header.height * 3;
    header.rgb = [];
    for (let t = 0, offset = 8 + length; t < header.frames; t++, offset += size) {
      header.rgb.push(bytes.subarray(offset, offset + size));
    }
    return header;
  }

  function expandRgb(rgb, n) {
    const rgba = new Uint8ClampedArray(4 * n);
    for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
      rgba[j] = rgb[k]; rgba[j + 1] = rgb[k + 1]; rgba[j + 2] = rgb[k + 2]; rgba[j + 3] = 255;
    }
    return rgba;
  }

  async function decodeClip(payload) {
    const { width, height } = payload;
    const n = width * height;
    const rgba = payload.rgb
      ? payload.rgb.map((frame) => expandRgb(frame, n))
      : await Promise.all(payload.png.map((png) => decodePng(png, width, height)));
    const diff = [];
    let previous = grayOf(rgba[0], n);
    for (let t = 1; t < rgba.length; t++) {
      const next = grayOf(rgba[t], n);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = next[i] - previous[i];
      diff.push(d);
      previous = next;
    }
    return {
      id: payload.id, name: payload.name, width, height, n, fps: payload.fps || 10,
      frames: rgba.length, pairs: rgba.length - 1, rgba, diff, limit: payload.limit,
      histogram: payload.histogram,
      luts: { difference: bytesOf(payload.luts.difference), attention: bytesOf(payload.luts.attention) },
    };
  }

  // ---- arithmetic as in mp_core (float32, torch's round half to even) -------------------------------
  function roundEven(x) {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  function toByte(x) {
    const r = roundEven(x);
    return r < 0 ? 0 : r > 255 ? 255 : r;
  }

  function attentionInto(out, d, slope, shift) {
    const a = f32(slope), b = f32(shift);
    for (let i = 0; i < d.length; i++) out[i] = 1 / (1 + Math.exp(-f32(f32(d[i] - b) * a)));
    return out;
  }

  // The smallest 1, 2 or 5 times a power of ten at or above `value` (> 0): a round top for an axis.
  function niceCeiling(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map((k) => k * power).find((v) => v >= value * (1 - 1e-12));
  }

  const slopeOf = (m) => 5 / (0.45 * Math.abs(Math.tanh(m)) + 0.1);
  const shiftOf = (n) => 0.6 * Math.tanh(n);

  function formatG(value) { // Python's "{:.4g}"
    if (value === 0) return "0";
    const exponent = Math.floor(Math.log10(Math.abs(value)));
    if (exponent < -4 || exponent >= 4) {
      const [mantissa, power] = value.toExponential(3).split("e");
      const trimmed = mantissa.replace(/\.?0+$/, "");
      const sign = power[0] === "-" ? "-" : "+";
      return `${trimmed}e${sign}${power.replace(/^[+-]/, "").padStart(2, "0")}`;
    }
    return String(Number(value.toPrecision(4)));
  }

  // ---- DOM ------------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function rangeControl(name, label, aria) {
    const input = el("input", { type: "range", "aria-label": aria, "data-control": name });
    const value = el("output", { class: "mp-value", "data-value": name });
    const box = el("label", { class: `mp-control mp-control-${name}` }, [el("span", { text: label }), input, value]);
    return { box, input, value };
  }

  class Viewer {
    constructor(root) {
      this.root = root;
      this.uid = Math.random().toString(36).slice(2, 10);
      this.seq = 0;
      this.lastCommit = 0;
      this.commit = null; // (event, value) => void: tells the host, set by the host
      this.clip = null;
      this.clipId = null;
      this.state = { m: 0, n: 0, slope: 20, shift: 0, pair: 0, overlay: false, raw: false };
      this.playing = false;
      this.timer = null;
      this.statsPending = false;
      this.lastStats = null;
      this.build();
    }

    build() {
      const controls = el("div", { class: "mp-controls" });
      this.play = el("button", { type: "button", class: "mp-play", "aria-label": "Play", text: "\u25b6 Play" });
      this.controls = {
        pair: rangeControl("pair", "Frame pair t", "frame pair t"),
        slope: rangeControl("slope", "Slope a", "slope a"),
        shift: rangeControl("shift", "Shift b", "shift b"),
        m: rangeControl("m", "Raw m", "raw m"),
        n: rangeControl("n", "Raw n", "raw n"),
      };
      this.overlayBox = el("input", { type: "checkbox", "aria-label": "overlay attention on the frame" });
      const overlay = el("label", { class: "mp-control mp-overlay" }, [
        this.overlayBox, el("span", { text: "Overlay attention on the frame" }),
      ]);
      const top = el("div", { class: "mp-row" }, [this.play, this.controls.pair.box]);
      const params = el("div", { class: "mp-row" }, [
        this.controls.slope.box, this.controls.shift.box, this.controls.m.box, this.controls.n.box, overlay,
      ]);
      controls.append(top, params);

      this.canvases = {};
      this.captions = {};
      const panels = el("div", { class: "mp-panels" });
      for (const [name] of PANELS) {
        const canvas = el("canvas", { class: "mp-panel", "data-panel": name, role: "img" });
        const caption = el("figcaption", { class: "mp-caption" });
        const figure = el("figure", { class: "mp-figure" }, [canvas, caption]);
        if (name === "difference" || name === "attention") {
          const bar = el("canvas", { class: "mp-colorbar", width: "256", height: "1", "data-colorbar": name });
          const scale = el("div", { class: "mp-scale", "data-scale": name });
          figure.append(bar, scale);
        }
        panels.appendChild(figure);
        this.canvases[name] = canvas;
        this.captions[name] = caption;
      }
      const stats = el("div", { class: "mp-stats" });
      this.statNodes = {};
      for (const [name, label] of [["mean", "Mean attention (clip)"], ["share", "Pixels with A > 0.5"],
        ["r", "Temporal variation R"], ["params", "Slope a \u00b7 shift b"]]) {
        const value = el("div", { class: "mp-stat-value", "data-stat": name, text: "\u2026" });
        stats.appendChild(el("div", { class: "mp-stat" }, [el("div", { class: "mp-stat-label", text: label }), value]));
        this.statNodes[name] = value;
      }
      this.curve = el("canvas", { class: "mp-curve", width: "480", height: "160", "data-curve": "pn",
        role: "img", "aria-label": "power normalization curve over the clip's differences" });
      const curveBox = el("div", { class: "mp-curve-box" }, [
        el("div", { class: "mp-curve-title", text: "Power normalization \u03c3(a(D \u2212 b)) over the clip's differences" }),
        this.curve,
      ]);
      this.variationChart = el("canvas", { class: "mp-variation", width: "960", height: "220",
        "data-chart": "variation", role: "img",
        "aria-label": "temporal attention variation per step, with its mean R" });
      this.variationReadout = el("div", { class: "mp-variation-readout", "data-readout": "variation" });
      const variationBox = el("div", { class: "mp-variation-box" }, [
        el("div", { class: "mp-curve-title", text: "Temporal attention variation per step \u2016A\u209c\u208a\u2081 \u2212 A\u209c\u2016\u00b2 / HW" }),
        this.variationChart, this.variationReadout,
      ]);
      this.status = el("div", { class: "mp-status", role: "status", text: "Loading the clip\u2026" });
      this.container = el("div", { class: "mp-viewer" }, [
        controls, this.status, panels, el("div", { class: "mp-bottom" }, [stats, curveBox]), variationBox,
      ]);
      this.root.appendChild(this.container);
      this.listen();
    }

    listen() {
      const { pair, slope, shift, m, n } = this.controls;
      for (const [name, control] of Object.entries({ slope, shift, m, n })) {
        control.input.addEventListener("input", () => this.fromControl(name));
        control.input.addEventListener("change", () => this.send("params", this.paramsFor(name)));
      }
      pair.input.addEventListener("input", () => {
        this.state.pair = Number(pair.input.value);
        this.render();
      });
      pair.input.addEventListener("change", () => this.send("pair", this.state.pair));
      this.variationChart.addEventListener("mousemove", (event) => this.pointVariation(event));
      this.variationChart.addEventListener("mouseleave", () => this.pointVariation(null));
      this.overlayBox.addEventListener("change", () => {
        this.state.overlay = this.overlayBox.checked;
        this.render();
        this.send("overlay", this.state.overlay);
      });
      this.play.addEventListener("click", () => this.setPlaying(!this.playing));
    }

    paramsFor(name) {
      const s = this.state;
      return s.raw || name === "m" || name === "n" ? { m: s.m, n: s.n } : { [name]: s[name] };
    }

    fromControl(name) {
      const value = Number(this.controls[name].input.value);
      const s = this.state;
      s[name] = value;
      if (name === "m" || name === "n") {
        s.slope = slopeOf(s.m);
        s.shift = shiftOf(s.n);
      }
      this.render();
    }

    send(event, value) {
      this.seq += 1;
      this.lastCommit = performance.now();
      const message = { value, viewer: this.uid, seq: this.seq };
      // After the next frame: the host's work (a Streamlit rerun request) never delays the redraw.
      if (this.commit) requestAnimationFrame(() => setTimeout(() => this.commit && this.commit(event, message), 0));
    }

    // The host's values, unless this viewer has changes the host has not acknowledged yet.
    update(view) {
      const ack = view.ack || {};
      const acknowledged = this.seq === 0 || (ack.viewer === this.uid && ack.seq >= this.seq);
      const stale = performance.now() - this.lastCommit > STALE_MS;
      this.ranges = view.ranges;
      if (acknowledged || stale) {
        Object.assign(this.state, {
          m: view.m, n: view.n, slope: view.slope, shift: view.shift, overlay: view.overlay, raw: view.raw,
        });
        if (!this.playing) this.state.pair = view.pair;
      }
      this.state.raw = view.raw;
      if (view.clip !== this.clipId) {
        this.clipId = view.clip;
        this.status.textContent = "Decoding the clip\u2026";
        this.status.hidden = false;
        entry(view.clip).promise.then((clip) => {
          if (this.clipId !== clip.id) return;
          this.setClip(clip);
        }, (error) => { this.status.textContent = `Could not decode the clip: ${error}`; });
      } else if (this.clip) {
        this.syncControls();
        this.render();
      }
    }

    setClip(clip) {
      this.clip = clip;
      this.att = new Float32Array(clip.n);
      this.images = {};
      for (const [name] of PANELS) {
        const canvas = this.canvases[name];
        canvas.width = clip.width;
        canvas.height = clip.height;
        canvas.setAttribute("aria-label", `${name} panel`);
        this.images[name] = new ImageData(clip.width, clip.height);
      }
      this.diffPair = -1;
      this.drawColorbars();
      this.status.hidden = true;
      this.syncControls();
      if (this.playing) this.startTimer();
      this.render();
    }

    syncControls() {
      const s = this.state;
      const ranges = this.ranges || {};
      const set = (name, value, [low, high, step]) => {
        const { input, box } = this.controls[name];
        Object.assign(input, { min: String(low), max: String(high), step: String(step) });
        input.value = String(Math.min(Math.max(value, low), high));
        box.hidden = false;
      };
      if (this.clip) set("pair", s.pair, [0, this.clip.pairs - 1, 1]);
      this.controls.pair.box.hidden = !this.clip || this.clip.pairs < 2;
      this.play.hidden = !this.clip || this.clip.pairs < 2;
      for (const name of ["slope", "shift", "m", "n"]) {
        const raw = name === "m" || name === "n";
        if (raw === s.raw) set(name, s[name], ranges[name] || [-5, 5, 0.01]);
        else this.controls[name].box.hidden = true;
      }
      this.overlayBox.checked = s.overlay;
    }

    setPlaying(on) {
      if (!this.clip || this.clip.pairs < 2) on = false;
      this.playing = on;
      this.play.textContent = on ? "\u23f8 Pause" : "\u25b6 Play";
      this.play.setAttribute("aria-label", on ? "Pause" : "Play");
      if (on) this.startTimer();
      else {
        clearInterval(this.timer);
        this.timer = null;
        this.send("pair", this.state.pair);
      }
    }

    startTimer() {
      clearInterval(this.timer);
      this.timer = setInterval(() => {
        if (!this.root.isConnected && !(this.root.host && this.root.host.isConnected)) {
          clearInterval(this.timer);
          return;
        }
        this.state.pair = (this.state.pair + 1) % this.clip.pairs;
        this.controls.pair.input.value = String(this.state.pair);
        this.render();
      }, 1000 / Math.max(this.clip.fps, 0.5));
    }

    // ---- drawing ----
    render() {
      const clip = this.clip;
      if (!clip) return;
      const started = performance.now();
      const s = this.state;
      const t = Math.min(Math.max(s.pair | 0, 0), clip.pairs - 1);
      const n = clip.n;
      const d = clip.diff[t];
      const x = clip.rgba[t + 1];
      const A = attentionInto(this.att, d, s.slope, s.shift);
      const lutA = clip.luts.attention;
      const frame = this.images.frame.data, att = this.images.attention.data, prompt = this.images.prompt.data;
      for (let i = 0, j = 0; i < n; i++, j += 4) {
        const a = A[i];
        const k = 3 * toByte(f32(a * 255));
        att[j] = lutA[k]; att[j + 1] = lutA[k + 1]; att[j + 2] = lutA[k + 2]; att[j + 3] = 255;
        for (let c = 0; c < 3; c++) {
          prompt[j + c] = toByte(f32(f32(a * f32(x[j + c] / 255)) * 255));
          frame[j + c] = s.overlay ? toByte(f32(f32(x[j + c] * 0.5) + f32(lutA[k + c] * 0.5))) : x[j + c];
        }
        prompt[j + 3] = 255; frame[j + 3] = 255;
      }
      if (this.diffPair !== t) { // the difference image does not depend on slope and shift
        const lutD = clip.luts.difference, out = this.images.difference.data;
        const low = f32(-clip.limit), scale = f32(255 / (2 * clip.limit));
        for (let i = 0, j = 0; i < n; i++, j += 4) {
          const k = 3 * toByte(f32(f32(d[i] - low) * scale));
          out[j] = lutD[k]; out[j + 1] = lutD[k + 1]; out[j + 2] = lutD[k + 2]; out[j + 3] = 255;
        }
        this.diffPair = t;
      }
      for (const [name] of PANELS) this.canvases[name].getContext("2d").putImageData(this.images[name], 0, 0);
      this.writeLabels(t);
      this.drawCurve();
      const detail = { pair: t, slope: s.slope, shift: s.shift, overlay: s.overlay, ms: performance.now() - started };
      window.dispatchEvent(new CustomEvent("motionprompts:render", { detail }));
      this.scheduleStats();
    }

    writeLabels(t) {
      const s = this.state;
      const clip = this.clip;
      for (const [name, title] of PANELS) {
        const prefix = name === "frame" && s.overlay ? `${title} with attention overlay` : title;
        this.captions[name].textContent = `${prefix} \u00b7 t = ${t}`;
      }
      const { pair, slope, shift, m, n } = this.controls;
      pair.value.textContent = `${t} / ${clip.pairs - 1}`;
      slope.value.textContent = s.slope.toFixed(2);
      shift.value.textContent = (s.shift >= 0 ? "+" : "") + s.shift.toFixed(3);
      m.value.textContent = s.m.toFixed(4);
      n.value.textContent = s.n.toFixed(4);
      this.statNodes.params.textContent = `${s.slope.toFixed(2)} \u00b7 ${(s.shift >= 0 ? "+" : "") + s.shift.toFixed(3)}`;
    }

    drawColorbars() {
      for (const name of ["difference", "attention"]) {
        const bar = this.root.querySelector(`[data-colorbar="${name}"]`);
        const ctx = bar.getContext("2d");
        const image = ctx.createImageData(256, 1);
        const lut = this.clip.luts[name];
        for (let i = 0; i < 256; i++) {
          image.data.set([lut[3 * i], lut[3 * i + 1], lut[3 * i + 2], 255], 4 * i);
        }
        ctx.putImageData(image, 0, 0);
      }
      const limit = this.clip.limit.toFixed(3);
      this.root.querySelector('[data-scale="difference"]').textContent = `\u2212${limit} \u2190 0 \u2192 +${limit} (darker \u00b7 brighter)`;
      this.root.querySelector('[data-scale="attention"]').textContent = "0 \u2190 0.5 \u2192 1";
    }

    drawCurve() {
      const canvas = this.curve, ctx = canvas.getContext("2d");
      const w = canvas.width, h = canvas.height, left = 30, right = 14, top = 16, bottom = 20;
      const { counts, low, high } = this.clip.histogram;
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      const xOf = (v) => left + ((v - low) / (high - low)) * (w - left - right);
      const yOf = (v) => h - bottom - v * (h - top - bottom);
      ctx.clearRect(0, 0, w, h);
      // The clip's differences: share of pixels per bin on a log scale from 1e-6 (bottom) to 1 (top).
      ctx.fillStyle = "rgba(120,120,120,0.45)";
      const bin = (w - left - right) / counts.length;
      counts.forEach((count, i) => {
        if (!count) return;
        const level = Math.max(0, 1 + Math.log10(count / total) / 6);
        ctx.fillRect(left + i * bin, yOf(level), Math.max(bin, 1), yOf(0) - yOf(level));
      });
      ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(left, yOf(0)); ctx.lineTo(w - right, yOf(0));
      ctx.moveTo(left, yOf(0)); ctx.lineTo(left, yOf(1)); ctx.stroke();
      const { slope, shift } = this.state;
      ctx.strokeStyle = "#3b6fd6"; ctx.lineWidth = 2.5;
      ctx.beginPath();
      for (let px = 0; px <= w - left - right; px++) {
        const v = low + (px / (w - left - right)) * (high - low);
        const y = yOf(1 / (1 + Math.exp(-slope * (v - shift))));
        if (px === 0) ctx.moveTo(left + px, y); else ctx.lineTo(left + px, y);
      }
      ctx.stroke();
      ctx.lineWidth = 1; ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(xOf(shift), top - 4); ctx.lineTo(xOf(shift), yOf(0)); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
      ctx.textAlign = "right";
      for (const v of [0, 0.5, 1]) ctx.fillText(String(v), left - 4, yOf(v) + 4);
      ctx.textAlign = "center";
      ctx.fillText(String(low), xOf(low), h - 5);
      ctx.fillText("0", xOf(0), h - 5);
      ctx.fillText(`+${high}`, xOf(high) - 6, h - 5);
      ctx.fillText("difference D (grey: share of pixels, log)", xOf((low + high) / 2 + 0.5), h - 5);
      ctx.textAlign = "left";
      ctx.fillText("A", 4, top);
      ctx.fillStyle = "#3b6fd6";
      ctx.fillText(`b=${shift.toFixed(3)}`, Math.min(xOf(shift) + 4, w - 56), top - 4);
      this.curve.dataset.shift = String(shift);
      this.curve.dataset.markerX = String(xOf(shift));
    }

    // Bars per step t (A_t -> A_t+1) on a zero-based axis with R, their mean, as a dashed line: what the
    // server's plotly chart showed, without a server round trip or plotly.js per change.
    drawVariation(stats) {
      const canvas = this.variationChart, ctx = canvas.getContext("2d");
      const w = canvas.width, h = canvas.height, left = 58, right = 12, top = 14, bottom = 34;
      const values = stats.variation, count = values.length;
      const peak = Math.max(stats.variationMean, ...values, 0);
      const high = peak > 0 ? niceCeiling(peak * 1.08) : 1;
      const yOf = (v) => h - bottom - (v / high) * (h - top - bottom);
      const slot = (w - left - right) / Math.max(count, 1);
      this.variationLayout = { left, slot, count, values };
      ctx.clearRect(0, 0, w, h);
      ctx.font = "12px sans-serif";
      ctx.fillStyle = "#555";
      ctx.strokeStyle = "#ddd"; ctx.lineWidth = 1;
      ctx.textAlign = "right";
      for (let i = 0; i <= 4; i++) {
        const v = (high * i) / 4, y = yOf(v);
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
        ctx.fillText(formatG(v), left - 6, y + 4);
      }
      ctx.fillStyle = "#3b6fd6";
      values.forEach((v, t) => ctx.fillRect(left + t * slot + slot * 0.1, yOf(v), slot * 0.8, yOf(0) - yOf(v)));
      ctx.fillStyle = "#555";
      ctx.textAlign = "center";
      const every = Math.ceil(count / 16) || 1;
      for (let t = 0; t < count; t += every) ctx.fillText(String(t), left + (t + 0.5) * slot, h - bottom + 15);
      ctx.fillText("step t (A\u209c \u2192 A\u209c\u208a\u2081)", left + (w - left - right) / 2, h - 4);
      if (count) {
        const y = yOf(stats.variationMean);
        ctx.strokeStyle = "#d62728"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#d62728"; ctx.textAlign = "right";
        ctx.fillText(`R = ${formatG(stats.variationMean)}`, w - right - 2, Math.max(y - 5, top));
      } else {
        ctx.textAlign = "center";
        ctx.fillText("one frame pair: no step to measure", left + (w - left - right) / 2, h / 2);
      }
      canvas.dataset.steps = String(count);
      canvas.dataset.mean = String(stats.variationMean);
      this.pointVariation(this.variationPointer || null);
    }

    pointVariation(event) {
      const layout = this.variationLayout;
      this.variationPointer = event && { offsetX: event.offsetX };
      if (!layout || !event || !layout.count) {
        this.variationReadout.textContent = "";
        return;
      }
      const scale = this.variationChart.width / (this.variationChart.clientWidth || this.variationChart.width);
      const t = Math.floor((event.offsetX * scale - layout.left) / layout.slot);
      this.variationReadout.textContent = t >= 0 && t < layout.count
        ? `A${t} \u2192 A${t + 1}: ${formatG(layout.values[t])}` : "";
    }

    // ---- whole-clip statistics: after the redraw, coalesced while the controls move ----
    scheduleStats() {
      if (this.statsPending) return;
      this.statsPending = true;
      setTimeout(() => {
        this.statsPending = false;
        const stats = this.computeStats();
        this.statNodes.mean.textContent = stats.meanAttention.toFixed(3);
        this.statNodes.share.textContent = `${(100 * stats.shareAboveHalf).toFixed(1)}%`;
        this.statNodes.r.textContent = formatG(stats.variationMean);
        this.drawVariation(stats);
        window.dispatchEvent(new CustomEvent("motionprompts:stats", { detail: stats }));
      }, 0);
    }

    computeStats() {
      const clip = this.clip, n = clip.n, { slope, shift } = this.state;
      const key = `${clip.id}:${slope}:${shift}`;
      if (this.lastStats && this.lastStats.key === key) return this.lastStats.value;
      let current = new Float32Array(n), previous = new Float32Array(n);
      let sum = 0, above = 0;
      const variation = [];
      for (let t = 0; t < clip.pairs; t++) {
        attentionInto(current, clip.diff[t], slope, shift);
        let step = 0;
        for (let i = 0; i < n; i++) {
          const a = current[i];
          sum += a;
          if (a > 0.5) above += 1;
          if (t > 0) { const delta = f32(a - previous[i]); step += delta * delta; }
        }
        if (t > 0) variation.push(step / n);
        [current, previous] = [previous, current];
      }
      const count = clip.pairs * n;
      const value = {
        meanAttention: sum / count, shareAboveHalf: above / count, variation,
        variationMean: variation.length ? variation.reduce((a, b) => a + b, 0) / variation.length : 0,
      };
      this.lastStats = { key, value };
      return value;
    }

    // ---- scripting API ----
    api() {
      return {
        info: () => {
          const c = this.clip, s = this.state;
          return {
            pairs: c ? c.pairs : 0, height: c ? c.height : 0, width: c ? c.width : 0, frames: c ? c.frames : 0,
            fps: c ? c.fps : 0, name: c ? c.name : "", slope: s.slope, shift: s.shift, m: s.m, n: s.n,
            pair: s.pair, overlay: s.overlay, raw: s.raw, playing: this.playing,
          };
        },
        setParams: (values) => this.setParams(values || {}),
        attention: (t) => {
          const c = this.clip;
          if (!c) throw new Error("the clip is not decoded yet");
          const pair = t === undefined ? this.state.pair : t;
          if (!(pair >= 0 && pair < c.pairs)) throw new RangeError(`pair must be in [0, ${c.pairs - 1}], got ${t}`);
          return attentionInto(new Float32Array(c.n), c.diff[pair], this.state.slope, this.state.shift);
        },
        stats: () => (this.clip ? this.computeStats() : null),
        play: (on) => this.setPlaying(on === undefined ? true : Boolean(on)),
      };
    }

    setParams(values) {
      const s = this.state;
      const number = (v) => typeof v === "number" && Number.isFinite(v);
      if (number(values.m) || number(values.n)) {
        if (number(values.m)) s.m = values.m;
        if (number(values.n)) s.n = values.n;
        s.slope = slopeOf(s.m);
        s.shift = shiftOf(s.n);
        this.send("params", { m: s.m, n: s.n });
      } else if (number(values.slope) || number(values.shift)) {
        const changed = {};
        if (number(values.slope)) changed.slope = s.slope = values.slope;
        if (number(values.shift)) changed.shift = s.shift = values.shift;
        this.send("params", changed);
      }
      if (number(values.pair) && this.clip) {
        s.pair = Math.min(Math.max(Math.round(values.pair), 0), this.clip.pairs - 1);
        this.send("pair", s.pair);
      }
      if (typeof values.overlay === "boolean") {
        s.overlay = values.overlay;
        this.send("overlay", s.overlay);
      }
      this.syncControls();
      this.render();
      return this.api().info();
    }
  }

  function viewerIn(root) {
    if (!root.__motionPromptsViewer) root.__motionPromptsViewer = new Viewer(root);
    const viewer = root.__motionPromptsViewer;
    globalThis.motionPrompts = viewer.api();
    return viewer;
  }

  /** Streamlit components v2 entry: {data, parentElement, setTriggerValue} (see ui/viewer.py). */
  function streamlitComponent(component) {
    const data = component.data;
    if (!data) return;
    if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
      putClip(unpackClip(new Uint8Array(data)));
      return;
    }
    if (data.kind === "clip") {
      putClip(data);
      return;
    }
    const viewer = viewerIn(component.parentElement);
    viewer.commit = (event, value) => component.setTriggerValue(event, value);
    viewer.update(data);
  }

  /** The standalone page: one viewer on `element`, no host to tell about changes. */
  function mountStandalone(element, clip, view) {
    putClip(clip);
    const viewer = viewerIn(element);
    viewer.update(view);
    return viewer.api();
  }

  globalThis.MotionPromptsViewer = { streamlitComponent, mountStandalone, putClip, unpackClip };
})();
