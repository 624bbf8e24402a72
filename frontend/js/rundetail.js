// One run opened from the Runs view: its boundary (final, or live while it trains) and curves
// from the job's websocket, its spec in words, and what can be done with it: rename, delete,
// resume an interrupted run, load it into the playground, download its files.

import { api } from './api.js';
import { CurvesView } from './charts.js';
import { HeatmapView } from './heatmap.js';
import { PLAYGROUND_TASKS, playable } from './specfile.js';
import { describeJob } from './status.js';
import { JobStream } from './stream.js';
import { $, FrameScheduler, fmt, h, setText } from './util.js';

const NORMALIZATION = { none: 'no normalisation', minmax: 'min-max', standard: 'standardised' };
const FEATURES = { x1: 'x₁', x2: 'x₂', x1_sq: 'x₁²', x2_sq: 'x₂²', x1x2: 'x₁x₂', sin_x1: 'sin(x₁)', sin_x2: 'sin(x₂)' };
const OPTIMIZER_PARAMS = { momentum: 'momentum', nesterov: 'Nesterov', beta1: 'β₁', beta2: 'β₂', alpha: 'α', rho: 'ρ', weight_decay: 'weight decay' };

/** Ask before something that cannot be undone; resolves true when the person agrees. */
export function confirmAction(text, action) {
  const dialog = $('#confirm-dialog');
  setText($('#confirm-text'), text);
  setText($('#confirm-ok'), action);
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'ok');
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
}

export class RunDetail {
  /**
   * label(job) names a run; labFor(spec) the label of the lab that trains it (or null);
   * onChanged() after an edit; onLoad(spec, label); onClose().
   */
  constructor(root, { catalog, label, labFor = () => null, onChanged, onLoad, onClose }) {
    this.root = root;
    this.catalog = catalog;
    this.label = label;
    this.labFor = labFor;
    this.onChanged = onChanged;
    this.onLoad = onLoad;
    this.onClose = onClose;
    this.id = null;
    this.job = null; // the list's view of the run
    this.spec = null;
    this.stream = null;
    this.latest = null;
    this.scheduler = new FrameScheduler(() => this.draw());
    this.heatmap = new HeatmapView($('#run-heatmap', root), { size: 200 });
    this.curves = new CurvesView($('#run-loss-chart', root), $('#run-accuracy-chart', root),
      { height: 120, accuracyHeight: 96 });
    this.title = $('#run-name', root);
    this.nameInput = $('#run-name-input', root);
    $('#run-close', root).addEventListener('click', () => this.close());
    $('#run-rename', root).addEventListener('click', () => this.startRename());
    this.title.addEventListener('dblclick', () => {
      if (this.job?.owned !== false) this.startRename();
    });
    this.nameInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.finishRename(true);
      else if (e.key === 'Escape') {
        e.stopPropagation();
        this.finishRename(false);
      }
    });
    this.nameInput.addEventListener('blur', () => this.finishRename(true));
    $('#run-delete', root).addEventListener('click', () => this.remove());
    $('#run-resume', root).addEventListener('click', () => this.resume());
    $('#run-load', root).addEventListener('click', () => {
      if (this.spec) this.onLoad(this.spec, `“${this.label(this.job)}”`, this.job?.step ?? null);
    });
    $('#run-log', root).addEventListener('change', (e) => {
      this.curves.setLog(e.target.checked);
      this.scheduler.request();
    });
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.target.closest('input')) this.close();
    });
  }

  // ----- opening and closing ---------------------------------------------------------

  open(job) {
    if (this.id === job.id) return;
    this.disconnect();
    this.id = job.id;
    this.job = job;
    this.spec = null;
    this.latest = null;
    this.renaming = false;
    this.nameInput.hidden = true;
    this.title.hidden = false;
    this.heatmap.clear();
    this.curves.clear();
    const info = this.catalog.datasets.find((d) => d.name === job.summary?.dataset);
    this.boundaries = PLAYGROUND_TASKS.includes(job.summary?.task ?? 'classification') && info?.kind !== 'image';
    $('#run-heatmap', this.root).hidden = !this.boundaries;
    this.problem('');
    $('#run-spec', this.root).replaceChildren();
    $('#run-load', this.root).disabled = true;
    const links = api.exports(job.id);
    $('#run-csv', this.root).href = links.csv;
    $('#run-weights', this.root).href = links.weights;
    $('#run-onnx', this.root).href = links.onnx;
    $('#run-spec-link', this.root).href = links.spec;
    this.root.hidden = false;
    this.render();
    this.connect();
    this.readSpec(job.id);
    $('#run-close', this.root).focus({ preventScroll: true });
  }

  close() {
    if (!this.id) return;
    this.disconnect();
    this.id = null;
    this.job = null;
    this.root.hidden = true;
    this.onClose?.();
  }

  /** The view is hidden: let go of the stream (wake() takes it up again). */
  suspend() {
    this.disconnect();
  }

  wake() {
    if (this.id && !this.stream) this.connect();
  }

  connect() {
    const id = this.id;
    this.stream = new JobStream(id, {
      onMessage: (message) => this.onMessage(message),
      onFrame: (frame) => {
        if (!this.boundaries) return; // e.g. a GAN's frames are samples, not a boundary
        if (frame.header.type === 'points') this.heatmap.setPoints(frame);
        else if (frame.header.type === 'boundary') this.heatmap.setBoundary(frame);
        else return;
        this.scheduler.request();
      },
      onLost: () => {
        this.problem('The server no longer has this run.');
        this.onChanged?.();
      },
    });
  }

  disconnect() {
    this.stream?.close();
    this.stream = null;
  }

  async readSpec(id) {
    try {
      const view = await api.job(id);
      if (view.id !== this.id) return;
      this.spec = view.spec;
      this.renderSpec(view);
      const load = $('#run-load', this.root);
      const lab = this.labFor(view.spec);
      load.disabled = !lab;
      load.textContent = `Load into ${lab ?? 'playground'}`;
      load.title = lab ? `Put this run's settings into the ${lab}`
        : `No view of this page trains a ${view.spec.task} run; start it over REST instead.`;
    } catch (error) {
      if (id === this.id) this.problem(`Cannot read this run's spec: ${error.message}`);
    }
  }

  // ----- stream ----------------------------------------------------------------------

  onMessage(message) {
    if (!this.job) return;
    if (message.type === 'status') {
      this.job = { ...this.job, status: message.status, reason: message.reason, failure: message.failure ?? null, lr: message.lr,
        step: Math.max(this.job.step, message.step ?? 0) };
      this.render();
    } else if (message.type === 'metrics') {
      this.curves.add(message.points, !!message.history);
      const last = message.points.at(-1);
      if (last) this.latest = last;
      this.scheduler.request();
    } else if (message.type === 'error') {
      this.problem(message.message);
    }
  }

  /** The list was read again: take its status, step and name (null: the run is gone). */
  sync(job) {
    if (!this.id) return;
    if (!job) {
      this.close();
      return;
    }
    this.job = { ...job, step: Math.max(job.step, this.job?.step ?? 0) };
    this.render();
  }

  // ----- drawing ---------------------------------------------------------------------

  render() {
    const job = this.job;
    if (!job) return;
    if (!this.renaming) setText(this.title, this.label(job));
    this.title.classList.toggle('unnamed', !job.name);
    const status = describeJob(job);
    const pill = $('#run-status', this.root);
    setText(pill, status.text);
    pill.dataset.tone = status.tone;
    const reason = $('#run-reason', this.root);
    if (!this.problemText) {
      setText(reason, job.reason || '');
      reason.hidden = !job.reason;
      reason.dataset.tone = job.status === 'failed' ? 'bad' : 'warn';
    }
    const diverged = job.status === 'failed' && job.failure?.kind === 'diverged';
    this.heatmap.showBanner(diverged ? `Diverged at step ${fmt.int(job.failure.step)}` : '');
    const when = job.created_at ? new Date(job.created_at * 1000).toLocaleString() : '';
    setText($('#run-sub', this.root), `${job.id} · ${when}`);
    // Someone else's run (a shared link): watch only, no controls.
    const owned = job.owned !== false;
    $('#run-resume', this.root).hidden = !owned || job.status !== 'interrupted';
    $('#run-rename', this.root).hidden = !owned;
    $('#run-delete', this.root).hidden = !owned;
    $('#run-read-only', this.root).hidden = owned;
    this.title.title = owned ? 'Double-click to rename' : '';
    $('#run-accuracy-wrap', this.root).hidden = (job.summary?.task ?? 'classification') !== 'classification';
    this.scheduler.request();
  }

  draw() {
    this.heatmap.draw();
    this.curves.draw();
    const s = this.job?.summary || {};
    const p = this.latest || this.job?.metrics || {};
    setText($('#run-steps', this.root), fmt.int(Math.max(p.step ?? 0, this.job?.step ?? 0)));
    setText($('#run-test-loss', this.root), fmt.loss(p.test_loss));
    setText($('#run-best-loss', this.root), fmt.loss(s.best_test_loss));
    const classification = (s.task ?? 'classification') === 'classification';
    $('#run-accuracy-score', this.root).hidden = !classification;
    setText($('#run-best-accuracy', this.root), fmt.pct(s.best_test_accuracy));
  }

  problem(text) {
    this.problemText = text;
    const reason = $('#run-reason', this.root);
    setText(reason, text);
    reason.hidden = !text;
    reason.dataset.tone = 'bad';
    if (!text) this.render();
  }

  /** The spec in a few lines a person can read. */
  renderSpec(view) {
    const spec = view.spec;
    const c = this.catalog;
    if (!playable(spec)) {
      // A kind of run the playground does not train (e.g. a GAN): what the summary says.
      const s = view.summary || {};
      const rows = [['Task', spec.task], ['Data', s.dataset], ['Networks', s.model],
        ['Optimizer', `${s.optimizer}, lr ${fmt.num(view.lr)}`], ['Loss', s.loss],
        ['Training', `${fmt.int(spec.max_steps)} steps at most · seed ${spec.seed}`]];
      $('#run-spec', this.root).replaceChildren(...rows.flatMap(([term, text]) => [h('dt', {}, term), h('dd', {}, text ?? '–')]));
      return;
    }
    const find = (list, name) => list.find((x) => x.name === name);
    const d = spec.dataset;
    const dataset = find(c.datasets, d.name);
    const multi = dataset?.multi_class;
    const dense = spec.model.layers.filter((l) => l.type === 'dense');
    const opt = spec.optimizer;
    const info = find(c.optimizers, opt.name);
    const params = (info?.params || []).filter((p) => p !== 'lr' && OPTIMIZER_PARAMS[p])
      .map((p) => (typeof opt[p] === 'boolean' ? (opt[p] ? OPTIMIZER_PARAMS[p] : '') : `${OPTIMIZER_PARAMS[p]} ${fmt.num(opt[p])}`))
      .filter(Boolean);
    const image = dataset?.kind === 'image'; // images have no noise or input features
    const rows = [
      ['Data', [dataset?.title ?? d.name, `${fmt.int(d.n_samples)} ${image ? 'images' : 'samples'}`,
        multi ? `${d.classes} classes` : '', image ? '' : `noise ${Math.round(d.noise * 100)}%`,
        `test ${Math.round(d.test_fraction * 100)}%`, d.augment_shift ? `shifts up to ${d.augment_shift} px` : '',
        NORMALIZATION[d.normalization] ?? d.normalization].filter(Boolean).join(' · ')],
      image ? null : ['Features', spec.features.map((f) => FEATURES[f] ?? f).join(', ')],
      ['Network', [view.summary?.model ?? `${dense.length} hidden layers`,
        find(c.inits, spec.model.init)?.label ?? spec.model.init,
        view.parameter_count !== undefined ? `${fmt.int(view.parameter_count)} params` : ''].filter(Boolean).join(' · ')],
      ['Optimizer', [`${info?.label ?? opt.name}, lr ${fmt.num(opt.lr)}`, ...params].join(' · ')],
      ['Loss', find(c.losses, spec.loss)?.label ?? spec.loss],
      ['Training', [`batch ${spec.batch_size}`, `${fmt.int(spec.max_steps)} steps at most`,
        spec.regularization.l1 ? `L1 ${spec.regularization.l1}` : '',
        spec.regularization.l2 ? `L2 ${spec.regularization.l2}` : '', `seed ${spec.seed}`].filter(Boolean).join(' · ')],
    ];
    $('#run-spec', this.root).replaceChildren(...rows.filter(Boolean).flatMap(([term, text]) => [h('dt', {}, term), h('dd', {}, text)]));
  }

  // ----- actions ---------------------------------------------------------------------

  startRename() {
    if (!this.job || this.renaming) return;
    this.renaming = true;
    this.nameInput.value = this.job.name || '';
    this.nameInput.placeholder = this.label({ ...this.job, name: '' });
    this.title.hidden = true;
    this.nameInput.hidden = false;
    this.nameInput.focus();
    this.nameInput.select();
  }

  async finishRename(save) {
    if (!this.renaming) return;
    this.renaming = false;
    const id = this.id;
    const name = this.nameInput.value.trim();
    this.nameInput.hidden = true;
    this.title.hidden = false;
    if (!save || name === (this.job?.name || '')) {
      this.render();
      return;
    }
    setText(this.title, name || this.label({ ...this.job, name: '' }));
    try {
      await api.renameJob(id, name);
      if (id === this.id) this.job = { ...this.job, name };
      this.problem('');
    } catch (error) {
      if (id === this.id) this.problem(`Not renamed: ${error.errors.join('; ')}`);
    }
    this.onChanged?.();
  }

  async remove() {
    const job = this.job;
    if (!job) return;
    const ok = await confirmAction(
      `Delete “${this.label(job)}”? Its curves, weights and checkpoint go from the server; this cannot be undone.`,
      'Delete run');
    if (!ok || this.id !== job.id) return;
    try {
      await api.deleteJob(job.id);
    } catch (error) {
      this.problem(`Not deleted: ${error.message}`);
      return;
    }
    this.close();
    this.onChanged?.();
  }

  async resume() {
    const id = this.id;
    try {
      await api.resumeJob(id);
      this.problem('');
    } catch (error) {
      if (id === this.id) this.problem(`Cannot resume: ${error.message}`);
    }
    this.onChanged?.();
  }
}
