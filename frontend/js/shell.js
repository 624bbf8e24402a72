// The lab shell: the page around the labs. It owns the view tabs and the address (which lab is
// shown, and each lab's fragment), the lesson menu, the share dialog, importing a spec file, the
// runs view, the keyboard, and the markup the labs share (index.html's #part-… templates, stamped
// into each lab's [data-part] slots); each lab (see lab.js) is registered once and built when first shown.

import { api } from './api.js';
import { RunsView } from './runs.js';
import { ShareDialog, applyHidden } from './share.js';
import { parseSpecText } from './specfile.js';
import { $, $$, h, setText } from './util.js';

export class Shell {
  /**
   * labs: [{name, title, label, create: (options) => Lab}], the first being the default view;
   * the Runs view is added after them. catalog: the whole catalog (the runs view's).
   */
  constructor({ labs, catalog, health }) {
    this.specs = new Map(labs.map((lab) => [lab.name, lab]));
    this.labs = new Map(); // name -> Lab, built when first shown
    this.views = [...this.specs.keys(), 'runs'];
    this.titles = { ...Object.fromEntries(labs.map((l) => [l.name, l.title])), runs: 'Runs · nnplay' };
    this.view = this.views[0];
    this.links = new Map(); // lab name -> the fragment it opens with when first built
    this.lessonLab = null; // the lab whose lessons the menu lists
    setText($('#device'), health ? `${health.device} · torch ${health.torch}` : '');
    this.share = new ShareDialog({
      link: (hide) => this.shown().shareLink(hide),
      current: () => this.shown().state.ui.hide,
      note: () => this.shown().state.linkNote?.() ?? null,
    });
    this.runs = new RunsView($('#runs-view'), {
      catalog,
      ownIds: () => new Map([...this.labs.values()].flatMap((lab) => lab.jobIds().map((id) => [id, lab.label]))),
      labFor: (spec) => {
        const lab = [...this.specs.values()].find((l) => l.accepts(spec) && !l.refuses?.(spec, ''));
        return lab?.label ?? null;
      },
      onLoad: (spec, label, steps) => this.loadOutsideSpec(spec, label, steps),
    });
    this.bindViews();
    this.bindImport();
    this.bindKeys();
    $('#lesson-menu').addEventListener('change', (e) => this.shown().loadLesson(e.target.value));
    window.addEventListener('hashchange', () => {
      const lab = this.labs.get(this.view);
      if (lab && location.hash.slice(1) !== lab.written) lab.openLink(location.hash);
    });
    window.addEventListener('pagehide', () => {
      for (const lab of this.labs.values()) lab.dispose();
    });
  }

  /** The view the address asks for: `?view=runs`, `?view=gan`, ... (the fragment holds the experiment). */
  viewFromUrl() {
    const view = new URLSearchParams(location.search).get('view');
    return this.views.includes(view) ? view : this.views[0];
  }

  async start() {
    const view = this.viewFromUrl();
    // The fragment belongs to the lab the address names (the default lab for the runs view).
    this.links.set(view === 'runs' ? this.views[0] : view, location.hash || (view === this.views[0] ? location.search : ''));
    this.showView(view);
    await this.opening(view === 'runs' ? this.views[0] : view);
  }

  /** The lab `name`, built (and its link opened) on first use. */
  lab(name) {
    let lab = this.labs.get(name);
    if (lab) return lab;
    const spec = this.specs.get(name);
    lab = spec.create({ isActive: () => this.view === name, roots: spec.roots });
    lab.label = spec.label;
    lab.onUrl = (hash) => {
      if (hash !== null && this.view === name) history.replaceState(null, '', this.viewUrl(name));
      this.renderViewLinks();
      if (this.view === name) $('#lesson-menu').value = lab.lesson;
    };
    this.labs.set(name, lab);
    return lab;
  }

  /** The lab `name`, its link opened once (the first time it is shown). */
  open(name) {
    const lab = this.lab(name);
    lab.opened ??= lab.openLink(this.links.get(name) || '');
    return lab;
  }

  opening(name) {
    return this.labs.get(name)?.opened;
  }

  /** The lab shown, or the default lab under the runs view (share and import act on it). */
  shown() {
    return this.open(this.view === 'runs' ? this.views[0] : this.view);
  }

  // ----- views ------------------------------------------------------------------------

  bindViews() {
    for (const tab of $$('.view-tab')) {
      tab.addEventListener('click', (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // a new tab
        event.preventDefault();
        this.showView(tab.dataset.view, { push: true });
      });
    }
    window.addEventListener('popstate', () => this.showView(this.viewFromUrl()));
  }

  /** The address of a view: `?view=NAME` (none for the default lab) and its lab's fragment. */
  viewUrl(view) {
    const url = new URL(location.href);
    if (view === this.views[0]) url.searchParams.delete('view');
    else url.searchParams.set('view', view);
    const hash = this.labs.get(view === 'runs' ? this.views[0] : view)?.written ?? '';
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

  /** Show one view; the others keep their state (a run goes on training). */
  showView(view, { push = false } = {}) {
    if (!this.views.includes(view)) view = this.views[0];
    const changed = view !== this.view;
    this.view = view;
    if (push && this.viewUrl(view) !== `${location.pathname}${location.search}${location.hash}`) {
      history.pushState(null, '', this.viewUrl(view));
    }
    document.body.dataset.view = view;
    for (const [name, spec] of this.specs) for (const root of spec.roots) $(root).hidden = name !== view;
    $('#runs-view').hidden = view !== 'runs';
    document.title = this.titles[view];
    const lab = this.shown();
    if (view !== 'runs') lab.show();
    // A classroom link hides controls of the lab it was made in.
    applyHidden(lab.state.ui.hide);
    this.renderViewLinks();
    this.renderLessonMenu();
    if (view === 'runs') this.runs.show();
    else if (changed) this.runs.hide();
  }

  /** The lesson menu lists the lessons of the lab shown (GAN lessons in the GAN lab). */
  renderLessonMenu() {
    const lab = this.shown();
    const menu = $('#lesson-menu');
    if (this.lessonLab !== lab) {
      this.lessonLab = lab;
      const item = (p) => h('option', { value: p.name, title: p.summary }, p.title);
      menu.replaceChildren(h('option', { value: '' }, 'Free play (no lesson)'),
        ...lab.lessonGroups().map(([label, presets]) => h('optgroup', { label }, ...presets.map(item))));
    }
    menu.value = lab.lesson;
  }

  /** A spec from elsewhere (a stored run, a file) goes to the lab that trains it. */
  loadOutsideSpec(spec, source, steps = null) {
    const name = this.views.find((v) => this.specs.has(v) && this.specs.get(v).accepts(spec)) ?? this.views[0];
    this.showView(name, { push: true });
    this.open(name).loadOutsideSpec(spec, source, steps);
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

  /** Read a spec file, have the server check it, and load it into the lab that trains it. */
  async importSpec(file) {
    if (this.view === 'runs') this.showView(this.views[0], { push: true });
    const status = this.shown().status;
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
    const name = this.views.find((v) => this.specs.has(v) && this.specs.get(v).accepts(spec));
    if (!name) {
      if (this.view !== this.views[0]) this.showView(this.views[0], { push: true });
      this.shown().status.alert(`${file.name} describes a ${spec.task} run; no lab here trains it. `
        + 'Start it over REST (POST /api/jobs) instead.', 'import', 'warn');
      return;
    }
    const refusal = this.specs.get(name).refuses?.(spec, file.name);
    if (refusal) {
      if (this.view !== name) this.showView(name, { push: true });
      this.shown().status.alert(refusal, 'import', 'warn');
      return;
    }
    this.loadOutsideSpec(spec, file.name);
  }

  // ----- keys ---------------------------------------------------------------------------

  /** One listener: the shown lab's keys, unless a field, a dialog or a modifier has them. */
  bindKeys() {
    document.addEventListener('keydown', (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const el = event.target;
      if (el.closest?.('input, select, textarea, [contenteditable], dialog')) return;
      const lab = this.labs.get(this.view);
      const action = lab?.keys()[event.key.toLowerCase()];
      if (!action) return;
      if (event.key === ' ') {
        if (el.closest?.('button, [role="switch"], [role="radio"], [role="tab"]')) return;
        event.preventDefault();
      }
      action();
    });
  }
}

/**
 * Fill every `[data-part]` slot with its `#part-…` template: `{name}` in an attribute becomes
 * the slot's data-name, else its lab root's (the nearest [data-prefix]), and the slot's children
 * go into the part's `[data-slot]`; parts inside parts are filled in turn.
 */
export function stampParts(root = document) {
  for (let slot = root.querySelector('[data-part]'); slot; slot = root.querySelector('[data-part]')) {
    const values = { ...slot.parentElement.closest('[data-prefix]')?.dataset, ...slot.dataset };
    const parts = $(`#part-${slot.dataset.part}`).content.cloneNode(true);
    for (const el of parts.querySelectorAll('*')) {
      for (const attr of el.attributes) attr.value = attr.value.replace(/\{(\w+)\}/g, (text, name) => values[name] ?? text);
    }
    const inner = parts.querySelector('[data-slot]');
    inner?.removeAttribute('data-slot');
    inner?.append(...slot.children);
    slot.replaceWith(parts);
  }
}
