/* controls.js: the viewer's DOM (controls, panels, statistics, charts) and what its controls do.
 *
 * Methods of Viewer (mixed in by viewer.js). A change redraws at once and is told to the host (send)
 * when the control is released.
 */
const PANELS = [
  ["frame", "Frame X\u209c\u208a\u2081"],
  ["difference", "Difference D\u209c = G\u209c\u208a\u2081 \u2212 G\u209c"],
  ["attention", "Attention A\u209c = \u03c3(a(D\u209c \u2212 b))"],
  ["prompt", "Prompt P\u209c = A\u209c \u2299 X\u209c\u208a\u2081"],
];

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

function button(name, text, aria) {
  return el("button", { type: "button", class: `mp-button mp-${name}`, "aria-label": aria, text });
}

const ControlMethods = {
  build() {
    const controls = el("div", { class: "mp-controls" });
    this.play = button("play", "\u25b6 Play", "Play");
    this.cameraButton = button("camera", "\ud83d\udcf7 Camera", "Camera");
    this.recordButton = button("record", "\u25cf Record", "Record");
    this.recordButton.hidden = true;
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
    this.liveNote = el("span", { class: "mp-live", "data-live": "", hidden: "" });
    const top = el("div", { class: "mp-row" }, [
      this.play, this.controls.pair.box, this.cameraButton, this.recordButton, this.liveNote,
    ]);
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
    this.statLabels = {};
    for (const [name, label] of [["mean", "Mean attention (clip)"], ["share", "Pixels with A > 0.5"],
      ["r", "Temporal variation R"], ["params", "Slope a \u00b7 shift b"]]) {
      const value = el("div", { class: "mp-stat-value", "data-stat": name, text: "\u2026" });
      this.statLabels[name] = el("div", { class: "mp-stat-label", text: label });
      stats.appendChild(el("div", { class: "mp-stat" }, [this.statLabels[name], value]));
      this.statNodes[name] = value;
    }
    this.curve = el("canvas", { class: "mp-curve", width: "480", height: "160", "data-curve": "pn",
      role: "img", "aria-label": "power normalization curve over the clip's differences" });
    this.curveTitle = el("div", { class: "mp-curve-title" });
    const curveBox = el("div", { class: "mp-curve-box" }, [this.curveTitle, this.curve]);
    this.variationChart = el("canvas", { class: "mp-variation", width: "960", height: "220",
      "data-chart": "variation", role: "img",
      "aria-label": "temporal attention variation per step, with its mean R" });
    this.variationReadout = el("div", { class: "mp-variation-readout", "data-readout": "variation" });
    const variationBox = el("div", { class: "mp-variation-box" }, [
      el("div", { class: "mp-curve-title", text: "Temporal attention variation per step \u2016A\u209c\u208a\u2081 \u2212 A\u209c\u2016\u00b2 / HW" }),
      this.variationChart, this.variationReadout,
    ]);
    this.status = el("div", { class: "mp-status", role: "status", text: "Loading the clip\u2026" });
    this.cameraMessage = el("div", { class: "mp-camera-message", role: "alert", hidden: "" });
    // In the layout (1 px, transparent), not display:none: a hidden <video> hands out stale frames.
    this.video = el("video", { class: "mp-camera-video", muted: "", playsinline: "", "aria-hidden": "true" });
    this.video.muted = true;
    this.container = el("div", { class: "mp-viewer" }, [
      controls, this.cameraMessage, this.status, panels, el("div", { class: "mp-bottom" }, [stats, curveBox]),
      variationBox, this.video,
    ]);
    this.root.appendChild(this.container);
    this.listen();
  },

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
    this.cameraButton.addEventListener("click", () => (this.live ? this.stopCamera() : this.startCamera()));
    this.recordButton.addEventListener("click", () => (this.recorder ? this.stopRecording() : this.startRecording()));
  },

  paramsFor(name) {
    const s = this.state;
    return s.raw || name === "m" || name === "n" ? { m: s.m, n: s.n } : { [name]: s[name] };
  },

  fromControl(name) {
    const value = Number(this.controls[name].input.value);
    const s = this.state;
    s[name] = value;
    if (name === "m" || name === "n") {
      s.slope = slopeOf(s.m);
      s.shift = shiftOf(s.n);
    }
    this.render();
  },

  send(event, value) {
    this.seq += 1;
    this.lastCommit = performance.now();
    const message = { value, viewer: this.uid, seq: this.seq };
    // After the next frame: the host's work (a Streamlit rerun request) never delays the redraw.
    if (this.commit) requestAnimationFrame(() => setTimeout(() => this.commit && this.commit(event, message), 0));
  },

  syncControls() {
    const s = this.state;
    const ranges = this.ranges || {};
    const set = (name, value, [low, high, step]) => {
      const { input, box } = this.controls[name];
      Object.assign(input, { min: String(low), max: String(high), step: String(step) });
      input.value = String(Math.min(Math.max(value, low), high));
      box.hidden = false;
    };
    const clip = this.live ? null : this.clip; // the camera has no pairs to scrub or play
    if (clip) set("pair", s.pair, [0, clip.pairs - 1, 1]);
    this.controls.pair.box.hidden = !clip || clip.pairs < 2;
    this.play.hidden = !clip || clip.pairs < 2;
    for (const name of ["slope", "shift", "m", "n"]) {
      const raw = name === "m" || name === "n";
      if (raw === s.raw) set(name, s[name], ranges[name] || [-5, 5, 0.01]);
      else this.controls[name].box.hidden = true;
    }
    this.overlayBox.checked = s.overlay;
  },

  setPlaying(on) {
    if (!this.clip || this.clip.pairs < 2 || this.live) on = false;
    const was = this.playing;
    this.playing = on;
    this.play.textContent = on ? "\u23f8 Pause" : "\u25b6 Play";
    this.play.setAttribute("aria-label", on ? "Pause" : "Play");
    if (on) this.startTimer();
    else {
      clearInterval(this.timer);
      this.timer = null;
      if (was) this.send("pair", this.state.pair);
    }
  },

  startTimer() {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (!this.connected()) {
        clearInterval(this.timer);
        return;
      }
      this.state.pair = (this.state.pair + 1) % this.clip.pairs;
      this.controls.pair.input.value = String(this.state.pair);
      this.render();
    }, 1000 / Math.max(this.clip.fps, 0.5));
  },

  connected() {
    return this.root.isConnected || Boolean(this.root.host && this.root.host.isConnected);
  },
};
