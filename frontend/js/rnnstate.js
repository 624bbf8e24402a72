// The RNN lab's state: a sequence spec (sine, memory, trend, text) plus the lab's page
// settings. Like state.js, one table (RNN_PROPS) says how each property goes into the share
// link and back.

import { KindState } from './kindstate.js';
import { clone } from './util.js';

export const RNN_PROPS = [
  { key: 'data', path: 'dataset.name', type: 'string' },
  { key: 'n', path: 'dataset.n_samples', type: 'int' },
  { key: 'split', path: 'dataset.test_fraction', type: 'float' },
  { key: 'len', path: 'dataset.seq_len', type: 'int' },
  { key: 'freq', path: 'dataset.frequency', type: 'float' },
  { key: 'noise', path: 'dataset.noise', type: 'float' },
  { key: 'classes', path: 'dataset.classes', type: 'int' },
  { key: 'text', path: 'dataset.text', type: 'string', own: true },
  { key: 'dseed', path: 'dataset.seed', type: 'int' },
  { key: 'layers', path: 'model.layers', type: 'layers' },
  { key: 'init', path: 'model.init', type: 'string' },
  { key: 'mode', path: 'sequence_mode', type: 'string' },
  { key: 'bptt', path: 'bptt', type: 'int' },
  { key: 'clip', path: 'clip_norm', type: 'float' },
  { key: 'opt', path: 'optimizer.name', type: 'string' },
  { key: 'lr', path: 'optimizer.lr', type: 'float' },
  { key: 'loss', path: 'loss', type: 'string' },
  { key: 'batch', path: 'batch_size', type: 'int' },
  { key: 'seed', path: 'seed', type: 'int' },
  // Page settings.
  { key: 'lesson', ui: 'lesson', type: 'string' },
  { key: 'run', ui: 'variant', type: 'int' }, // which run of a race lesson
  { key: 'probe', ui: 'probe', type: 'int' }, // the test sequence shown
  { key: 'temp', ui: 'temperature', type: 'float' }, // text generation
  { key: 'log', ui: 'logScale', type: 'bool' },
  { key: 'hide', ui: 'hide', type: 'list' },
];

export const RNN_UI_DEFAULTS = { lesson: '', variant: 0, probe: 0, temperature: 0.8, logScale: false, hide: [] };

// The most characters of a person's own text a share link carries.
const LINK_TEXT = 1500;
// Where the lab starts: the rnn-sine lesson's network (a 16-unit RNN reads 20 values of a
// sine and predicts the next; test error under 0.01 in a few hundred steps).
const START_LAYERS = [{ type: 'rnn', units: 16, num_layers: 1, dropout: 0, nonlinearity: 'tanh' }];
export const CELLS = ['rnn', 'gru', 'lstm'];

/** Whether a spec trains on sequences (what this lab trains). */
export function isSequenceRun(spec, catalog) {
  return catalog.datasets.find((d) => d.name === spec.dataset?.name)?.kind === 'sequence';
}

export class RnnState extends KindState {
  constructor(catalog) {
    super(catalog, { props: RNN_PROPS, uiDefaults: RNN_UI_DEFAULTS, kind: 'sequence', start: 'sine' });
  }

  defaults(name) {
    const spec = clone(this.catalog.defaults);
    const info = this.datasetInfo(name);
    spec.task = info?.task ?? 'regression';
    Object.assign(spec.dataset, {
      name, n_samples: 500, test_fraction: 0.2, seq_len: 20, noise: 0, seed: 0,
      points: null, labels: null, values: null, text: null,
    });
    spec.model.layers = clone(START_LAYERS);
    spec.model.init = 'xavier_uniform';
    spec.optimizer = { ...spec.optimizer, name: 'adam', lr: 0.01 };
    spec.loss = spec.task === 'regression' ? 'mse' : 'cross_entropy';
    spec.batch_size = 32;
    spec.sequence_mode = name === 'text' ? 'many_to_many' : 'many_to_one';
    return spec;
  }

  set(path, value) {
    super.set(path, value);
    if (path === 'dataset.name') {
      // The task and the loss follow the data; text is read many to many (the next character each step).
      this.spec.task = this.datasetInfo(value)?.task ?? this.spec.task;
      this.spec.loss = this.spec.task === 'regression' ? 'mse' : 'cross_entropy';
      this.spec.sequence_mode = value === 'text' ? 'many_to_many' : 'many_to_one';
    }
  }

  /** The recurrent layers' cell type ('rnn', 'gru', 'lstm'). */
  cell() {
    return this.spec.model.layers.find((l) => CELLS.includes(l.type))?.type ?? 'rnn';
  }

  /** Every recurrent layer becomes a `cell`, keeping its units and stacking. */
  setCell(cell) {
    this.spec.model.layers = this.spec.model.layers.map((l) => (CELLS.includes(l.type) ? { ...l, type: cell } : l));
    if (!this.spec.model.layers.some((l) => CELLS.includes(l.type))) this.spec.model.layers.unshift({ ...START_LAYERS[0], type: cell });
  }

  normalize() {
    const spec = this.spec;
    const info = this.datasetInfo();
    if (info) spec.task = info.task;
    const losses = this.catalog.losses.filter((l) => l.tasks.includes(spec.task));
    if (!losses.some((l) => l.name === spec.loss) && losses.length) spec.loss = losses[0].name;
    return [];
  }

  /** The spec sent to the server: a sequence run that trains until paused. */
  jobSpec() {
    const spec = super.jobSpec();
    if (spec.dataset.name !== 'text') spec.dataset.text = null;
    return spec;
  }

  /** What the link leaves out: a long text of the person's own (null when it carries everything). */
  linkNote() {
    const text = this.spec.dataset.text ?? '';
    return text.length > LINK_TEXT
      ? `This link cannot carry your ${text.length}-character text (at most ${LINK_TEXT}); export the run's spec (Runs view) to share it.`
      : null;
  }

  /** A text of the person's own travels in the link while it is short enough. */
  leftOut(prop) {
    return prop.own && !!this.linkNote();
  }
}
