// The run's state in words: the play button, the counters, the status pill, the alert line
// under the toolbar and the short-lived note. Nothing here decides anything.

import { $, fmt, setText } from './util.js';

/** What the status pill says, and in which tone, for the current run. */
export function describeRun({ racing, playing, connection, error, job }) {
  if (racing) return playing ? { text: 'racing', tone: 'live' } : { text: 'race ready', tone: '' };
  if (connection === 'reconnecting') return { text: 'reconnecting…', tone: 'warn' };
  if (error) return { text: error.status === 422 ? 'settings refused' : 'not started', tone: 'bad' };
  if (!job) return { text: 'preparing…', tone: '' };
  if (job.status === 'failed') {
    return { text: job.failure?.kind === 'diverged' ? 'diverged' : 'failed', tone: 'bad' };
  }
  if (playing) return { text: 'training', tone: 'live' };
  if (job.status === 'paused' && job.step > 0) return { text: 'paused', tone: '' };
  if (['completed', 'stopped', 'interrupted'].includes(job.status)) return { text: job.status, tone: '' };
  return { text: 'ready', tone: '' };
}

/**
 * A stored run's status as the same pill shows it (the table of runs): the server's word,
 * 'diverged' for a loss that became infinite, in the playground's tones.
 */
export function describeJob(job) {
  const status = job.status;
  if (status === 'failed') {
    // Runs stored before `failure` existed only have the sentence.
    const diverged = job.failure ? job.failure.kind === 'diverged' : /diverged/.test(job.reason || '');
    return { text: diverged ? 'diverged' : 'failed', tone: 'bad' };
  }
  if (status === 'running') return { text: 'training', tone: 'live' };
  if (status === 'queued') return { text: 'queued', tone: 'live' };
  if (status === 'interrupted') return { text: 'interrupted', tone: 'warn' };
  return { text: status, tone: '' };
}

let noteTimer = null;

export class StatusBar {
  /** `prefix` picks a view's own elements: '' the playground's #play, #status…; 'gan-' the GAN lab's. */
  constructor(prefix = '') {
    const el = (name) => $(`#${prefix}${name}`);
    this.play = el('play');
    this.pill = el('status');
    this.box = el('alert');
    this.text = el('alert-text');
    this.stepOut = el('step-count');
    this.epochOut = el('epoch-count');
    this.rateOut = el('rate');
    this.noteBox = $('#note');
    el('alert-close').addEventListener('click', () => this.hideAlert());
  }

  show({ playing, text, tone }) {
    this.play.classList.toggle('playing', playing);
    this.play.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    this.play.title = playing ? 'Pause (space)' : 'Play (space)';
    setText(this.pill, text);
    this.pill.dataset.tone = tone;
  }

  counters({ step, epoch, rate }) {
    setText(this.stepOut, fmt.step(step));
    setText(this.epochOut, Number.isFinite(epoch) ? epoch.toFixed(2) : '0.00');
    setText(this.rateOut, rate ? fmt.int(rate) : '–');
  }

  /** One alert line under the toolbar; `kind` lets the code that raised it take it down. */
  alert(text, kind = 'error', tone = 'bad') {
    this.box.dataset.kind = kind;
    this.box.dataset.tone = tone;
    setText(this.text, text);
    this.box.hidden = false;
  }

  hideAlert(kind) {
    if (!kind || this.box.dataset.kind === kind) this.box.hidden = true;
  }

  /** A passing remark (e.g. a value the page adjusted), gone after a few seconds. */
  note(text) {
    setText(this.noteBox, text);
    this.noteBox.hidden = !text;
    clearTimeout(noteTimer); // one note line, shared by the views
    if (text) noteTimer = setTimeout(() => { this.noteBox.hidden = true; }, 6000);
  }
}
