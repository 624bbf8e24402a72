// Colours: one diverging scale (orange – white – blue, TensorFlow Playground's) for every
// heatmap, link and two-class point, and one categorical palette for more classes and races.

export const NEG = [245, 147, 34]; // -1, class 0
export const MID = [232, 234, 235]; // 0
export const POS = [8, 119, 189]; // +1, class 1

// Class colours; the first two are the ends of the diverging scale so that a two-class
// problem looks the same whichever way it is drawn.
export const CATEGORICAL = [
  NEG, POS, [46, 160, 67], [214, 51, 108], [124, 92, 196],
  [140, 109, 70], [23, 163, 163], [230, 184, 0], [107, 114, 128], [227, 119, 194],
];

// Race runs: distinct, print-safe, readable on a projector.
export const SERIES = [
  '#0877bd', '#f59322', '#2ea043', '#d6336c', '#7c5cc4', '#8c6d46', '#17a3a3', '#e6b800',
  '#6b7280', '#e377c2',
];

export const css = ([r, g, b], a = 1) => (a === 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${a})`);

const lerp = (a, b, t) => a + (b - a) * t;
const mix = (c1, c2, t) => [lerp(c1[0], c2[0], t), lerp(c1[1], c2[1], t), lerp(c1[2], c2[2], t)];

/** Colour of a value in [-1, 1] (clamped). */
export function diverging(t) {
  const v = Math.max(-1, Math.min(1, t));
  return v < 0 ? mix(MID, NEG, -v) : mix(MID, POS, v);
}

// Heatmap backgrounds are the same scale, a little lighter so points stay readable on top.
const FIELD_LIGHTEN = 0.3;
const field = (c) => mix(c, [255, 255, 255], FIELD_LIGHTEN);

const lutCache = new Map();

/**
 * RGBA lookup table for a byte grid whose 0 and 255 stand for `lo` and `hi`.
 * Values are coloured symmetrically around 0 (white), scaled by the larger of |lo|, |hi|.
 * `levels` > 0 quantises the output into that many bands per side (discretised view).
 */
export function byteLUT(lo, hi, levels = 0) {
  const key = `${lo},${hi},${levels}`;
  let lut = lutCache.get(key);
  if (lut) return lut;
  lut = new Uint8ClampedArray(256 * 4);
  const extent = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  for (let b = 0; b < 256; b++) {
    let t = (lo + (b / 255) * (hi - lo)) / extent;
    if (levels === 1) t = t >= 0 ? 1 : -1;
    else if (levels > 1) t = Math.sign(t) * Math.ceil(Math.abs(t) * levels) / levels;
    const c = field(diverging(t));
    lut.set([c[0], c[1], c[2], 255], b * 4);
  }
  lutCache.set(key, lut);
  return lut;
}

/** RGBA table for k classes x 256 confidence bytes: paler where the network is unsure. */
export function classLUT(k, discrete = false) {
  const key = `classes:${k}:${discrete}`;
  let lut = lutCache.get(key);
  if (lut) return lut;
  lut = new Uint8ClampedArray(k * 256 * 4);
  const floor = 1 / k; // confidence of a uniform guess
  for (let c = 0; c < k; c++) {
    const base = CATEGORICAL[c % CATEGORICAL.length];
    for (let b = 0; b < 256; b++) {
      const s = discrete ? 1 : Math.max(0, Math.min(1, (b / 255 - floor) / (1 - floor)));
      const col = field(mix(MID, base, Math.pow(s, 0.8)));
      lut.set([col[0], col[1], col[2], 255], (c * 256 + b) * 4);
    }
  }
  lutCache.set(key, lut);
  return lut;
}

/** Point colour: class colour, or the diverging scale for a regression target. */
export function pointColor(label, classes, extent) {
  if (classes >= 2) return CATEGORICAL[Math.round(label) % CATEGORICAL.length];
  return diverging(label / (extent || 1));
}

/** A CSS gradient of the diverging scale for legends. */
export const DIVERGING_GRADIENT =
  `linear-gradient(90deg, ${css(field(NEG))}, ${css(field(MID))}, ${css(field(POS))})`;
