// The page state: the experiment spec plus a few page-only settings.
// One table (PROPS) says how each property is written to and read from the share link,
// like TensorFlow Playground's state table; nothing else knows the URL format.

import { layerCodec } from './layercodec.js';
import { clone, getPath, setPath } from './util.js';

// key: name in the link; path: where it lives in the spec (or ui: a page setting).
export const PROPS = [
  { key: 'data', path: 'dataset.name', type: 'string' },
  { key: 'n', path: 'dataset.n_samples', type: 'int' },
  { key: 'noise', path: 'dataset.noise', type: 'float' },
  { key: 'split', path: 'dataset.test_fraction', type: 'float' },
  { key: 'classes', path: 'dataset.classes', type: 'int' },
  { key: 'norm', path: 'dataset.normalization', type: 'string' },
  { key: 'dseed', path: 'dataset.seed', type: 'int' },
  { key: 'f', path: 'features', type: 'list' },
  { key: 'layers', path: 'model.layers', type: 'layers' },
  { key: 'init', path: 'model.init', type: 'string' },
  { key: 'opt', path: 'optimizer.name', type: 'string' },
  { key: 'lr', path: 'optimizer.lr', type: 'float' },
  { key: 'mom', path: 'optimizer.momentum', type: 'float', param: 'momentum' },
  { key: 'nest', path: 'optimizer.nesterov', type: 'bool', param: 'nesterov' },
  { key: 'wd', path: 'optimizer.weight_decay', type: 'float', param: 'weight_decay' },
  { key: 'b1', path: 'optimizer.beta1', type: 'float', param: 'beta1' },
  { key: 'b2', path: 'optimizer.beta2', type: 'float', param: 'beta2' },
  { key: 'alpha', path: 'optimizer.alpha', type: 'float', param: 'alpha' },
  { key: 'rho', path: 'optimizer.rho', type: 'float', param: 'rho' },
  { key: 'loss', path: 'loss', type: 'string' },
  { key: 'l1', path: 'regularization.l1', type: 'float' },
  { key: 'l2', path: 'regularization.l2', type: 'float' },
  { key: 'batch', path: 'batch_size', type: 'int' },
  { key: 'seed', path: 'seed', type: 'int' },
  // "Your data" (dataset custom): its rows travel in the link while small (LINK_ROWS).
  { key: 'pts', path: 'dataset.points', type: 'points', own: true },
  { key: 'lab', path: 'dataset.labels', type: 'ints', own: true },
  { key: 'val', path: 'dataset.values', type: 'floats', own: true },
  // Page settings.
  { key: 'lesson', ui: 'lesson', type: 'string' },
  { key: 'showtest', ui: 'showTest', type: 'bool' },
  { key: 'disc', ui: 'discretize', type: 'bool' },
  { key: 'log', ui: 'logScale', type: 'bool' },
  { key: 'hide', ui: 'hide', type: 'list' },
];

// Single runs train until the person stops them (the server's upper limit).
export const OPEN_ENDED_STEPS = 1_000_000;
// The most rows of a person's own data a share link carries (a few KB of address).
export const LINK_ROWS = 300;

export const UI_DEFAULTS = { lesson: '', showTest: false, discretize: false, logScale: false, hide: [] };

export const ENCODE = {
  string: (v) => v,
  int: (v) => String(v),
  float: (v) => String(v),
  bool: (v) => (v ? '1' : '0'),
  list: (v) => v.join(','),
  layers: layerCodec().encode, // without the catalog; a state uses `linkCodecs(catalog)`
  points: (v) => v.map(([x, y]) => `${x}_${y}`).join(','),
  ints: (v) => v.join(','),
  floats: (v) => v.join(','),
};

const numbers = (s, whole) => {
  const out = s ? s.split(',').map(Number) : [];
  return out.every((n) => Number.isFinite(n) && (!whole || Number.isInteger(n))) ? out : undefined;
};

export const DECODE = {
  string: (s) => s,
  int: (s) => (/^-?\d+$/.test(s) ? Number(s) : undefined),
  float: (s) => (s !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined),
  bool: (s) => s === '1' || s === 'true',
  list: (s) => (s ? s.split(',') : []),
  layers: layerCodec().decode,
  points: (s) => {
    const out = s ? s.split(',').map((p) => p.split('_').map(Number)) : [];
    return out.every((p) => p.length === 2 && p.every(Number.isFinite)) ? out : undefined;
  },
  ints: (s) => numbers(s, true),
  floats: (s) => numbers(s, false),
};

/** The link's encoders and decoders, with layers written from the catalog's layer types. */
export function linkCodecs(catalog, extra = {}) {
  const layers = layerCodec(catalog.layer_types);
  return {
    encode: { ...ENCODE, layers: layers.encode, ...extra.encode },
    decode: { ...DECODE, layers: layers.decode, ...extra.decode },
  };
}

export const escape = (s) => encodeURIComponent(s).replace(/%2C/g, ',');

/** The `key=value` pairs of a share link's fragment or query (mangled values skipped). */
export function parseLink(text) {
  const values = new Map();
  for (const pair of text.split('&')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    try {
      values.set(pair.slice(0, at), decodeURIComponent(pair.slice(at + 1)));
    } catch {
      // A mangled value is skipped; the default stays.
    }
  }
  return values;
}

/** Apply link `values` to `state.spec` / `state.ui` through a property table; says what
 * the link held. */
export function applyLinkValues(state, props, decoders, values) {
  const found = { spec: false, ui: false };
  for (const prop of props) {
    if (!values.has(prop.key)) continue;
    const value = decoders[prop.type](values.get(prop.key));
    if (value === undefined) continue;
    if (prop.ui) {
      state.ui[prop.ui] = value;
      found.ui = true;
    } else {
      setPath(state.spec, prop.path, value);
      found.spec = true;
    }
  }
  return found;
}

/**
 * A link's fragment from a property table: every spec property that is set and that `skip`
 * does not leave out, plus the page settings that differ from `uiDefaults`.
 */
export function writeLink(state, props, uiDefaults, skip = () => false) {
  const parts = [];
  for (const prop of props) {
    let value;
    if (prop.ui) {
      value = state.ui[prop.ui];
      const empty = Array.isArray(value) ? value.length === 0 : value === uiDefaults[prop.ui];
      if (empty) continue;
    } else {
      if (skip(prop)) continue;
      value = getPath(state.spec, prop.path);
      if (value === undefined || value === null) continue;
    }
    parts.push(`${prop.key}=${escape(state.codecs.encode[prop.type](value))}`);
  }
  return parts.join('&');
}

/** The playground's state: `spec` (the experiment) and `ui` (page settings). */
export class State {
  constructor(catalog) {
    this.catalog = catalog;
    this.codecs = linkCodecs(catalog);
    this.spec = clone(catalog.defaults);
    this.ui = clone(UI_DEFAULTS);
    this.syncTask();
  }

  get(path) {
    return getPath(this.spec, path);
  }

  set(path, value) {
    setPath(this.spec, path, value);
    if (path === 'dataset.name') this.syncTask();
  }

  /** A person's own rows: {points, labels} (classes) or {points, values} (regression). */
  setOwnData({ points, labels = null, values = null }) {
    const dataset = this.spec.dataset;
    Object.assign(dataset, { points, labels, values });
    if (dataset.name === 'custom') dataset.n_samples = Math.max(points.length, 1);
    this.syncTask();
  }

  /** Task follows from the dataset (own data: values mean regression). */
  syncTask() {
    const info = this.datasetInfo();
    if (info) this.spec.task = info.task;
    const data = this.spec.dataset;
    if (data.name === 'custom') {
      this.spec.task = Array.isArray(data.values) ? 'regression' : 'classification';
      data.n_samples = Math.max(data.points?.length ?? 0, 1);
    }
  }

  /** The link cannot carry this many rows of own data (null when it carries them). */
  linkNote() {
    const n = this.spec.dataset.name === 'custom' ? this.spec.dataset.points?.length ?? 0 : 0;
    return n > LINK_ROWS
      ? `This link cannot carry your ${n} points (at most ${LINK_ROWS}); export the run's spec (Runs view) to share them.`
      : null;
  }

  datasetInfo(name = this.spec.dataset.name) {
    return this.catalog.datasets.find((d) => d.name === name);
  }

  optimizerInfo(name = this.spec.optimizer.name) {
    return this.catalog.optimizers.find((o) => o.name === name);
  }

  /** Training samples after the test split (the server rounds the same way). */
  trainSize() {
    const d = this.spec.dataset;
    return d.n_samples - Math.round(d.n_samples * d.test_fraction);
  }

  /**
   * Keep dependent fields consistent after an edit; returns notes for the person.
   * (The server checks them too; this only spares an avoidable refusal.)
   */
  normalize() {
    const notes = [];
    const spec = this.spec;
    const losses = this.catalog.losses.filter((l) => l.tasks.includes(spec.task));
    if (!losses.some((l) => l.name === spec.loss) && losses.length) {
      notes.push(`Loss set to ${losses[0].label}: ${spec.loss} does not apply to ${spec.task}.`);
      spec.loss = losses[0].name;
    }
    const params = this.optimizerInfo()?.params || [];
    if (spec.optimizer.nesterov && !params.includes('nesterov')) spec.optimizer.nesterov = false;
    const train = this.trainSize();
    if (spec.dataset.name === 'custom' && train >= 1 && spec.batch_size > train) {
      notes.push(`Batch size set to ${train}: your data has ${train} training points.`);
      spec.batch_size = train;
    }
    return notes;
  }

  /** Load a spec (e.g. a preset's) over the catalog defaults. */
  loadSpec(spec) {
    const merged = clone(this.catalog.defaults);
    for (const prop of PROPS) {
      if (!prop.path) continue;
      const value = getPath(spec, prop.path);
      if (value !== undefined) setPath(merged, prop.path, clone(value));
    }
    this.spec = merged;
    this.syncTask();
  }

  /** The spec sent to the server for a single, open-ended run. */
  jobSpec() {
    const spec = clone(this.spec);
    spec.max_steps = OPEN_ENDED_STEPS;
    delete spec.name;
    // Own data travels only with the custom dataset (kept in the state for switching back).
    if (spec.dataset.name !== 'custom') Object.assign(spec.dataset, { points: null, labels: null, values: null });
    return spec;
  }

  /** The share link's fragment: every spec property plus the page settings that differ. */
  toHash({ specless = false } = {}) {
    const used = new Set(this.optimizerInfo()?.params || []);
    const ownInLink = this.spec.dataset.name === 'custom' && !this.linkNote();
    return writeLink(this, PROPS, UI_DEFAULTS,
      (prop) => specless || (prop.param && !used.has(prop.param)) || (prop.own && !ownInLink));
  }

  /** Read a share link's fragment (or query) over the defaults; says what it held. */
  fromHash(hash) {
    const text = hash.replace(/^[#?]/, '');
    if (!text) return { spec: false, ui: false };
    const found = applyLinkValues(this, PROPS, this.codecs.decode, parseLink(text));
    this.syncTask();
    return found;
  }
}
