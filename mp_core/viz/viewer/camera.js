/* camera.js: the camera as a source. Every new camera frame, drawn at the viewer's size, pairs with the
 * one before; a LiveClip keeps the last LIVE_PAIRS pairs (the rolling window of the statistics, R and the
 * histogram) in the shape of a decoded clip, so drawing and the API read it as they read a clip. Nothing
 * leaves the page, except a recording the user asks for (sent to the host as the session's clip).
 */
const LIVE_PAIRS = 8; // the rolling window: about 0.3 s at 30 frames/s
const FPS_FRAMES = 30; // the measured rate is over the last this many frames
const RECORD_MAX_S = 10; // a recording stops itself after this: a few seconds is what a demo needs
const RECORD_BITS = 2_000_000; // bits/s asked of MediaRecorder: 10 s stay near 2.5 MB (the host's bound: 16 MiB)
const RECORD_MAX_BYTES = 16 * 2 ** 20;

class LiveClip {
  constructor(width, height, luts, histogram) {
    Object.assign(this, { id: "camera", name: "camera", width, height, n: width * height, luts });
    this.rgba = []; this.gray = []; this.diff = []; // frames k, k+1 pair as diff[k] = gray[k+1] - gray[k]
    this.peak = []; this.counts = []; // per pair: max |D| and its histogram
    this.att = []; this.sums = []; this.steps = []; // per pair at this.key: A, [sum A, #A > 0.5], |A_t+1 - A_t|^2/n
    this.key = null;
    this.limit = 1e-3;
    const bins = histogram ? histogram.counts.length : 201;
    this.histogram = {
      counts: new Float64Array(bins), low: histogram ? histogram.low : -1, high: histogram ? histogram.high : 1,
    };
    this.times = [];
    this.costs = [];
    this.received = 0; // new frames
    this.repeated = 0; // frames identical to the one before, skipped
  }

  get pairs() { return this.diff.length; }
  get frames() { return this.rgba.length; }

  // Milliseconds of one frame's work in the page (grab, gray, D, histogram, panels): the median of the last
  // FPS_FRAMES. The statistics follow in their own task and are not counted.
  spent(ms) {
    this.costs.push(ms);
    if (this.costs.length > FPS_FRAMES) this.costs.shift();
  }

  frameMs() {
    const sorted = this.costs.slice().sort((a, b) => a - b);
    return sorted.length ? sorted[sorted.length >> 1] : 0;
  }

  measuredFps() {
    const times = this.times;
    return times.length < 2 ? 0 : (1000 * (times.length - 1)) / (times[times.length - 1] - times[0]);
  }

  // False (and nothing kept) for a frame identical to the one before: a camera can hand the same frame twice,
  // and a pair of one frame twice is not motion.
  push(rgba) {
    const last = this.rgba[this.rgba.length - 1];
    if (last && sameBytes(last, rgba)) {
      this.repeated += 1;
      return false;
    }
    this.received += 1;
    this.times.push(performance.now());
    if (this.times.length > FPS_FRAMES) this.times.shift();
    const spare = this.rgba.length > LIVE_PAIRS ? this.evict() : null;
    const gray = grayOf(rgba, this.n, spare && spare.gray);
    if (this.gray.length) {
      const previous = this.gray[this.gray.length - 1];
      const d = (spare && spare.diff) || new Float32Array(this.n);
      let peak = 0;
      for (let i = 0; i < this.n; i++) {
        const v = gray[i] - previous[i];
        d[i] = v;
        const magnitude = v < 0 ? -v : v;
        if (magnitude > peak) peak = magnitude;
      }
      const counts = histogramInto((spare && spare.counts && spare.counts.fill(0)) || new Float64Array(this.histogram.counts.length),
        d, this.histogram.low, this.histogram.high);
      for (let k = 0; k < counts.length; k++) this.histogram.counts[k] += counts[k];
      this.diff.push(d); this.peak.push(peak); this.counts.push(counts);
      this.att.push(null); this.sums.push(null); this.steps.push(null);
      this.limit = Math.max(1e-3, ...this.peak);
    }
    this.rgba.push(rgba); this.gray.push(gray);
    return true;
  }

  // Drops the oldest frame and pair; hands back their buffers for reuse.
  evict() {
    this.rgba.shift();
    const spare = { gray: this.gray.shift(), diff: this.diff.shift(), counts: this.counts.shift() };
    for (let k = 0; k < spare.counts.length; k++) this.histogram.counts[k] -= spare.counts[k];
    this.peak.shift(); this.sums.shift(); this.steps.shift();
    spare.att = this.att.shift();
    return spare;
  }

  keyFor(slope, shift) {
    const key = `${slope}:${shift}`;
    if (key !== this.key) { // new parameters: every pair's attention is recomputed
      this.key = key;
      this.att.fill(null); this.sums.fill(null); this.steps.fill(null);
    }
  }

  // The redraw computed A_t at (slope, shift): keep it for the statistics instead of computing it again.
  attentionShown(t, A, slope, shift, sums) {
    this.keyFor(slope, shift);
    if (!this.att[t]) {
      this.att[t] = A.slice();
      this.sums[t] = sums;
    }
  }

  stats(slope, shift) {
    this.keyFor(slope, shift);
    const n = this.n;
    let sum = 0, above = 0;
    for (let t = 0; t < this.pairs; t++) {
      if (!this.att[t]) this.att[t] = attentionInto(new Float32Array(n), this.diff[t], slope, shift);
      if (!this.sums[t]) {
        let s = 0, a5 = 0;
        const A = this.att[t];
        for (let i = 0; i < n; i++) { s += A[i]; if (A[i] > 0.5) a5 += 1; }
        this.sums[t] = [s, a5];
      }
      sum += this.sums[t][0]; above += this.sums[t][1];
      if (t > 0 && this.steps[t - 1] === null) {
        const current = this.att[t], previous = this.att[t - 1];
        let step = 0;
        for (let i = 0; i < n; i++) { const delta = f32(current[i] - previous[i]); step += delta * delta; }
        this.steps[t - 1] = step / n;
      }
    }
    const variation = this.steps.slice(0, Math.max(this.pairs - 1, 0));
    const count = this.pairs * n || 1;
    return {
      meanAttention: sum / count, shareAboveHalf: above / count, variation,
      variationMean: variation.length ? variation.reduce((a, b) => a + b, 0) / variation.length : 0,
      pairs: this.pairs,
    };
  }
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length >> 2), y = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function cameraProblem(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "PermissionDeniedError") {
    return "Camera permission was denied. Allow the camera for this site (the camera icon in the address "
      + "bar, or the browser's site settings), then press Camera again.";
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return "No camera was found. Connect one (or enable it in the system settings), then press Camera again.";
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return "The camera could not be started: another application may be using it.";
  }
  if (name === "SecurityError") return insecureMessage();
  return `The camera could not be started: ${name || "error"}${error && error.message ? `: ${error.message}` : ""}`;
}

function insecureMessage() {
  return `Browsers allow the camera only on secure pages (https, or localhost), and this page is ${location.origin}. `
    + "Serve the app over https (the README says how, for a room) or open it on this computer at localhost.";
}

const CameraMethods = {
  async startCamera(options) {
    options = options || {};
    if (this.live || this.cameraStarting) return this.api().info();
    this.showCameraMessage("");
    if (!window.isSecureContext) return this.failCamera(insecureMessage(), "insecure");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return this.failCamera("This browser gives no access to a camera (no navigator.mediaDevices).", "unsupported");
    }
    const host = this.clip;
    if (!host) return this.failCamera("Wait for the clip to load, then press Camera.", "no-clip");
    this.cameraStarting = true;
    this.cameraButton.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
      });
      this.video.srcObject = stream;
      await this.video.play();
    } catch (error) {
      if (stream) stream.getTracks().forEach((track) => track.stop());
      return this.failCamera(cameraProblem(error), error && error.name);
    } finally {
      this.cameraStarting = false;
      this.cameraButton.disabled = false;
    }
    const { videoWidth, videoHeight } = this.video;
    const long = options.longSide || Math.max(host.width, host.height);
    const scale = long / Math.max(videoWidth, videoHeight, 1);
    const width = Math.max(2, Math.round(videoWidth * scale)), height = Math.max(2, Math.round(videoHeight * scale));
    this.setPlaying(false);
    this.stream = stream;
    this.savedClip = host;
    this.live = new LiveClip(width, height, host.luts, host.histogram);
    this.grabber = canvas2d(width, height);
    this.statLabels.mean.textContent = `Mean attention (last ${LIVE_PAIRS} pairs)`;
    this.setCameraButtons();
    this.setClip(this.live);
    this.status.textContent = "Waiting for the camera\u2026";
    this.status.hidden = false;
    this.nextCameraFrame();
    // A page that removes the viewer (Streamlit leaving Explore) may stop the frame callbacks too: the camera
    // is released by this check, not left on.
    this.cameraWatch = setInterval(() => { if (!this.connected()) this.stopCamera(); }, 1000);
    return this.api().info();
  },

  failCamera(message, reason) {
    this.showCameraMessage(message, reason);
    return this.api().info();
  },

  showCameraMessage(message, reason) {
    this.cameraMessage.textContent = message;
    this.cameraMessage.hidden = !message;
    this.cameraMessage.dataset.reason = reason || "";
  },

  setCameraButtons() {
    const on = Boolean(this.live);
    this.cameraButton.textContent = on ? "\u25a0 Stop camera" : "\ud83d\udcf7 Camera";
    this.cameraButton.setAttribute("aria-label", on ? "Stop camera" : "Camera");
    this.recordButton.hidden = !on || !this.commit || typeof MediaRecorder !== "function";
    const recording = Boolean(this.recorder);
    this.recordButton.textContent = recording ? "\u25a0 Stop recording" : "\u25cf Record";
    this.recordButton.setAttribute("aria-label", recording ? "Stop recording" : "Record");
    this.liveNote.hidden = !on;
  },

  nextCameraFrame() {
    const video = this.video;
    if (typeof video.requestVideoFrameCallback === "function") {
      this.frameRequest = video.requestVideoFrameCallback(() => this.onCameraFrame());
    } else { // one frame per animation frame, skipping those where the video has not moved
      this.frameRequest = requestAnimationFrame(() => {
        if (video.currentTime === this.lastVideoTime) return this.nextCameraFrame();
        this.lastVideoTime = video.currentTime;
        this.onCameraFrame();
      });
    }
  },

  onCameraFrame() {
    const live = this.live;
    if (!live) return;
    if (!this.connected()) { this.stopCamera(); return; }
    const started = performance.now();
    this.grabber.drawImage(this.video, 0, 0, live.width, live.height);
    const added = live.push(this.grabber.getImageData(0, 0, live.width, live.height).data);
    this.diffShown = null; // the newest pair may reuse an evicted pair's buffer
    if (added && live.pairs > 0) {
      this.status.hidden = true;
      this.writeScale();
      this.render();
      const fps = live.measuredFps();
      this.liveNote.textContent = `${live.width}\u00d7${live.height} \u00b7 ${fps.toFixed(1)} frames/s`
        + (this.recorder ? ` \u00b7 recording ${((performance.now() - this.recordStarted) / 1000).toFixed(1)} s` : "");
    }
    live.spent(performance.now() - started);
    this.nextCameraFrame();
  },

  stopCamera() {
    if (!this.live) return this.api().info();
    if (this.recorder) this.stopRecording(false);
    clearInterval(this.cameraWatch);
    if (typeof this.video.cancelVideoFrameCallback === "function") this.video.cancelVideoFrameCallback(this.frameRequest);
    cancelAnimationFrame(this.frameRequest);
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.video.srcObject = null;
    this.stream = null;
    this.live = null;
    this.grabber = null;
    this.statLabels.mean.textContent = "Mean attention (clip)";
    this.setCameraButtons();
    const clip = this.savedClip;
    this.savedClip = null;
    this.status.hidden = true;
    if (clip) this.setClip(clip);
    return this.api().info();
  },

  startRecording() {
    if (!this.stream || this.recorder) return;
    // VP8 first: cheaper to encode while the viewer runs, and to decode on the server, than VP9
    const type = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm"]
      .find((mime) => MediaRecorder.isTypeSupported(mime));
    if (!type) return this.showCameraMessage("This browser cannot record WebM video.", "no-webm");
    const chunks = [];
    const recorder = new MediaRecorder(this.stream, { mimeType: type, videoBitsPerSecond: RECORD_BITS });
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      if (recorder.keep) this.sendRecording(new Blob(chunks, { type }), (performance.now() - this.recordStarted) / 1000);
    };
    this.recorder = recorder;
    this.recordStarted = performance.now();
    this.recordTimer = setTimeout(() => this.stopRecording(true), RECORD_MAX_S * 1000);
    recorder.start();
    this.setCameraButtons();
  },

  stopRecording(keep = true) {
    const recorder = this.recorder;
    if (!recorder) return;
    clearTimeout(this.recordTimer);
    this.recorder = null;
    recorder.keep = keep;
    this.recordStopped = performance.now();
    recorder.stop();
    this.setCameraButtons();
  },

  async sendRecording(blob, seconds) {
    if (blob.size > RECORD_MAX_BYTES) {
      this.showCameraMessage(`The recording is ${(blob.size / 2 ** 20).toFixed(1)} MiB, over the ${RECORD_MAX_BYTES / 2 ** 20} MiB `
        + "a recording may take: record fewer seconds.", "too-large");
      return;
    }
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    const name = `camera-${stamp}.webm`;
    this.stopCamera(); // the host answers with the recording as the clip
    this.status.textContent = `Sending the recording (${seconds.toFixed(1)} s, ${(blob.size / 1e6).toFixed(2)} MB)\u2026`;
    this.status.hidden = false;
    this.send("recording", { name, mime: blob.type, seconds, bytes: blob.size, data });
    this.recordingSeq = this.seq; // the host's acknowledgement of it ends the "Sending" status (viewer.js)
  },
};
