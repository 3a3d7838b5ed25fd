/* decode.js: clips, decoded once per content hash and shared by every viewer of the page.
 *
 * A clip arrives as clip_bytes() (app: "MPV1", uint32 LE header length, JSON header, raw RGB frames) or
 * clip_payload() (demo: JSON with lossless PNG frames); both become {rgba[], diff[], luts, histogram, ...}.
 */
const KEEP_CLIPS = 2; // decoded clips kept in the page (the current one and the one before)
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
