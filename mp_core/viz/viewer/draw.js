/* draw.js: the four panels of a frame pair, their labels and colour bars, the PN curve over the
 * histogram of differences and the variation chart. Methods of Viewer (mixed in by viewer.js).
 *
 * Images use the same 256-entry colormap tables (matplotlib's, sent in the payload), index rounding (half
 * to even) and colour ranges as mp_core.viz.render, so the panels equal the server's pixel for pixel.
 */
const DrawMethods = {
  // The pair on show: the scrubber's, or the camera's newest.
  shownPair() {
    const clip = this.clip;
    return this.live ? clip.pairs - 1 : Math.min(Math.max(this.state.pair | 0, 0), clip.pairs - 1);
  },

  render() {
    const clip = this.clip;
    if (!clip || clip.pairs < 1) return;
    const started = performance.now();
    const s = this.state;
    const t = this.shownPair();
    const n = clip.n;
    const d = clip.diff[t];
    const x = clip.rgba[t + 1];
    const A = this.att, slope = f32(s.slope), shift = f32(s.shift);
    const lutA = clip.luts.attention;
    const frame = this.images.frame.data, att = this.images.attention.data, prompt = this.images.prompt.data;
    if (!s.overlay) frame.set(x);
    let sum = 0, above = 0; // of A over the pair, for the camera's statistics
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      const a = f32(1 / (1 + Math.exp(-f32(f32(d[i] - shift) * slope)))); // attentionInto's A[i], in one pass
      A[i] = a;
      sum += a;
      if (a > 0.5) above += 1;
      const k = 3 * toByte(f32(a * 255));
      att[j] = lutA[k]; att[j + 1] = lutA[k + 1]; att[j + 2] = lutA[k + 2]; att[j + 3] = 255;
      // a * x / 255 * 255 with a in [0, 1]: already in [0, 255], so rounding is all toByte would do
      prompt[j] = roundEven(f32(f32(a * UNIT[x[j]]) * 255));
      prompt[j + 1] = roundEven(f32(f32(a * UNIT[x[j + 1]]) * 255));
      prompt[j + 2] = roundEven(f32(f32(a * UNIT[x[j + 2]]) * 255));
      prompt[j + 3] = 255;
      if (s.overlay) {
        for (let c = 0; c < 3; c++) frame[j + c] = toByte(f32(f32(x[j + c] * 0.5) + f32(lutA[k + c] * 0.5)));
        frame[j + 3] = 255;
      }
    }
    if (this.diffShown !== d) { // the difference image does not depend on slope and shift
      const lutD = clip.luts.difference, out = this.images.difference.data;
      const low = f32(-clip.limit), scale = f32(255 / (2 * clip.limit));
      for (let i = 0, j = 0; i < n; i++, j += 4) {
        const k = 3 * toByte(f32(f32(d[i] - low) * scale));
        out[j] = lutD[k]; out[j + 1] = lutD[k + 1]; out[j + 2] = lutD[k + 2]; out[j + 3] = 255;
      }
      this.diffShown = d;
    }
    for (const [name] of PANELS) this.canvases[name].getContext("2d").putImageData(this.images[name], 0, 0);
    if (this.live) this.live.attentionShown(t, A, s.slope, s.shift, [sum, above]);
    this.writeLabels(t);
    this.drawCurve();
    const detail = {
      pair: t, slope: s.slope, shift: s.shift, overlay: s.overlay, ms: performance.now() - started,
      source: this.live ? "camera" : "clip",
    };
    window.dispatchEvent(new CustomEvent("motionprompts:render", { detail }));
    this.scheduleStats();
  },

  writeLabels(t) {
    const s = this.state;
    const clip = this.clip;
    for (const [name, title] of PANELS) {
      const prefix = name === "frame" && s.overlay ? `${title} with attention overlay` : title;
      this.captions[name].textContent = this.live ? `${prefix} \u00b7 camera, live` : `${prefix} \u00b7 t = ${t}`;
    }
    const { pair, slope, shift, m, n } = this.controls;
    pair.value.textContent = `${t} / ${clip.pairs - 1}`;
    slope.value.textContent = s.slope.toFixed(2);
    shift.value.textContent = (s.shift >= 0 ? "+" : "") + s.shift.toFixed(3);
    m.value.textContent = s.m.toFixed(4);
    n.value.textContent = s.n.toFixed(4);
    this.statNodes.params.textContent = `${s.slope.toFixed(2)} \u00b7 ${(s.shift >= 0 ? "+" : "") + s.shift.toFixed(3)}`;
  },

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
    this.writeScale();
    this.root.querySelector('[data-scale="attention"]').textContent = "0 \u2190 0.5 \u2192 1";
  },

  writeScale() {
    const limit = this.clip.limit.toFixed(3);
    this.root.querySelector('[data-scale="difference"]').textContent = `\u2212${limit} \u2190 0 \u2192 +${limit} (darker \u00b7 brighter)`;
  },

  drawCurve() {
    const canvas = this.curve, ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, left = 30, right = 14, top = 16, bottom = 20;
    const { counts, low, high } = this.clip.histogram;
    let total = 0;
    for (const count of counts) total += count;
    total = total || 1;
    const xOf = (v) => left + ((v - low) / (high - low)) * (w - left - right);
    const yOf = (v) => h - bottom - v * (h - top - bottom);
    ctx.clearRect(0, 0, w, h);
    // The differences: share of pixels per bin on a log scale from 1e-6 (bottom) to 1 (top).
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
    this.curve.dataset.total = String(total);
    const over = this.live ? `the camera's last ${this.clip.pairs} differences` : "the clip's differences";
    this.curveTitle.textContent = `Power normalization \u03c3(a(D \u2212 b)) over ${over}`;
  },

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
  },

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
  },
};
