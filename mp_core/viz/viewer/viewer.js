/* viewer.js: the Viewer, one per mounted element: its state and its source (a decoded clip, or the
 * camera's LiveClip), with the methods of controls.js, draw.js, stats.js and camera.js mixed in.
 */
const STALE_MS = 3000; // a change the host never acknowledged stops holding back its values after this

class Viewer {
  constructor(root) {
    this.root = root;
    this.uid = Math.random().toString(36).slice(2, 10);
    this.seq = 0;
    this.lastCommit = 0;
    this.commit = null; // (event, value) => void: tells the host, set by the host
    this.clip = null; // what is shown: a decoded clip, or this.live
    this.clipId = null;
    this.savedClip = null; // the host's clip while the camera is on
    this.live = null;
    this.recordingSeq = 0; // the seq of a recording sent and not yet acknowledged
    this.state = { m: 0, n: 0, slope: 20, shift: 0, pair: 0, overlay: false, raw: false };
    this.playing = false;
    this.timer = null;
    this.statsPending = false;
    this.lastStats = null;
    this.build();
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
    if (this.recordingSeq && ack.viewer === this.uid && ack.seq >= this.recordingSeq) {
      this.recordingSeq = 0; // the host took the recording (a new clip follows) or refused it (it says why)
      if (view.clip === this.clipId && !this.live) this.status.hidden = true;
    }
    if (view.clip !== this.clipId) {
      this.clipId = view.clip;
      if (!this.live) {
        this.status.textContent = "Decoding the clip\u2026";
        this.status.hidden = false;
      }
      entry(view.clip).promise.then((clip) => {
        if (this.clipId !== clip.id) return;
        if (this.live) this.savedClip = clip; // shown when the camera stops
        else this.setClip(clip);
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
    this.diffShown = null;
    this.drawColorbars();
    this.status.hidden = true;
    this.syncControls();
    if (this.playing) this.startTimer();
    this.render();
  }
}

Object.assign(Viewer.prototype, ControlMethods, DrawMethods, StatsMethods, CameraMethods);
