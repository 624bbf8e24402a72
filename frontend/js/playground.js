// The playground lab: two-feature datasets, the network picture, the decision boundary, curves,
// the report and races. The lab shell (shell.js, lab.js) owns the toolbar, links, lessons,
// errors and keys; this module decides what the playground's settings and frames do.

import { CurvesView } from './charts.js';
import { Controls } from './controls.js';
import { DatasetPicker } from './datasets.js';
import { OwnDataPanel, ownDataReady } from './drawdata.js';
import { HeatmapView, renderLegend } from './heatmap.js';
import { Lab } from './lab.js';
import { edit, toGroups } from './layers.js';
import { NetworkView } from './network.js';
import { RaceView } from './race.js';
import { LayersTable, ReportView, estimateReport } from './report.js';
import { unusedPaths } from './specfile.js';
import { State } from './state.js';
import { describeRun } from './status.js';
import { $, $$, FrameScheduler, bindTabs, fmt, setText } from './util.js';

const RELOAD_MS = 150; // settings changes settle this long before a new run is prepared

export class Playground extends Lab {
  constructor({ catalog, presets, isActive, roots }) {
    super({ name: 'playground', prefix: '', roots, State, catalog, presets, isActive });
    this.startLesson = catalog.start_lesson;
    this.frames = { boundary: null, neurons: null, weights: null, points: null };
    this.latest = null; // latest metrics point
    this.exactReport = null; // {report, step}
    this.hovered = null;
    this.racing = false;
    this.structureKey = '';
    this.scheduler = new FrameScheduler(() => this.draw());

    this.heatmap = new HeatmapView($('#heatmap'), { size: 272 });
    // The heatmap fills its column (bigger on projectors), within sensible bounds.
    new ResizeObserver(([entry]) => {
      if (!entry.contentRect.width) return; // hidden (the Runs view is shown)
      const size = Math.max(240, Math.min(440, Math.floor(entry.contentRect.width - 44)));
      if (Math.abs(size - this.heatmap.size) > 2) this.heatmap.resize(size);
    }).observe($('.output-main'));
    this.network = new NetworkView($('#network'), {
      catalog,
      onEdit: (e) => this.editNetwork(e),
      onHoverNeuron: (n) => this.hoverNeuron(n),
    });
    this.curves = new CurvesView($('#loss-chart'), $('#accuracy-chart'));
    this.report = new ReportView($('#report'));
    this.layersTable = new LayersTable($('#layers'));
    this.datasets = new DatasetPicker($('#datasets'), {
      catalog, onPick: (name) => this.change('dataset.name', name),
    });
    this.ownData = new OwnDataPanel($('#own-data'), {
      limits: catalog.limits, onChange: (data) => this.change('dataset.own', data),
    });
    this.controls = new Controls({
      catalog, state: this.state,
      onChange: (path, value) => this.change(path, value),
      onUi: (name, value) => this.setUi(name, value),
    });
    this.race = new RaceView($('#race'), {
      onStatus: () => this.renderStatus(),
      onDraw: () => this.scheduler.request(),
      onError: (text) => this.status.alert(text, 'race', 'warn'),
    });
    $('#add-layer').addEventListener('click', () => this.change('model.layers', edit.addLayer(this.state.spec.model.layers)));
    $('#remove-layer').addEventListener('click', () => this.change('model.layers', edit.removeLayer(this.state.spec.model.layers)));
    $('#race-leave').addEventListener('click', () => this.leaveRace());
    bindTabs($$('[role="tab"]'), $('.tabs'), () => this.scheduler.request());
  }

  // ----- links, lessons and races ---------------------------------------------------------

  lessonGroups() {
    return [['Lessons', this.presets.filter((p) => !p.race)],
      ['Races (several runs, one chart)', this.presets.filter((p) => p.race)]];
  }

  jobIds() {
    return [this.session.job?.id, ...this.race.runs.map((r) => r.session.job?.id)].filter(Boolean);
  }

  /** A link's lesson: a race lesson starts the race (and the lab prepares no single run). */
  applyPreset(preset, found) {
    this.showLesson(preset);
    if (preset.variants) {
      this.enterRace(preset);
      return false;
    }
    if (!found.spec) this.state.loadSpec(preset.spec);
    this.leaveRace(false);
    return true;
  }

  startPreset(preset) {
    if (!preset.variants) {
      this.leaveRace(false);
      return true;
    }
    this.enterRace(preset);
    return false;
  }

  leaveLesson() {
    if (this.racing) this.leaveRace();
  }

  hash({ hide = this.state.ui.hide } = {}) {
    const ui = this.state.ui;
    const saved = ui.hide;
    ui.hide = hide;
    const text = this.state.toHash({ specless: this.racing });
    ui.hide = saved;
    return text;
  }

  /** Put a spec from elsewhere into the controls; says which of its settings it left out. */
  loadOutsideSpec(spec, source, steps = null) {
    if (this.racing) this.leaveRace(false);
    super.loadOutsideSpec(spec, source, steps);
    const unused = unusedPaths(spec, this.catalog.defaults);
    if (unused.length) {
      this.status.alert(`The playground has no control for ${unused.join(', ')}; ${unused.length === 1 ? 'it was' : 'they were'} left out.`, 'import', 'warn');
    }
  }

  // ----- races ------------------------------------------------------------------------

  enterRace(preset) {
    this.racing = true;
    this.session.hold(this.session.spec); // its run stops (kept if it trained)
    this.clearRun();
    document.body.classList.add('racing');
    for (const el of $$('.spec-control')) el.inert = true;
    $('#race').hidden = false;
    $('#race').insertBefore($('#lesson'), $('#race .race-body'));
    // The controls show the shared settings of the race (its first run).
    this.state.loadSpec(preset.variants[0].spec);
    this.renderAll();
    this.race.start(preset);
    this.renderStatus();
    this.saveUrl();
  }

  leaveRace(reload = true) {
    if (!this.racing) return;
    this.racing = false;
    this.race.stop();
    document.body.classList.remove('racing');
    for (const el of $$('.spec-control')) el.inert = false;
    $('#race').hidden = true;
    $('.network').insertBefore($('#lesson'), $('.network .net-foot'));
    if (reload) {
      this.state.ui.lesson = '';
      $('#lesson').hidden = true;
      this.onUrl(null); // the lesson menu follows
      this.renderAll();
      this.prepare();
      this.saveUrl();
    }
  }

  // ----- editing ----------------------------------------------------------------------

  change(path, value) {
    if (this.racing) return;
    const state = this.state;
    const notes = [];
    if (path === 'model.activation') {
      state.set('model.layers', edit.activation(state.spec.model.layers, null, value));
    } else if (path === 'dataset.own') {
      state.setOwnData(value);
    } else {
      state.set(path, value);
    }
    this.settle(notes);
    if (path === 'optimizer.lr') {
      this.session.setLearningRate(value, state.jobSpec());
      return;
    }
    this.prepareSoon(RELOAD_MS);
  }

  editNetwork({ kind, index, value }) {
    const layers = this.state.spec.model.layers;
    if (kind === 'feature') {
      const on = new Set(this.state.spec.features);
      if (on.has(value)) on.delete(value);
      else on.add(value);
      this.change('features', this.catalog.features.map((f) => f.name).filter((n) => on.has(n)));
    } else if (kind === 'units') {
      this.change('model.layers', edit.units(layers, index, value, this.catalog.limits.max_units));
    } else if (kind === 'activation') {
      this.change('model.layers', edit.activation(layers, index, value));
    } else if (kind === 'dropout') {
      this.change('model.layers', edit.dropout(layers, index, value));
    } else if (kind === 'batchnorm') {
      this.change('model.layers', edit.batchNorm(layers, index, value));
    }
  }

  setUi(name, value) {
    this.state.ui[name] = value;
    this.heatmap.setOptions({ showTest: this.state.ui.showTest, discretize: this.state.ui.discretize });
    this.curves.setLog(this.state.ui.logScale);
    this.scheduler.request();
    this.saveUrl();
  }

  /** A fresh paused run for the settings (none while own data cannot train yet). */
  prepare() {
    const spec = this.state.jobSpec();
    if (spec.dataset.name === 'custom' && !ownDataReady(spec.dataset, this.catalog.limits)) this.session.hold(spec);
    else this.session.load(spec);
  }

  renderAll() {
    this.controls.state = this.state; // a link or a lesson brings a fresh state
    this.controls.render();
    this.renderTabs();
    this.datasets.update(this.state.spec.dataset.name);
    const own = this.state.spec.dataset.name === 'custom';
    $('#own-data').hidden = !own;
    // Own data has its own rows: no noise or sample count to set.
    for (const field of ['dataset.noise', 'dataset.n_samples']) $(`[data-field="${field}"]`).hidden = own;
    if (own) this.ownData.show(this.state.spec.dataset);
    this.heatmap.setOptions({ showTest: this.state.ui.showTest, discretize: this.state.ui.discretize });
    this.curves.setLog(this.state.ui.logScale);
    this.renderNetwork();
    renderLegend($('#legend'), this.state.spec, this.state.datasetInfo());
  }

  /** Accuracy and the report only exist for classification. */
  renderTabs() {
    const classification = this.state.spec.task === 'classification';
    for (const id of ['tab-accuracy-btn', 'tab-report-btn']) {
      const tab = $(`#${id}`);
      tab.hidden = !classification;
      if (!classification && tab.getAttribute('aria-selected') === 'true') $('#tab-loss-btn').click();
    }
  }

  /** Output units: from the latest weights frame, else what the task implies. */
  outputUnits() {
    const layers = this.frames.weights?.header.layers;
    if (layers?.length) return layers.at(-1).weight[0];
    const spec = this.state.spec;
    if (spec.task !== 'classification') return 1;
    const k = this.state.datasetInfo()?.multi_class ? spec.dataset.classes : 2;
    return k > 2 || spec.loss === 'cross_entropy' ? k : 1;
  }

  renderNetwork() {
    const spec = this.state.spec;
    const model = {
      features: this.catalog.features.map((f) => ({
        name: f.name, label: f.label, on: spec.features.includes(f.name), index: spec.features.indexOf(f.name),
      })),
      groups: toGroups(spec.model.layers).groups,
      outputs: this.outputUnits(),
    };
    const key = JSON.stringify([spec.features, spec.model.layers, model.outputs]);
    if (key === this.structureKey) return;
    this.structureKey = key;
    this.network.render(model);
    const widths = [spec.features.length, ...model.groups.map((g) => g.dense.units), model.outputs];
    setText($('#network-shape'), widths.join(' → '));
  }

  // ----- the run ----------------------------------------------------------------------

  clearRun() {
    this.frames = { boundary: null, neurons: null, weights: null, points: null };
    this.latest = null;
    this.exactReport = null;
    this.viewFetched = false;
    this.clearErrors();
    this.status.hideAlert('refused');
    this.heatmap.clear();
    this.network.clear();
    this.curves.clear();
    this.report.empty('Press play: the report fills in as the network trains.');
    this.layersTable.clear();
    this.renderStatus();
    this.scheduler.request();
  }

  addMetrics(points, history) {
    if (history && !points.length) return;
    this.curves.add(points, history);
    const last = points.at(-1);
    if (last) this.latest = last;
    for (const p of points) if (p.report) this.exactReport = { report: p.report, step: p.step };
    this.scheduler.request();
  }

  addFrame(frame) {
    const type = frame.header.type;
    if (type === 'points') {
      this.frames.points = frame;
      this.heatmap.setPoints(frame);
      this.fetchLayers();
    } else if (type === 'boundary') {
      this.frames.boundary = frame;
      this.heatmap.setBoundary(frame);
      this.framesDirty = true;
    } else if (type === 'neurons' || type === 'weights') {
      this.frames[type] = frame;
      this.framesDirty = true;
      if (type === 'weights') this.renderNetwork();
    }
    this.scheduler.request();
  }

  fetchLayers() {
    this.fetchJobView((view) => {
      this.layersTable.update(view.layers);
      setText($('#network-params'), view.parameter_count !== undefined ? `${fmt.int(view.parameter_count)} params` : '');
    });
  }

  hoverNeuron(neuron) {
    this.hovered = neuron;
    this.refreshHovered();
    this.scheduler.request();
  }

  refreshHovered() {
    const n = this.hovered;
    const grid = n ? this.network.neuronGrid(n.layer, n.unit) : null;
    this.heatmap.showNeuron(grid ? { ...grid, label: `${n.label}: its output over the plane` } : null);
  }

  /** Everything drawn per frame; runs at most once per animation frame. */
  draw() {
    if (this.racing) {
      this.drawRaceCounters();
      return;
    }
    if (this.framesDirty) {
      this.framesDirty = false;
      this.network.setFrames(this.frames);
      this.network.paint();
      if (this.hovered) this.refreshHovered();
    }
    this.heatmap.draw();
    this.curves.draw();
    this.drawCounters();
    const p = this.latest;
    setText($('#test-loss'), fmt.loss(p?.test_loss));
    setText($('#train-loss'), fmt.loss(p?.train_loss));
    const classification = this.state.spec.task === 'classification';
    $('#accuracy-score').hidden = !classification;
    setText($('#test-accuracy'), fmt.pct(p?.test_accuracy ?? p?.train_accuracy));
    if (!$('#tab-report').hidden) this.renderReport();
  }

  drawRaceCounters() {
    const latest = this.race.runs.map((r) => r.points.at(-1)).filter(Boolean);
    this.status.counters({
      step: Math.max(0, ...latest.map((p) => p.step)),
      epoch: latest.length ? Math.max(...latest.map((p) => p.epoch)) : 0,
      rate: this.race.playing ? latest.reduce((a, p) => a + (p.steps_per_second || 0), 0) : 0,
    });
  }

  renderReport() {
    if (this.state.spec.task !== 'classification') {
      this.report.empty('Precision, recall and F1 apply to classification; this dataset is a regression task.');
      return;
    }
    const exact = this.exactReport;
    if (exact && (!this.latest || exact.step >= this.latest.step)) {
      this.report.update(exact.report, { exact: true, step: exact.step });
    } else if (this.frames.points && this.frames.boundary) {
      this.report.update(estimateReport(this.frames.points, this.frames.boundary), { exact: false });
    }
  }

  // ----- status and input ----------------------------------------------------------

  get playing() {
    return this.racing ? this.race.playing : this.session.playing;
  }

  describe() {
    return this.racing ? describeRun({ racing: true, playing: this.race.playing }) : super.describe();
  }

  /** A race shows its own runs' states; a single run's failure goes on the heatmap. */
  renderStatus() {
    if (!this.racing) {
      super.renderStatus();
      return;
    }
    this.status.show({ playing: this.playing, ...this.describe() });
    this.scheduler.request();
  }

  banner(text) {
    this.heatmap.showBanner(text);
  }

  /** What the transport drives: the race, or the single run. */
  target() {
    return this.racing ? this.race : this.session;
  }

  toggle() {
    this.flushEdits();
    this.target().toggle();
  }

  stepOnce() {
    this.flushEdits();
    this.target().stepOnce();
  }

  reset() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    this.clearErrors();
    this.status.hideAlert();
    if (this.racing) this.race.reset();
    else this.session.reset(this.state.jobSpec());
  }

  dispose() {
    this.session.dispose();
    this.race.stop();
  }
}
