/* math.js: the method's arithmetic as mp_core does it (float32, torch's round half to even).
 *
 * FORMULA (the slope/shift constants) is generated into the bundle from mp_core.params by
 * mp_core/viz/viewer/__init__.py: the formula has one definition, in Python.
 */
const f32 = Math.fround;
const GRAY = [f32(0.299), f32(0.587), f32(0.114)];
const UNIT = Float32Array.from({ length: 256 }, (_, v) => f32(v / 255)); // a byte in [0, 1], as float32

function roundEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

function toByte(x) {
  const r = roundEven(x);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

// a = SLOPE_SCALE / (SLOPE_TANH |tanh m| + SLOPE_FLOOR), b = SHIFT_SCALE tanh n
const slopeOf = (m) => FORMULA.slope_scale / (FORMULA.slope_tanh * Math.abs(Math.tanh(m)) + FORMULA.slope_floor);
const shiftOf = (n) => FORMULA.shift_scale * Math.tanh(n);

// gray = 0.299 R + 0.587 G + 0.114 B of an RGBA frame in [0, 255], as float32 in [0, 1]
function grayOf(rgba, n, out) {
  const gray = out || new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const r = f32(UNIT[rgba[j]] * GRAY[0]);
    const g = f32(UNIT[rgba[j + 1]] * GRAY[1]);
    const b = f32(UNIT[rgba[j + 2]] * GRAY[2]);
    gray[i] = f32(r + g) + b;
  }
  return gray;
}

function attentionInto(out, d, slope, shift) {
  const a = f32(slope), b = f32(shift);
  for (let i = 0; i < d.length; i++) out[i] = 1 / (1 + Math.exp(-f32(f32(d[i] - b) * a)));
  return out;
}

// torch.histc's bins over [low, high] (a value at `high` falls in the last bin), added into `counts`.
function histogramInto(counts, d, low, high) {
  const bins = counts.length, scale = bins / (high - low);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v < low || v > high) continue;
    const k = Math.floor((v - low) * scale);
    counts[k < bins ? k : bins - 1] += 1;
  }
  return counts;
}

// The smallest 1, 2 or 5 times a power of ten at or above `value` (> 0): a round top for an axis.
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((k) => k * power).find((v) => v >= value * (1 - 1e-12));
}

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
