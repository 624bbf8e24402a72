// The Runs view: every run the server keeps, as a table that sorts and filters; ticked runs
// are compared on one chart (compare.js), an opened run shows in the detail panel
// (rundetail.js). The list is read again every few seconds while the view is shown.

import { api } from './api.js';
import { CompareView } from './compare.js';
import { targetTitle } from './ganstate.js';
import { SERIES } from './palette.js';
import { RunDetail } from './rundetail.js';
import { describeJob } from './status.js';
import { $, fmt, h, setText } from './util.js';

const REFRESH_MS = 3000;

/** When a run was created, in words: "just now", "5 min ago", "3 h ago", "12 Mar 14:03". */
export function ago(seconds, now = Date.now() / 1000) {
  if (!Number.isFinite(seconds)) return '–';
  const age = Math.max(0, now - seconds);
  if (age < 60) return 'just now';
  if (age < 3600) return `${Math.floor(age / 60)} min ago`;
  if (age < 86400) return `${Math.floor(age / 3600)} h ago`;
  return new Date(seconds * 1000).toLocaleString('en-GB', {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

/** Untouched: a job nobody trained (the playground prepares one paused for every setting). */
const untouched = (job) => job.step === 0 && (job.status === 'paused' || job.status === 'stopped');

// One table of columns drives the header, the cells, sorting and filtering.
// value: what sorts (null/undefined sort last either way); text: what the cell shows;
// wide: left out while a run is open beside the table on a narrower screen.
const COLUMNS = [
  { key: 'name', label: 'Name', value: (r) => r.label.toLowerCase() },
  { key: 'dataset', label: 'Dataset', value: (r) => r.dataset.toLowerCase(), text: (r) => r.dataset },
  { key: 'model', label: 'Model', value: (r) => r.job.summary?.model ?? '', text: (r) => r.job.summary?.model ?? '–', cls: 'model' },
  { key: 'optimizer', label: 'Optimizer', value: (r) => r.optimizer.toLowerCase(), text: (r) => r.optimizer },
  { key: 'lr', label: 'LR', num: true, wide: true, value: (r) => r.job.lr, text: (r) => (r.job.lr ? fmt.num(r.job.lr) : '–') },
  { key: 'steps', label: 'Steps', num: true, wide: true, value: (r) => r.job.step, text: (r) => fmt.int(r.job.step) },
  { key: 'status', label: 'Status', value: (r) => r.status.text },
  { key: 'loss', label: 'Best test loss', num: true, value: (r) => r.job.summary?.best_test_loss, text: (r) => fmt.loss(r.job.summary?.best_test_loss) },
  { key: 'accuracy', label: 'Best test acc.', num: true, value: (r) => r.job.summary?.best_test_accuracy, text: (r) => fmt.pct(r.job.summary?.best_test_accuracy) },
  { key: 'when', label: 'When', num: true, value: (r) => r.job.created_at, text: (r) => ago(r.job.created_at), cls: 'when', wide: true },
];

const columnClass = (col) => [col.cls, col.num ? 'num' : '', col.wide ? 'wide-only' : ''].filter(Boolean).join(' ') || undefined;

function compareValues(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

export class RunsView {
  /**
   * ownIds(): the ids of the page's own runs (a Set, or a Map from id to the view showing it);
   * labFor(spec) names the lab that trains a spec; onLoad(spec, label) puts it there.
   */
  constructor(root, { catalog, ownIds = () => new Set(), labFor, onLoad }) {
    this.root = root;
    this.catalog = catalog;
    this.ownIds = ownIds;
    this.jobs = [];
    this.rows = new Map(); // id -> {tr, cells, box, ...}
    this.selected = new Set(); // ticked ids, in the order they were ticked
    this.colors = new Map(); // ticked id -> its index in SERIES
    this.sort = { key: 'when', dir: -1 };
    this.filter = '';
    this.hideUntouched = true;
    this.visible = false;
    this.loaded = false;
    this.body = $('#runs-table tbody', root);
    this.buildHead();
    this.compare = new CompareView($('#compare', root));
    this.detail = new RunDetail($('#run-detail', root), {
      catalog,
      label: (job) => this.label(job),
      labFor,
      onChanged: () => this.refresh(),
      onLoad,
      onClose: () => {
        root.classList.remove('has-detail');
        this.update();
      },
    });
    $('#runs-filter', root).addEventListener('input', (e) => {
      this.filter = e.target.value;
      this.update();
    });
    $('#runs-untouched', root).addEventListener('change', (e) => {
      this.hideUntouched = e.target.checked;
      this.update();
    });
    $('#runs-refresh', root).addEventListener('click', () => this.refresh());
    this.selectAll = $('#runs-select-all', root);
    this.selectAll.addEventListener('change', () => {
      for (const row of this.shown) {
        if (this.selectAll.checked) this.selected.add(row.job.id);
        else this.selected.delete(row.job.id);
      }
      this.update();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && this.visible) this.refresh();
    });
  }

  buildHead() {
    const tr = $('#runs-table thead tr', this.root);
    this.heads = new Map();
    for (const col of COLUMNS) {
      const th = h('th', { scope: 'col', class: columnClass(col) },
        h('button', { type: 'button', class: 'sort-btn', onclick: () => this.sortBy(col.key) }, col.label));
      this.heads.set(col.key, th);
      tr.append(th);
    }
  }

  // ----- showing and loading --------------------------------------------------------

  show() {
    this.visible = true;
    this.detail.wake();
    this.refresh();
  }

  hide() {
    this.visible = false;
    clearTimeout(this.timer);
    this.detail.suspend();
  }

  /** Read the list again (and plan the next read while the view is shown). */
  async refresh() {
    clearTimeout(this.timer);
    if (!document.hidden) {
      try {
        const { jobs } = await api.jobs();
        this.jobs = jobs;
        this.loaded = true;
        this.message('');
      } catch (error) {
        this.message(`Cannot read the runs: ${error.message}`);
      }
      this.update();
    }
    if (this.visible) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  message(text) {
    const box = $('#runs-message', this.root);
    setText(box, text);
    box.hidden = !text;
  }

  // ----- the table ------------------------------------------------------------------

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: key === 'when' ? -1 : 1 };
    this.update();
  }

  /** A run's name, or what it trains when it has none. */
  label(job) {
    return job.name || `${this.datasetTitle(job)} · ${this.optimizerLabel(job)}`;
  }

  datasetTitle(job) {
    const name = job.summary?.dataset;
    const info = this.catalog.datasets.find((d) => d.name === name);
    if (info && job.summary?.task === 'gan') return targetTitle(info);
    return info?.title ?? name ?? '–';
  }

  optimizerLabel(job) {
    const name = job.summary?.optimizer;
    return this.catalog.optimizers.find((o) => o.name === name)?.label ?? name ?? '–';
  }

  rowModel(job) {
    return {
      job,
      label: this.label(job),
      dataset: this.datasetTitle(job),
      optimizer: this.optimizerLabel(job),
      status: describeJob(job),
    };
  }

  /** Rows that pass the filter (every word must appear somewhere) and the untouched toggle. */
  /** Left out by "Hide untouched runs" (a ticked or open run always shows). */
  tucked(job) {
    return this.hideUntouched && untouched(job) && !this.selected.has(job.id) && job.id !== this.detail.id;
  }

  matches(row) {
    if (this.tucked(row.job)) return false;
    const words = this.filter.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    const s = row.job.summary || {};
    const hay = [row.label, row.job.name, row.dataset, s.dataset, s.model, row.optimizer, s.optimizer,
      row.status.text, row.job.status, row.job.id].filter(Boolean).join(' ').toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  update() {
    const ids = new Set(this.jobs.map((j) => j.id));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    const models = this.jobs.map((job) => this.rowModel(job));
    const col = COLUMNS.find((c) => c.key === this.sort.key);
    const dir = this.sort.dir;
    this.shown = models.filter((r) => this.matches(r)).sort((a, b) => {
      const va = col.value(a);
      const vb = col.value(b);
      const na = va === null || va === undefined;
      const nb = vb === null || vb === undefined;
      if (na || nb) return na === nb ? 0 : na ? 1 : -1;
      return dir * compareValues(va, vb) || (b.job.created_at - a.job.created_at);
    });
    for (const [key, th] of this.heads) {
      th.setAttribute('aria-sort', key === this.sort.key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    this.renderRows(ids);
    this.renderCount(models);
    this.renderEmpty();
    const shownSelected = this.shown.filter((r) => this.selected.has(r.job.id)).length;
    this.selectAll.checked = this.shown.length > 0 && shownSelected === this.shown.length;
    this.selectAll.indeterminate = shownSelected > 0 && shownSelected < this.shown.length;
    this.compare.update(this.compared());
    const open = this.jobs.find((j) => j.id === this.detail.id);
    if (this.detail.id) {
      this.detail.sync(open || null);
      this.root.classList.toggle('has-detail', !!this.detail.id);
    }
  }

  renderRows(ids) {
    for (const [id, row] of this.rows) {
      if (!ids.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    const own = this.ownIds();
    const order = [];
    for (const model of this.shown) {
      const row = this.rows.get(model.job.id) || this.buildRow(model.job.id);
      this.fillRow(row, model, own);
      order.push(row.tr);
    }
    const hidden = new Set([...this.rows.values()].map((r) => r.tr));
    for (const tr of order) hidden.delete(tr);
    for (const tr of hidden) tr.remove();
    // Move rows only where the order changed (a moved row loses the focus it holds).
    const current = [...this.body.children];
    if (current.length !== order.length || current.some((tr, i) => tr !== order[i])) {
      order.forEach((tr, i) => {
        if (this.body.children[i] !== tr) this.body.insertBefore(tr, this.body.children[i] || null);
      });
    }
  }

  buildRow(id) {
    const box = h('input', { type: 'checkbox', onchange: (e) => {
      if (e.target.checked) this.selected.add(id);
      else this.selected.delete(id);
      this.update();
    } });
    const open = h('button', { type: 'button', class: 'run-open', onclick: () => this.open(id) });
    const tag = h('span', { class: 'run-tag', title: 'The run the Playground shows now' }, 'playground');
    const readOnly = h('span', { class: 'run-tag read-only', title: 'Someone else’s run: you can watch it but not change it' }, 'read-only');
    const pill = h('span', { class: 'status-pill' });
    const cells = new Map();
    const tr = h('tr', { dataset: { id } }, h('td', { class: 'sel' }, box));
    for (const col of COLUMNS) {
      const td = h('td', { class: columnClass(col) });
      if (col.key === 'name') td.append(open, tag, readOnly);
      if (col.key === 'status') td.append(pill);
      cells.set(col.key, td);
      tr.append(td);
    }
    // A click anywhere on the row (but its checkbox) opens the run.
    tr.addEventListener('click', (e) => {
      if (!e.target.closest('input, button, a')) this.open(id);
    });
    const row = { tr, box, open, tag, readOnly, pill, cells };
    this.rows.set(id, row);
    return row;
  }

  fillRow(row, model, own) {
    const { job } = model;
    row.box.checked = this.selected.has(job.id);
    row.box.setAttribute('aria-label', `Select ${model.label}`);
    setText(row.open, model.label);
    row.open.classList.toggle('unnamed', !job.name);
    row.open.title = `Open ${model.label}`;
    // own: ids of the runs the page shows now, mapped to the view that shows each.
    const where = own instanceof Map ? own.get(job.id) : own.has(job.id) ? 'playground' : undefined;
    row.tag.hidden = !where;
    row.readOnly.hidden = job.owned !== false;
    if (where) {
      setText(row.tag, where);
      row.tag.title = `The run the ${where === 'playground' ? 'Playground' : where} shows now`;
    }
    setText(row.pill, model.status.text);
    row.pill.dataset.tone = model.status.tone;
    row.pill.title = job.reason || '';
    for (const col of COLUMNS) {
      if (!col.text) continue;
      setText(row.cells.get(col.key), col.text(model));
    }
    row.cells.get('when').title = job.created_at ? new Date(job.created_at * 1000).toLocaleString() : '';
    row.cells.get('model').title = job.summary?.model ?? '';
    row.tr.classList.toggle('open', job.id === this.detail.id);
    row.tr.classList.toggle('selected', this.selected.has(job.id));
  }

  renderCount(models) {
    const hidden = models.filter((r) => this.tucked(r.job)).length;
    const total = models.length - hidden;
    const shown = this.shown.length;
    let text = `${shown === total ? shown : `${shown} of ${total}`} ${total === 1 ? 'run' : 'runs'}`;
    if (hidden) text += ` · ${hidden} untouched hidden`;
    setText($('#runs-count', this.root), text);
  }

  renderEmpty() {
    const empty = $('#runs-empty', this.root);
    let text = '';
    if (!this.loaded) text = 'Reading the runs…';
    else if (!this.jobs.length) text = 'No runs yet. Train something in the Playground, or import a spec.';
    else if (!this.shown.length) text = this.filter ? `No run matches “${this.filter}”.` : 'Every run is untouched (never trained); untick “Hide untouched runs” to list them.';
    setText(empty, text);
    empty.hidden = !text;
  }

  // ----- compare and open -----------------------------------------------------------

  /**
   * The ticked runs with a label and a colour each. Repeated names are told apart by what
   * differs: the optimizer, then the learning rate, then the id.
   */
  compared() {
    const jobs = [...this.selected].map((id) => this.jobs.find((j) => j.id === id)).filter(Boolean);
    const labels = jobs.map((job) => this.label(job));
    const extras = [
      (job) => this.optimizerLabel(job),
      (job) => `lr ${fmt.num(job.lr)}`,
      (job) => job.id.slice(0, 6),
    ];
    for (const extra of extras) {
      const groups = new Map();
      labels.forEach((l, i) => groups.set(l, [...(groups.get(l) || []), i]));
      for (const same of groups.values()) {
        const values = same.map((i) => extra(jobs[i]));
        if (same.length < 2 || new Set(values).size === 1) continue; // this tells none apart
        same.forEach((i, k) => { labels[i] = `${labels[i]} · ${values[k]}`; });
      }
    }
    // A run keeps its colour while it stays ticked.
    for (const id of this.colors.keys()) if (!this.selected.has(id)) this.colors.delete(id);
    for (const job of jobs) {
      if (this.colors.has(job.id)) continue;
      const used = new Set(this.colors.values());
      let i = 0;
      while (used.has(i) && i < SERIES.length) i++;
      this.colors.set(job.id, i % SERIES.length);
    }
    return jobs.map((job, i) => ({ id: job.id, job, label: labels[i], color: SERIES[this.colors.get(job.id)] }));
  }

  open(id) {
    const job = this.jobs.find((j) => j.id === id);
    if (!job) return;
    this.detail.open(job);
    this.root.classList.add('has-detail');
    this.update();
  }
}
