// The GAN lab's state: a GAN experiment spec plus the lab's page settings. Like state.js, one
// table (GAN_PROPS) says how each property goes into the share link and comes back.

import { OPEN_ENDED_STEPS, applyLinkValues, linkCodecs, parseLink, writeLink } from './state.js';
import { clone, getPath, setPath } from './util.js';

// Where the page starts when a link names no experiment. The catalog gives the networks,
// latent size, losses and step ratios; a GAN wants a gentler optimizer than the playground's
// suggestions: Adam at 0.001 with β₁ 0.5 (the usual DCGAN setting), batches of 64.
const GAN_OPTIMIZER = { name: 'adam', lr: 0.001, beta1: 0.5 };
const GAN_BATCH = 64;
const POINT_SAMPLES = 1000;
export const IMAGE_LATENT = 16; // a latent size that draws 8x8 digits well (the digits lesson's)

// Every layer the page can show, by name; a network's optimizer parameters are written only
// when that optimizer uses them (catalog `params`).
const OPT_PARAMS = [
  ['mom', 'momentum', 'float'], ['nest', 'nesterov', 'bool'], ['wd', 'weight_decay', 'float'],
  ['b1', 'beta1', 'float'], ['b2', 'beta2', 'float'], ['alpha', 'alpha', 'float'], ['rho', 'rho', 'float'],
];
const optimizerProps = (net, path) => [
  { key: `${net}opt`, path: `${path}.name`, type: 'string' },
  { key: `${net}lr`, path: `${path}.lr`, type: 'float' },
  ...OPT_PARAMS.map(([key, param, type]) => ({ key: `${net}${key}`, path: `${path}.${param}`, type, param, net: path })),
];

export const GAN_PROPS = [
  { key: 'data', path: 'dataset.name', type: 'string' },
  { key: 'n', path: 'dataset.n_samples', type: 'int' },
  { key: 'noise', path: 'dataset.noise', type: 'float' },
  { key: 'modes', path: 'dataset.modes', type: 'int', only: 'modes' },
  { key: 'pts', path: 'dataset.points', type: 'points', only: 'points' },
  { key: 'dseed', path: 'dataset.seed', type: 'int' },
  { key: 'g', path: 'generator.layers', type: 'layers' },
  { key: 'ginit', path: 'generator.init', type: 'string' },
  { key: 'd', path: 'discriminator.layers', type: 'layers' },
  { key: 'dinit', path: 'discriminator.init', type: 'string' },
  { key: 'z', path: 'latent_dim', type: 'int' },
  { key: 'zn', path: 'noise', type: 'string' },
  { key: 'gl', path: 'gan_loss', type: 'string' },
  { key: 'gp', path: 'gradient_penalty', type: 'float' },
  { key: 'ds', path: 'd_steps', type: 'int' },
  { key: 'gs', path: 'g_steps', type: 'int' },
  ...optimizerProps('g', 'g_optimizer'),
  ...optimizerProps('d', 'd_optimizer'),
  { key: 'batch', path: 'batch_size', type: 'int' },
  { key: 'seed', path: 'seed', type: 'int' },
  // Page settings.
  { key: 'lesson', ui: 'lesson', type: 'string' },
  { key: 'off', ui: 'off', type: 'list' }, // visual layers switched off
  { key: 'slow', ui: 'slow', type: 'bool' },
  { key: 'every', ui: 'every', type: 'int' }, // slow motion: ms between steps
  { key: 'log', ui: 'logScale', type: 'bool' },
  { key: 'hide', ui: 'hide', type: 'list' },
];

export const GAN_UI_DEFAULTS = { lesson: '', off: [], slow: false, every: 300, logScale: false, hide: [] };

/** A target's name as a GAN target: the mixture is "Gaussians" (as a classification set, two). */
export function targetTitle(info) {
  return info.modes ? 'Gaussians' : info.title;
}

// ----- drawn points in the link -------------------------------------------------------
// Each coordinate in [-6, 6] becomes one of 4,095 levels (12 bits, steps of 0.003, 0 exact),
// two base64url characters; so a point is four characters and the largest drawing (2,000
// points) 8,000. The drawing pad places points on the same levels, so a link is exact.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LEVELS = 4094; // the highest level; 2047 is 0
const LIMIT = 6;

const level = (v) => Math.max(0, Math.min(LEVELS, Math.round(((v + LIMIT) / (2 * LIMIT)) * LEVELS)));
const unlevel = (q) => Math.round((-LIMIT + (q / LEVELS) * 2 * LIMIT) * 1e4) / 1e4;

/** A coordinate on the levels the link can hold. */
export const snapCoordinate = (v) => unlevel(level(v));

export function encodePoints(points) {
  let out = '';
  for (const point of points) {
    for (const v of point) {
      const q = level(v);
      out += B64[q >> 6] + B64[q & 63];
    }
  }
  return out;
}

export function decodePoints(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const points = [];
  const value = (i) => unlevel(Math.min(LEVELS, (B64.indexOf(text[i]) << 6) | B64.indexOf(text[i + 1])));
  for (let i = 0; i + 3 < text.length; i += 4) points.push([value(i), value(i + 2)]);
  return points;
}

const POINTS = { encode: { points: (v) => encodePoints(v) }, decode: { points: (s) => decodePoints(s) } };

// ----- the state ---------------------------------------------------------------------

/** The GAN experiment (`spec`, always complete: both optimizers, both networks) and page settings. */
export class GanState {
  constructor(catalog) {
    this.catalog = catalog;
    this.gan = catalog.gan;
    this.codecs = linkCodecs(catalog, POINTS);
    this.spec = this.defaults('ring');
    this.ui = clone(GAN_UI_DEFAULTS);
  }

  get(path) {
    return getPath(this.spec, path);
  }

  set(path, value) {
    setPath(this.spec, path, value);
  }

  /** A complete GAN spec for `target` from the catalog's defaults (plus the page's optimizer). */
  defaults(target) {
    const image = this.isImage(target);
    const kind = image ? 'images' : 'points';
    const d = this.gan.defaults;
    const optimizer = { ...clone(this.catalog.defaults.optimizer), ...GAN_OPTIMIZER };
    return {
      task: 'gan',
      dataset: {
        name: target, n_samples: image ? this.gan.limits.max_digits : POINT_SAMPLES,
        noise: 0, seed: 0, modes: d.modes, points: [],
      },
      generator: clone(d.generator[kind]),
      discriminator: clone(d.discriminator[kind]),
      latent_dim: image ? IMAGE_LATENT : d.latent_dim,
      noise: d.noise,
      gan_loss: d.gan_loss,
      gradient_penalty: d.gradient_penalty,
      d_steps: d.d_steps,
      g_steps: d.g_steps,
      g_optimizer: clone(optimizer),
      d_optimizer: clone(optimizer),
      batch_size: GAN_BATCH,
      seed: 0,
    };
  }

  targetInfo(name = this.spec.dataset.name) {
    return this.catalog.datasets.find((d) => d.name === name);
  }

  isImage(name = this.spec.dataset.name) {
    return !!this.targetInfo(name)?.image;
  }

  optimizerInfo(name) {
    return this.catalog.optimizers.find((o) => o.name === name);
  }

  lossInfo(name = this.spec.gan_loss) {
    return this.gan.losses.find((l) => l.name === name);
  }

  /** Whether the generator's manifold can be drawn (latent 1 or 2, a 2-D target). */
  hasManifold() {
    return !this.isImage() && this.spec.latent_dim <= this.gan.limits.max_manifold_latent_dim;
  }

  /**
   * Switch the target. Moving between points and images swaps in the networks, latent size and
   * sample count that suit the new kind; returns notes for the person.
   */
  setTarget(name) {
    const was = this.isImage();
    this.spec.dataset.name = name;
    if (was === this.isImage()) return [];
    const fresh = this.defaults(name);
    const spec = this.spec;
    for (const key of ['generator', 'discriminator', 'latent_dim']) spec[key] = fresh[key];
    spec.dataset.n_samples = fresh.dataset.n_samples;
    const g = spec.generator.layers.map((l) => l.units).join('–');
    return this.isImage()
      ? [`Digits: ${g}-unit networks and a latent vector of ${spec.latent_dim} numbers, a good start for 8×8 images.`]
      : [`2-D target: ${g}-unit networks and a 2-D latent vector, so the manifold can be drawn.`];
  }

  /** Keep dependent fields consistent after an edit; returns notes for the person. */
  normalize() {
    const notes = [];
    const spec = this.spec;
    const data = spec.dataset;
    if (this.isImage() && data.n_samples > this.gan.limits.max_digits) {
      data.n_samples = this.gan.limits.max_digits;
    }
    if (spec.batch_size > data.n_samples) {
      spec.batch_size = data.n_samples;
      notes.push(`Batch size set to ${data.n_samples}, the number of real samples.`);
    }
    for (const opt of [spec.g_optimizer, spec.d_optimizer]) {
      const params = this.optimizerInfo(opt.name)?.params || [];
      if (opt.nesterov && (!params.includes('nesterov') || !(opt.momentum > 0))) opt.nesterov = false;
    }
    return notes;
  }

  /** Load a GAN spec (a preset's, a stored run's) over the defaults for its target. */
  loadSpec(spec) {
    const target = spec.dataset?.name && this.targetInfo(spec.dataset.name)?.tasks.includes('gan')
      ? spec.dataset.name : 'ring';
    const merged = this.defaults(target);
    for (const prop of GAN_PROPS) {
      if (!prop.path || prop.path.includes('_optimizer')) continue;
      const value = getPath(spec, prop.path);
      if (value !== undefined && value !== null) setPath(merged, prop.path, clone(value));
    }
    // Each network's optimizer falls back to the spec's shared `optimizer`, as on the server.
    for (const key of ['g_optimizer', 'd_optimizer']) {
      const own = spec[key] || spec.optimizer;
      if (own) merged[key] = { ...clone(this.catalog.defaults.optimizer), ...clone(own) };
    }
    this.spec = merged;
  }

  /** The spec sent to the server: a GAN that trains until paused. */
  jobSpec() {
    const spec = clone(this.spec);
    if (spec.dataset.name !== 'drawn') spec.dataset.points = null;
    spec.optimizer = clone(spec.g_optimizer); // unused when both networks name their own
    spec.max_steps = OPEN_ENDED_STEPS;
    return spec;
  }

  /** The link's fragment: every spec property that applies, plus page settings that differ. */
  toHash() {
    const info = this.targetInfo();
    return writeLink(this, GAN_PROPS, GAN_UI_DEFAULTS, (prop) => {
      if (prop.only === 'modes' && !info?.modes) return true;
      if (prop.only === 'points' && !this.spec.dataset.points?.length) return true;
      if (!prop.param) return false;
      const used = this.optimizerInfo(getPath(this.spec, `${prop.net}.name`))?.params || [];
      return !used.includes(prop.param);
    });
  }

  /** Read a link's fragment over the defaults of the target it names; says what it held. */
  fromHash(hash) {
    const text = hash.replace(/^[#?]/, '');
    if (!text) return { spec: false, ui: false };
    const values = parseLink(text);
    const target = values.get('data');
    if (target && this.targetInfo(target)?.tasks.includes('gan')) this.spec = this.defaults(target);
    return applyLinkValues(this, GAN_PROPS, this.codecs.decode, values);
  }
}
