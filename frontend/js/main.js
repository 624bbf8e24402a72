// The page: loads the catalog, builds the views, and connects them to the state, the
// current run (Session) and races. Views only draw; this module decides what happens.

import { api } from './api.js';
import { CurvesView } from './charts.js';
import { Controls } from './controls.js';
import { DatasetPicker } from './datasets.js';
import { GanLab } from './gan.js';
import { watchHealth } from './health.js';
import { HeatmapView } from './heatmap.js';
import { edit, toGroups } from './layers.js';
import { NetworkView } from './network.js';
import { CATEGORICAL, css, DIVERGING_GRADIENT } from './palette.js';
import { RaceView } from './race.js';
import { LayersTable, ReportView, estimateReport } from './report.js';
import { RunsView } from './runs.js';
import { Session } from './session.js';
import { ShareDialog, applyHidden } from './share.js';
import { OwnDataPanel, ownDataReady } from './drawdata.js';
import { parseSpecText, playable, stepsNote, unusedPaths } from './specfile.js';
import { State } from './state.js';
import { StatusBar, describeRun } from './status.js';
import { $, $$, FrameScheduler, debounce, fmt, h, setText } from './util.js';

const RELOAD_MS = 150; // settings changes settle this long before a new run is prepared
const VIEWS = ['playground', 'gan', 'runs'];
const TITLES = { playground: 'nnplay · neural network playground', gan: 'GAN lab · nnplay', runs: 'Runs · nnplay' };

/** The view the address asks for: `?view=runs`, `?view=gan` (the fragment holds the experiment). */
function viewFromUrl() {
  const view = new URLSearchParams(location.search).get('view');
  return VIEWS.includes(view) ? view : 'playground';
}

class App {
  /** catalog and presets: the playground's; gan: {catalog, presets} for the GAN lab (whole catalog). */
  constructor(catalog, presets, health, gan) {
    this.catalog = catalog;
    this.presets = presets;
    this.ganOptions = gan;
    this.gan = null; // the GAN lab, built when first shown
    this.ganWritten = ''; // the GAN lab's latest fragment
    this.opened = false; // whether the playground has read its link and prepared a run
    this.state = new State(catalog);
    this.frames = { boundary: null, neurons: null, weights: null, points: null };
    this.latest = null; // latest metrics point
    this.exactReport = null; // {report, step}
    this.hovered = null;
    this.racing = false;
    this.connection = 'open';
    this.structureKey = '';
    this.scheduler = new FrameScheduler(() => this.draw());
    this.reload = debounce(() => this.prepare(), RELOAD_MS);
    this.saveUrl = debounce(() => this.writeUrl(), 200);

    setText($('#device'), health ? `${health.device} · torch ${health.torch}` : '');
    this.status = new StatusBar();
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
    this.session = new Session({
      onReset: () => this.clearRun(),
      onStatus: () => this.renderStatus(),
      onMetrics: (points, history) => this.addMetrics(points, history),
      onFrame: (frame) => this.addFrame(frame),
      onConnection: (state) => this.setConnection(state),
      onError: (error) => this.showError(error),
      onMessageError: (text) => this.showMessageError(text),
    }, { memoryKey: 'playground' });
    this.race = new RaceView($('#race'), {
      onStatus: () => this.renderStatus(),
      onDraw: () => this.scheduler.request(),
      onError: (text) => this.alert(text, 'race', 'warn'),
    });
    this.share = new ShareDialog({
      link: (hide) => (this.view === 'gan' ? this.gan.shareLink(hide)
        : `${location.origin}${location.pathname}#${this.hash({ hide })}`),
      current: () => (this.view === 'gan' ? this.gan.state.ui.hide : this.state.ui.hide),
      note: () => (this.view === 'gan' ? null : this.state.linkNote()),
    });
    this.runs = new RunsView($('#runs-view'), {
      catalog,
      ownIds: () => new Map([
        ...[this.session.job?.id, ...this.race.runs.map((r) => r.session.job?.id)].map((id) => [id, 'playground']),
        [this.gan?.session.job?.id, 'GAN lab']].filter(([id]) => id)),
      onLoad: (spec, label, steps) => this.loadOutsideSpec(spec, label, steps),
    });
    this.view = 'playground';
    this.lessonView = null;
    this.bindLessonMenu();
    this.bindViews();
    this.bindImport();
    this.bindTransport();
    this.bindTabs();
    this.bindKeys();
    $('#add-layer').addEventListener('click', () => this.change('model.layers', edit.addLayer(this.state.spec.model.layers)));
    $('#remove-layer').addEventListener('click', () => this.change('model.layers', edit.removeLayer(this.state.spec.model.layers)));
    $('#lesson-close').addEventListener('click', () => { $('#lesson').hidden = true; });
    $('#race-leave').addEventListener('click', () => this.leaveRace());
    window.addEventListener('hashchange', () => {
      const hash = location.hash.slice(1);
      if (this.view === 'gan') {
        if (hash !== this.ganWritten) this.gan.openLink(location.hash);
      } else if (hash !== this.written) {
        this.openLink(location.hash);
      }
    });
    window.addEventListener('pagehide', () => {
      this.session.dispose();
      this.race.stop();
    });
  }

  // ----- start-up and links ---------------------------------------------------------

  async start() {
    const view = viewFromUrl();
    // The fragment belongs to the view the address names: a GAN experiment for ?view=gan.
    if (view === 'gan') {
      this.ganLink = location.hash;
      this.showView('gan');
      await this.ganOpening;
      return;
    }
    this.opened = true;
    this.showView(view);
    await this.openLink(location.hash || location.search);
  }

  /** Read the playground's link and prepare its run, once (later links go to openLink). */
  async openPlayground(link = '') {
    if (this.opened) return;
    this.opened = true;
    await this.openLink(link);
  }

  /** The GAN lab, built and opened on first use. */
  ensureGan() {
    if (this.gan) return this.gan;
    this.gan = new GanLab({
      catalog: this.ganOptions.catalog,
      isActive: () => this.view === 'gan',
      onUrl: (hash) => {
        this.ganWritten = hash;
        if (this.view === 'gan') history.replaceState(null, '', `${this.viewUrl('gan')}`);
        this.renderViewLinks();
        if (this.view === 'gan') $('#lesson-menu').value = this.gan.lesson;
      },
    });
    this.ganOpening = this.gan.openLink(this.ganLink || '');
    return this.gan;
  }

  /** Apply a share link: its spec, its page settings, its lesson (a race lesson starts the race). */
  async openLink(link) {
    this.state = new State(this.catalog);
    this.controls.state = this.state;
    const found = this.state.fromHash(link || '');
    // An empty link opens the starter lesson, which succeeds within seconds.
    if (!link && this.catalog.start_lesson) this.state.ui.lesson = this.catalog.start_lesson;
    applyHidden(this.state.ui.hide);
    const lesson = this.state.ui.lesson;
    let preset = null;
    if (lesson) {
      try {
        preset = await api.preset(lesson);
      } catch {
        this.alert(`The link names a lesson this server does not know (${lesson}).`, 'link', 'warn');
        this.state.ui.lesson = '';
      }
    }
    $('#lesson-menu').value = this.state.ui.lesson;
    if (preset?.variants) {
      this.showLesson(preset);
      this.enterRace(preset);
      return;
    }
    if (preset) {
      if (!found.spec) this.state.loadSpec(preset.spec);
      this.showLesson(preset);
    } else {
      $('#lesson').hidden = true;
    }
    this.leaveRace(false);
    this.state.normalize();
    this.renderAll();
    this.prepare();
    this.writeUrl(); // the address bar always holds the experiment
  }

  hash({ hide = this.state.ui.hide } = {}) {
    const ui = this.state.ui;
    const saved = ui.hide;
    ui.hide = hide;
    const text = this.racing ? this.state.toHash({ specless: true }) : this.state.toHash();
    ui.hide = saved;
    return text;
  }

  writeUrl() {
    this.written = this.hash();
    if (this.view !== 'gan') history.replaceState(null, '', `#${this.written}`);
    this.renderViewLinks();
  }

  // ----- views: the playground and the runs -------------------------------------------

  bindViews() {
    for (const tab of $$('.view-tab')) {
      tab.addEventListener('click', (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // a new tab
        event.preventDefault();
        this.showView(tab.dataset.view, { push: true });
      });
    }
    window.addEventListener('popstate', () => this.showView(viewFromUrl()));
  }

  /**
   * The address of a view: `?view=runs` or `?view=gan` (or none for the playground), and the
   * fragment of the experiment that view holds (the GAN lab's own, else the playground's).
   */
  viewUrl(view) {
    const url = new URL(location.href);
    if (view === 'playground') url.searchParams.delete('view');
    else url.searchParams.set('view', view);
    const hash = view === 'gan' ? this.ganWritten : this.written;
    url.hash = hash ? `#${hash}` : '';
    return `${url.pathname}${url.search}${url.hash}`;
  }

  renderViewLinks() {
    for (const tab of $$('.view-tab')) {
      tab.href = this.viewUrl(tab.dataset.view);
      if (tab.dataset.view === this.view) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
  }

  /** Show one view; the other keeps its state (a playground run goes on training). */
  showView(view, { push = false } = {}) {
    if (!VIEWS.includes(view)) view = 'playground';
    const changed = view !== this.view;
    this.view = view;
    if (push && this.viewUrl(view) !== `${location.pathname}${location.search}${location.hash}`) {
      history.pushState(null, '', this.viewUrl(view));
    }
    const runs = view === 'runs';
    const playground = view === 'playground';
    document.body.dataset.view = view;
    $('#playground-toolbar').hidden = !playground;
    $('#playground').hidden = !playground;
    $('#gan-view').hidden = view !== 'gan';
    $('#runs-view').hidden = !runs;
    document.title = TITLES[view];
    if (view === 'gan') this.ensureGan().show();
    else if (!this.opened) this.openPlayground();
    // A classroom link hides controls of the view it was made in.
    if (this.opened || this.gan) applyHidden(view === 'gan' ? this.gan.state.ui.hide : this.state.ui.hide);
    this.renderViewLinks();
    this.renderLessonMenu();
    if (runs) this.runs.show();
    else if (changed) {
      this.runs.hide();
      this.scheduler.request();
    }
  }

  /** Put a spec from elsewhere (a stored run, a file) into the controls, ready to play. */
  loadOutsideSpec(spec, source, steps = null) {
    if (spec.task === 'gan') {
      this.showView('gan', { push: true });
      this.gan.loadOutsideSpec(spec, source, steps);
      return;
    }
    this.showView('playground', { push: true });
    if (this.racing) this.leaveRace(false);
    this.state.ui.lesson = '';
    $('#lesson-menu').value = '';
    $('#lesson').hidden = true;
    this.state.loadSpec(spec);
    const notes = this.state.normalize();
    this.controls.clearErrors();
    this.hideAlert();
    this.renderAll();
    this.session.reset(this.state.jobSpec());
    this.saveUrl();
    const unused = unusedPaths(spec);
    this.note([`Loaded ${source}: press play to train it${stepsNote(spec, steps)}.`, ...notes].join(' '));
    if (unused.length) {
      this.alert(`The playground has no control for ${unused.join(', ')}; ${unused.length === 1 ? 'it was' : 'they were'} left out.`, 'import', 'warn');
    }
  }

  // ----- import a spec file -----------------------------------------------------------

  bindImport() {
    const input = $('#import-file');
    $('#import').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = ''; // the same file can be picked again
      if (file) this.importSpec(file);
    });
  }

  /** Read a spec file, have the server check it, and load it into the controls. */
  async importSpec(file) {
    if (this.view === 'runs') this.showView('playground', { push: true });
    const status = this.view === 'gan' ? this.gan.status : this.status;
    status.hideAlert();
    let spec;
    try {
      spec = parseSpecText(await file.text());
    } catch (error) {
      status.alert(`Cannot import ${file.name}: ${error.message}.`, 'import');
      return;
    }
    // The server is the judge: a dry-run POST checks the spec without starting a run.
    try {
      await api.validateSpec(spec);
    } catch (error) {
      const why = error.status === 422 ? `the server refused it: ${error.errors.join('; ')}` : error.message;
      status.alert(`Cannot import ${file.name}: ${why}`, 'import', error.status === 422 ? 'bad' : 'warn');
      return;
    }
    if (spec.task === 'gan') {
      this.loadOutsideSpec(spec, file.name);
      return;
    }
    if (this.view !== 'playground') this.showView('playground', { push: true });
    if (!playable(spec)) {
      this.alert(`${file.name} describes a ${spec.task} run; the playground trains classification and `
        + 'regression runs. Start it over REST (POST /api/jobs) instead.', 'import', 'warn');
      return;
    }
    this.loadOutsideSpec(spec, file.name);
  }

  // ----- lessons ----------------------------------------------------------------------

  bindLessonMenu() {
    const menu = $('#lesson-menu');
    menu.addEventListener('change', () => {
      if (this.view === 'gan') this.gan.loadLesson(menu.value);
      else this.loadLesson(menu.value);
    });
  }

  /** The lesson menu lists the lessons of the view shown (GAN lessons in the GAN lab). */
  renderLessonMenu() {
    const gan = this.view === 'gan';
    const menu = $('#lesson-menu');
    if (this.lessonView !== gan) {
      this.lessonView = gan;
      const item = (p) => h('option', { value: p.name, title: p.summary }, p.title);
      if (gan) {
        menu.replaceChildren(h('option', { value: '' }, 'Free play (no lesson)'),
          h('optgroup', { label: 'GAN lessons' }, ...this.ganOptions.presets.map(item)));
      } else {
        menu.replaceChildren(h('option', { value: '' }, 'Free play (no lesson)'),
          h('optgroup', { label: 'Lessons' }, ...this.presets.filter((p) => !p.race).map(item)),
          h('optgroup', { label: 'Races (several runs, one chart)' }, ...this.presets.filter((p) => p.race).map(item)));
      }
    }
    menu.value = gan ? this.gan?.lesson ?? '' : this.state.ui.lesson;
  }

  async loadLesson(name) {
    if (!name) {
      this.state.ui.lesson = '';
      $('#lesson').hidden = true;
      if (this.racing) this.leaveRace();
      this.saveUrl();
      return;
    }
    let preset;
    try {
      preset = await api.preset(name);
    } catch (error) {
      this.alert(error.message, 'lesson', 'warn');
      return;
    }
    this.state.ui.lesson = name;
    this.showLesson(preset);
    if (preset.variants) {
      this.enterRace(preset);
    } else {
      this.leaveRace(false);
      this.state.loadSpec(preset.spec);
      this.state.normalize();
      this.renderAll();
      this.session.reset(this.state.jobSpec());
    }
    this.saveUrl();
  }

  showLesson(preset) {
    setText($('#lesson-title'), preset.title);
    setText($('#lesson-text'), preset.explanation);
    $('#lesson').hidden = false;
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
      $('#lesson-menu').value = '';
      $('#lesson').hidden = true;
      this.renderAll();
      this.session.load(this.state.jobSpec());
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
    notes.push(...state.normalize());
    this.renderAll();
    this.saveUrl();
    this.note(notes.join(' '));
    this.controls.clearErrors();
    this.hideAlert();
    if (path === 'optimizer.lr') {
      this.session.setLearningRate(value, state.jobSpec());
      return;
    }
    this.session.spec = state.jobSpec();
    this.session.intent = null;
    this.reload();
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
    this.renderLegend();
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

  renderLegend() {
    const spec = this.state.spec;
    const legend = $('#legend');
    const info = this.state.datasetInfo();
    if (spec.task === 'regression') {
      legend.replaceChildren(h('span', {}, 'low'), h('span', { class: 'legend-bar', style: `background:${DIVERGING_GRADIENT}` }), h('span', {}, 'high'));
    } else if (info?.multi_class) {
      legend.replaceChildren(...Array.from({ length: spec.dataset.classes }, (_, i) =>
        h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(CATEGORICAL[i])}` }), `class ${i}`)));
    } else {
      legend.replaceChildren(h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(CATEGORICAL[0])}` }), 'class 0'),
        h('span', { class: 'legend-bar', style: `background:${DIVERGING_GRADIENT}` }),
        h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(CATEGORICAL[1])}` }), 'class 1'));
    }
  }

  // ----- the run ----------------------------------------------------------------------

  clearRun() {
    this.frames = { boundary: null, neurons: null, weights: null, points: null };
    this.latest = null;
    this.exactReport = null;
    this.layersFetched = false;
    this.controls.clearErrors();
    this.hideAlert('refused');
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

  async fetchLayers() {
    const job = this.session.job;
    if (!job || this.layersFetched) return;
    this.layersFetched = true;
    try {
      const view = await api.job(job.id);
      if (this.session.job?.id === view.id) {
        this.layersTable.update(view.layers);
        setText($('#network-params'), view.parameter_count !== undefined ? `${fmt.int(view.parameter_count)} params` : '');
      }
    } catch {
      this.layersFetched = false;
    }
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
    const p = this.latest;
    this.status.counters({
      step: Math.max(p?.step ?? 0, this.session.step),
      epoch: p?.epoch,
      rate: this.session.playing ? p?.steps_per_second : 0,
    });
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

  // ----- status and errors ------------------------------------------------------------

  setConnection(state) {
    this.connection = state;
    if (state === 'reconnecting') this.alert('Connection to the server lost: reconnecting…', 'connection', 'warn');
    else this.hideAlert('connection');
    this.renderStatus();
  }

  renderStatus() {
    const racing = this.racing;
    const playing = racing ? this.race.playing : this.session.playing;
    const job = this.session.job;
    this.status.show({
      playing,
      ...describeRun({ racing, playing, connection: this.connection, error: this.session.error, job }),
    });
    if (!racing && job?.status === 'failed') {
      const reason = job.reason || 'the run failed';
      const diverged = job.failure?.kind === 'diverged';
      this.heatmap.showBanner(diverged ? `Diverged at step ${fmt.int(job.failure.step)}` : 'Training failed');
      this.alert(`Training stopped: ${reason}`, 'failed');
    } else if (!racing && job?.status === 'interrupted' && !job.resuming) {
      this.heatmap.showBanner('');
      this.alert('The server restarted while this run was training: press play to continue it, '
        + 'or reset to start over.', 'failed', 'warn');
    } else if (!racing) {
      this.heatmap.showBanner('');
      this.hideAlert('failed');
    }
    this.scheduler.request();
  }

  showError(error) {
    if (error.status === 422) {
      const rest = this.controls.showErrors(error.errors);
      if (rest.length) this.alert(`The server refused these settings: ${rest.join('; ')}`, 'refused');
    } else if (error.status === 429) {
      this.alert(error.message, 'busy', 'warn');
    } else {
      this.alert(error.message, 'error');
    }
    this.renderStatus();
  }

  showMessageError(text) {
    if (/^lr\b/.test(text)) {
      const rest = this.controls.showErrors([`optimizer.lr: ${text}`]);
      if (!rest.length) return;
    }
    this.alert(text, 'message', 'warn');
  }

  alert(text, kind, tone) {
    this.status.alert(text, kind, tone);
  }

  hideAlert(kind) {
    this.status.hideAlert(kind);
  }

  note(text) {
    this.status.note(text);
  }

  // ----- input ------------------------------------------------------------------------

  target() {
    return this.racing ? this.race : this.session;
  }

  bindTransport() {
    $('#play').addEventListener('click', () => this.target().toggle());
    $('#step').addEventListener('click', () => this.target().stepOnce());
    $('#reset').addEventListener('click', () => this.resetRun());
  }

  resetRun() {
    this.controls.clearErrors();
    this.hideAlert();
    if (this.racing) this.race.reset();
    else this.session.reset(this.state.jobSpec());
  }

  bindTabs() {
    const tabs = $$('[role="tab"]');
    $('.tabs').addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const shown = tabs.filter((t) => !t.hidden);
      const next = shown[(shown.indexOf(event.target) + step + shown.length) % shown.length];
      next.click();
      next.focus();
    });
    for (const tab of tabs) {
      tab.addEventListener('click', () => {
        for (const other of tabs) {
          const on = other === tab;
          other.setAttribute('aria-selected', on ? 'true' : 'false');
          other.tabIndex = on ? 0 : -1;
          $(`#${other.getAttribute('aria-controls')}`).hidden = !on;
        }
        this.scheduler.request();
      });
    }
  }

  bindKeys() {
    document.addEventListener('keydown', (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const el = event.target;
      if (el.closest?.('input, select, textarea, [contenteditable], dialog')) return;
      if (this.view !== 'playground') return;
      if (event.key === ' ') {
        if (el.closest?.('button, [role="switch"], [role="radio"], [role="tab"]')) return;
        event.preventDefault();
        this.target().toggle();
      } else if (event.key === 's' || event.key === 'S') {
        this.target().stepOnce();
      } else if (event.key === 'r' || event.key === 'R') {
        this.resetRun();
      }
    });
  }
}

async function main() {
  let catalog;
  let presets;
  try {
    [catalog, { presets }] = await Promise.all([api.catalog(), api.presets()]);
  } catch (error) {
    document.body.classList.add('failed');
    $('#boot-error').hidden = false;
    setText($('#boot-error-text'), error.message);
    return;
  }
  const health = await api.health().catch(() => null);
  watchHealth($('#health-banner'), $('#health-banner-text'), health);
  // The playground trains classifiers and regressors; GAN lessons and targets have their
  // own view, the GAN lab.
  const playgroundCatalog = { ...catalog, datasets: catalog.datasets.filter((d) => d.task !== 'gan') };
  const app = new App(playgroundCatalog, presets.filter((p) => p.task !== 'gan'), health,
    { catalog, presets: presets.filter((p) => p.task === 'gan' && !p.race) });
  window.nnplay = app; // for the console and the browser tests
  await app.start();
  document.body.classList.add('ready');
}

main();
