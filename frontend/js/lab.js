// What every lab (the playground, the GAN lab, the CNN lab next) shares: its run session, the
// toolbar's buttons and keys, opening a share link and its lesson, loading a spec from elsewhere,
// field errors, the failure banner, the connection status and the alert line. A lab subclasses
// `Lab` and supplies only what is its own (its state table, its views, what a frame draws).
//
// Element ids follow one pattern per lab, with the lab's prefix ('' or 'gan-'): #{p}play,
// #{p}step, #{p}reset, #{p}status, #{p}alert, #{p}lesson, #{p}lesson-title, #{p}lesson-text,
// #{p}lesson-close.

import { api } from './api.js';
import { Session } from './session.js';
import { stepsNote } from './specfile.js';
import { applyHidden } from './share.js';
import { StatusBar, describeRun } from './status.js';
import { $, $$, fmt, h, setText } from './util.js';

const URL_MS = 200; // the address bar follows edits this long after the last one

/** A message's leading field path (`optimizer.lr: ...` -> `optimizer.lr`), or null. */
export function messagePath(message) {
  return /^([a-z_][a-z_0-9]*(?:\.[a-z_0-9]+)*)[\s:]/i.exec(message)?.[1] ?? null;
}

/** The `[data-field]` element whose name is the longest prefix of `path` (or null). */
export function fieldFor(path, fields) {
  let best = null;
  for (const field of path ? fields : []) {
    const name = field.dataset.field;
    if ((path === name || path.startsWith(`${name}.`)) && (!best || name.length > best.dataset.field.length)) best = field;
  }
  return best;
}

export class Lab {
  /**
   * name: the lab's view name; prefix: its element ids' prefix; roots: selectors of the parts of
   * the page that are this lab's (field errors stay inside them); State: its state class;
   * catalog and presets: the lab's. shareView: the `?view=` its links carry (none for the playground).
   * toolbar: how the shared toolbar reads in this lab (see `buildToolbar`).
   */
  constructor({ name, title, prefix, roots, State, catalog, presets, shareView = null, isActive, toolbar = {} }) {
    Object.assign(this, { name, title, prefix, roots, State, catalog, presets, shareView });
    this.isActive = isActive;
    this.state = new State(catalog);
    this.buildToolbar(toolbar);
    this.status = new StatusBar(prefix);
    this.connection = 'open';
    this.written = ''; // the latest fragment written for this lab
    this.onUrl = () => {}; // the shell listens
    this.saveTimer = null;
    this.session = new Session({
      onReset: () => this.clearRun(),
      onStatus: () => this.renderStatus(),
      onMetrics: (points, history) => this.addMetrics(points, history),
      onFrame: (frame) => this.addFrame(frame),
      onConnection: (state) => this.setConnection(state),
      onError: (error) => this.showError(error),
      onMessageError: (text) => this.showMessageError(text),
      onJob: () => this.onJob(),
    }, { memoryKey: name }); // a reload takes up this tab's run of this lab
    for (const [id, action] of Object.entries(this.buttons())) this.el(id).addEventListener('click', action);
    this.el('lesson-close').addEventListener('click', () => { this.el('lesson').hidden = true; });
  }

  /**
   * Put the shared toolbar (#lab-toolbar: reset, play, step, counters) in this lab's
   * `[data-lab-toolbar]` slot, ids prefixed; what the slot holds joins the buttons (the GAN's
   * phase steps). group/groupLabel: its classroom hide group; step: the step button's {label,
   * title, className}; stepTitle: what the step counter counts.
   */
  buildToolbar({ group = 'transport', groupLabel = 'Play, step and reset', step = {}, stepTitle = '' }) {
    const slot = this.own('[data-lab-toolbar]')[0];
    const parts = $('#lab-toolbar').content.cloneNode(true);
    for (const el of parts.querySelectorAll('[data-id]')) {
      el.id = `${this.prefix}${el.dataset.id}`;
      el.removeAttribute('data-id');
      const label = el.getAttribute('aria-labelledby');
      if (label) el.setAttribute('aria-labelledby', `${this.prefix}${label}`);
    }
    const transport = parts.querySelector('.transport');
    Object.assign(transport.dataset, { group, groupLabel });
    const button = transport.querySelector(`#${this.prefix}step`);
    if (step.label) button.setAttribute('aria-label', step.label);
    if (step.title) button.title = step.title;
    if (step.className) button.classList.add(step.className);
    if (stepTitle) parts.querySelector(`#${this.prefix}step-label`).title = stepTitle;
    transport.append(...slot.children);
    slot.replaceWith(parts);
  }

  /** One of this lab's elements by its unprefixed id. */
  el(id) {
    return $(`#${this.prefix}${id}`);
  }

  // ----- what a lab supplies ------------------------------------------------------------

  /** Toolbar buttons by unprefixed id: {play: fn, step: fn, reset: fn, ...}. */
  buttons() {
    return { play: () => this.toggle(), step: () => this.stepOnce(), reset: () => this.reset() };
  }

  /** Keyboard keys (lower case) while this lab is shown: {' ': fn, s: fn, r: fn, ...}. */
  keys() {
    return { ' ': () => this.toggle(), s: () => this.stepOnce(), r: () => this.reset() };
  }

  toggle() {
    this.flushEdits();
    this.session.toggle();
  }

  stepOnce() {
    this.flushEdits();
    this.session.stepOnce();
  }

  /**
   * After an edit: the run for the new settings is prepared `ms` later (edits in a row make
   * one run); until then a play or a step goes to that run, not the old one (`flushEdits`).
   */
  prepareSoon(ms) {
    this.session.spec = this.state.jobSpec();
    this.session.intent = null;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.prepare();
    }, ms);
  }

  /** Prepare now the run an edit asked for, if it is still waiting. */
  flushEdits() {
    if (!this.reloadTimer) return;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    this.prepare();
  }

  reset() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    this.stop();
    this.clearErrors();
    this.status.hideAlert();
    this.session.reset(this.state.jobSpec());
  }

  /** Stop whatever the lab drives itself (e.g. the GAN's slow motion); nothing by default. */
  stop() {}

  /** Prepare a fresh paused run for the settings. */
  prepare() { this.session.load(this.state.jobSpec()); }

  /** Apply a lesson's preset opened from a link; `found` says what the link itself held. */
  applyPreset(preset, found) {
    if (!found.spec) this.state.loadSpec(preset.spec);
    this.showLesson(preset);
  }

  /** Ids of the runs this lab holds (the runs view marks them). */
  jobIds() { return [this.session.job?.id].filter(Boolean); }

  renderAll() {}

  clearRun() {}

  addMetrics() {}

  addFrame() {}

  onJob() {}

  /** Where the failure banner goes (the picture the run draws); text '' takes it down. */
  banner() {}

  /** The status pill's words for the run. */
  describe() {
    const session = this.session;
    return describeRun({ racing: false, playing: session.playing, connection: this.connection, error: session.error, job: session.job });
  }

  get playing() { return this.session.playing; }

  /** The toolbar's counters for the single run, from `latest` (the newest metrics point). */
  drawCounters() {
    const p = this.latest;
    this.status.counters({
      step: Math.max(p?.step ?? 0, this.session.step),
      epoch: p?.epoch,
      rate: this.session.playing ? p?.steps_per_second : 0,
    });
  }

  /** The server's view of the run (layers, parameter counts) to `apply`, once per run. */
  async fetchJobView(apply) {
    const job = this.session.job;
    if (!job || this.viewFetched) return;
    this.viewFetched = true;
    try {
      const view = await api.job(job.id);
      if (this.session.job?.id === view.id) apply(view);
    } catch {
      this.viewFetched = false; // the next frame tries again
    }
  }

  /** The lesson menu's groups while this lab is shown: [[label, presets], ...]. */
  lessonGroups() { return [['Lessons', this.presets]]; }

  /** The lab is shown again: draw what arrived while it was hidden. */
  show() { this.scheduler?.request(); }

  /** The page goes away: let the server park the run. */
  dispose() { this.session.dispose(); }

  // ----- links and lessons --------------------------------------------------------------

  /** Apply a share link's fragment: its spec, its page settings, its lesson. */
  async openLink(link) {
    this.state = new this.State(this.catalog);
    const found = this.state.fromHash(link || '');
    // An empty playground link opens the starter lesson, which succeeds within seconds.
    if (!link && this.startLesson) this.state.ui.lesson = this.startLesson;
    applyHidden(this.state.ui.hide);
    const lesson = this.state.ui.lesson;
    let preset = null;
    if (lesson) {
      try {
        preset = await api.preset(lesson);
      } catch {
        this.status.alert(`The link names a lesson this server does not know (${lesson}).`, 'link', 'warn');
        this.state.ui.lesson = '';
      }
    }
    this.onUrl(null); // the lesson menu follows
    if (preset && this.applyPreset(preset, found) === false) return;
    if (!preset) this.el('lesson').hidden = true;
    this.state.normalize();
    this.stop();
    this.renderAll();
    this.prepare();
    this.writeUrl(); // the address bar always holds the experiment
  }

  get lesson() { return this.state.ui.lesson; }

  async loadLesson(name) {
    if (!name) {
      this.state.ui.lesson = '';
      this.el('lesson').hidden = true;
      this.leaveLesson();
      this.saveUrl();
      return;
    }
    let preset;
    try {
      preset = await api.preset(name);
    } catch (error) {
      this.status.alert(error.message, 'lesson', 'warn');
      return;
    }
    this.state.ui.lesson = name;
    this.showLesson(preset);
    if (this.startPreset(preset) !== false) this.loadFresh(preset.spec);
    this.saveUrl();
  }

  /** Load `spec` into the lab and prepare a fresh paused run for it; returns notes for the person. */
  loadFresh(spec) {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    this.state.loadSpec(spec);
    const notes = this.state.normalize();
    this.stop();
    this.clearErrors();
    this.status.hideAlert();
    this.renderAll();
    this.session.reset(this.state.jobSpec());
    return notes;
  }

  /** After an edit: keep the settings consistent, redraw, keep the link, clear old complaints. */
  settle(notes = []) {
    notes.push(...this.state.normalize());
    this.renderAll();
    this.saveUrl();
    this.status.note(notes.join(' '));
    this.clearErrors();
    this.status.hideAlert();
  }

  /** A lesson picked from the menu; false when the lab started it itself (a race). */
  startPreset() { return true; }

  /** The menu's "free play": nothing more by default. */
  leaveLesson() {}

  showLesson(preset) {
    setText(this.el('lesson-title'), preset.title);
    setText(this.el('lesson-text'), preset.explanation);
    this.el('lesson').hidden = false;
  }

  /** Put a spec from elsewhere (a stored run, a file) into the lab, ready to play. */
  loadOutsideSpec(spec, source, steps = null) {
    this.state.ui.lesson = '';
    this.el('lesson').hidden = true;
    this.onUrl(null); // the lesson menu follows
    const notes = this.loadFresh(spec);
    this.saveUrl();
    this.status.note([`Loaded ${source}: press play to train it${stepsNote(spec, steps)}.`, ...notes].join(' '));
  }

  /** The link's fragment, with the classroom's hidden groups `hide`. */
  hash({ hide = this.state.ui.hide } = {}) {
    const ui = this.state.ui;
    const saved = ui.hide;
    ui.hide = hide;
    const text = this.state.toHash();
    ui.hide = saved;
    return text;
  }

  /** A share link for this experiment. */
  shareLink(hide) {
    const view = this.shareView ? `?view=${this.shareView}` : '';
    return `${location.origin}${location.pathname}${view}#${this.hash({ hide })}`;
  }

  writeUrl() {
    clearTimeout(this.saveTimer);
    this.written = this.hash();
    this.onUrl(this.written);
  }

  saveUrl() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.writeUrl(), URL_MS);
  }

  // ----- status, failure and errors -----------------------------------------------------

  setConnection(state) {
    this.connection = state;
    if (state === 'reconnecting') this.status.alert('Connection to the server lost: reconnecting…', 'connection', 'warn');
    else this.status.hideAlert('connection');
    this.renderStatus();
  }

  /** The pill, the play button, and why a run stopped (from its structured `failure`). */
  renderStatus() {
    this.status.show({ playing: this.playing, ...this.describe() });
    const job = this.session.job;
    if (job?.status === 'failed') {
      this.stop();
      const diverged = job.failure?.kind === 'diverged';
      this.banner(diverged ? `Diverged at step ${fmt.int(job.failure.step)}` : 'Training failed');
      this.status.alert(`Training stopped: ${job.reason || 'the run failed'}`, 'failed');
    } else if (job?.status === 'interrupted' && !job.resuming) {
      this.banner('');
      this.status.alert('The server restarted while this run was training: press play to continue it, '
        + 'or reset to start over.', 'failed', 'warn');
    } else {
      this.banner('');
      this.status.hideAlert('failed');
    }
    this.scheduler?.request();
  }

  showError(error) {
    this.stop();
    if (error.status === 422) {
      const rest = this.placeErrors(error.errors);
      if (rest.length) this.status.alert(`The server refused these settings: ${rest.join('; ')}`, 'refused');
    } else if (error.status === 429) {
      this.status.alert(error.message, 'busy', 'warn');
    } else {
      this.status.alert(error.message, 'error');
    }
    this.renderStatus();
  }

  /** A refusal of a live message (e.g. a learning rate): next to its field, else the alert line. */
  showMessageError(text) {
    if (/^lr\b/.test(text) && !this.placeErrors([`optimizer.lr: ${text}`]).length) return;
    this.status.alert(text, 'message', 'warn');
  }

  /** This lab's elements that match `selector`. */
  own(selector) {
    return this.roots.flatMap((root) => $$(selector, $(root)));
  }

  clearErrors() {
    for (const node of this.own('.field-error')) node.remove();
    for (const node of this.own('[aria-invalid="true"]')) {
      node.removeAttribute('aria-invalid');
      node.removeAttribute('aria-describedby');
    }
  }

  /** Put each message next to the field it names (longest matching `data-field`); returns the rest. */
  placeErrors(messages) {
    this.clearErrors();
    // A field hidden (or hidden by a classroom link) cannot show its message: it goes to the alert.
    const hidden = new Set(this.state.ui.hide);
    const fields = this.own('[data-field]').filter((el) => !el.closest('[hidden]')
      && !hidden.has(el.closest('[data-group]')?.dataset.group));
    const rest = [];
    messages.forEach((message, i) => {
      const field = fieldFor(messagePath(message), fields);
      if (!field) {
        rest.push(message);
        return;
      }
      const note = h('p', { class: 'field-error', role: 'alert', id: `${this.prefix}error-${i}` }, message);
      field.append(note);
      for (const control of field.querySelectorAll('input:not([hidden]), select, canvas')) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', note.id);
      }
    });
    return rest;
  }
}
