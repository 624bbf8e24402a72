// The state of a lab that trains one kind of data (the CNN lab's images, the RNN lab's
// sequences): a spec over the defaults for its dataset, plus page settings, written to and
// read from the share link through the lab's property table. A subclass gives `defaults(name)`
// and `normalize()`; what a link or a loaded spec holds goes through here alone.

import { OPEN_ENDED_STEPS, applyLinkValues, linkCodecs, parseLink, writeLink } from './state.js';
import { clone, getPath, setPath } from './util.js';

export class KindState {
  /** props: the link's property table; uiDefaults: page settings; kind: the data kind; start: the first dataset. */
  constructor(catalog, { props, uiDefaults, kind, start }) {
    Object.assign(this, { catalog, props, uiDefaults, kind, start });
    this.codecs = linkCodecs(catalog);
    this.spec = this.defaults(start);
    this.ui = clone(uiDefaults);
  }

  /** The datasets of the lab's kind, from the catalog. */
  datasets() {
    return this.catalog.datasets.filter((d) => d.kind === this.kind);
  }

  datasetInfo(name = this.spec.dataset.name) {
    return this.catalog.datasets.find((d) => d.name === name);
  }

  optimizerInfo(name = this.spec.optimizer.name) {
    return this.catalog.optimizers.find((o) => o.name === name);
  }

  get(path) {
    return getPath(this.spec, path);
  }

  set(path, value) {
    setPath(this.spec, path, value);
  }

  /** Load a spec (a preset's, a stored run's) over the defaults for its dataset. */
  loadSpec(spec) {
    const name = this.datasets().some((d) => d.name === spec.dataset?.name) ? spec.dataset.name : this.start;
    const merged = this.defaults(name);
    for (const prop of this.props) {
      if (!prop.path) continue;
      const value = getPath(spec, prop.path);
      if (value !== undefined && value !== null) setPath(merged, prop.path, clone(value));
    }
    if (spec.optimizer) merged.optimizer = { ...merged.optimizer, ...clone(spec.optimizer) };
    this.spec = merged;
  }

  /** The spec sent to the server: a run that trains until paused. */
  jobSpec() {
    const spec = clone(this.spec);
    spec.max_steps = OPEN_ENDED_STEPS;
    delete spec.name;
    return spec;
  }

  /** Whether the link leaves out spec property `prop` (besides optimizer fields not in use). */
  leftOut(_prop) {
    return false;
  }

  toHash() {
    const used = new Set(this.optimizerInfo()?.params || []);
    return writeLink(this, this.props, this.uiDefaults,
      (prop) => (prop.param && !used.has(prop.param)) || this.leftOut(prop));
  }

  /** Read a link's fragment over the defaults of the dataset it names; says what it held. */
  fromHash(hash) {
    const text = hash.replace(/^[#?]/, '');
    if (!text) return { spec: false, ui: false };
    const values = parseLink(text);
    const name = values.get('data');
    if (name && this.datasets().some((d) => d.name === name)) this.spec = this.defaults(name);
    const found = applyLinkValues(this, this.props, this.codecs.decode, values);
    this.normalize();
    return found;
  }
}
