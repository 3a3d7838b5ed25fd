/* api.js: the scripting API (window.motionPrompts, for the viewer mounted last) and the two hosts'
 * entries: Streamlit's components v2 module and the standalone page.
 */
function viewerApi(viewer) {
  const shown = () => {
    const c = viewer.clip;
    if (!c || c.pairs < 1) throw new Error(viewer.live ? "the camera has no frame pair yet" : "the clip is not decoded yet");
    return c;
  };
  const pairOf = (c, t) => {
    const pair = t === undefined ? viewer.shownPair() : t;
    if (!(pair >= 0 && pair < c.pairs)) throw new RangeError(`pair must be in [0, ${c.pairs - 1}], got ${t}`);
    return pair;
  };
  return {
    info: () => {
      const c = viewer.clip, s = viewer.state, live = viewer.live;
      return {
        pairs: c ? c.pairs : 0, height: c ? c.height : 0, width: c ? c.width : 0, frames: c ? c.frames : 0,
        fps: live ? live.measuredFps() : c ? c.fps : 0, name: c ? c.name : "", slope: s.slope, shift: s.shift,
        m: s.m, n: s.n, pair: live && c ? viewer.shownPair() : s.pair, overlay: s.overlay, raw: s.raw,
        playing: viewer.playing, source: live ? "camera" : "clip",
        measuredFps: live ? live.measuredFps() : null, cameraFrames: live ? live.received : 0,
        frameMs: live ? live.frameMs() : null, cameraRepeats: live ? live.repeated : 0,
        recording: Boolean(viewer.recorder),
      };
    },
    setParams: (values) => viewer.setParams(values || {}),
    // A_t (H*W, row-major); in camera mode t indexes the rolling window and defaults to the newest pair.
    attention: (t) => {
      const c = shown();
      return attentionInto(new Float32Array(c.n), c.diff[pairOf(c, t)], viewer.state.slope, viewer.state.shift);
    },
    // [G_t, G_t+1]: the grayscale frames of pair t (H*W each), from which D_t and A_t were computed.
    frames: (t) => {
      const c = shown(), pair = pairOf(c, t);
      if (c.gray) return [c.gray[pair].slice(), c.gray[pair + 1].slice()];
      return [grayOf(c.rgba[pair], c.n), grayOf(c.rgba[pair + 1], c.n)];
    },
    stats: () => (viewer.clip && viewer.clip.pairs > 0 ? viewer.computeStats() : null),
    play: (on) => viewer.setPlaying(on === undefined ? true : Boolean(on)),
    startCamera: (options) => viewer.startCamera(options || {}),
    stopCamera: () => viewer.stopCamera(),
  };
}

const ApiMethods = {
  api() {
    return viewerApi(this);
  },

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
    if (number(values.pair) && this.clip && !this.live) {
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
  },
};
Object.assign(Viewer.prototype, ApiMethods);

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

/** The standalone page: one viewer on `element`, no host to tell about changes (nor to record for). */
function mountStandalone(element, clip, view) {
  putClip(clip);
  const viewer = viewerIn(element);
  viewer.update(view);
  return viewer.api();
}

globalThis.MotionPromptsViewer = { streamlitComponent, mountStandalone, putClip, unpackClip };
