// One training run as the page sees it: a job on the server plus its websocket.
//
// The page always holds a job for the current settings, created paused, so the first
// frame (data points, untrained boundary) shows at once and Step works before Play.
// Play/Pause/Step become websocket controls; a new spec replaces the job. A job that
// trained is kept (stopped, in the Runs view); only an untouched one is deleted. With
// options.memoryKey the tab remembers its run, and a reload comes back to it.

import { api } from './api.js';
import { runMemory } from './runmemory.js';
import { JobStream } from './stream.js';

const FINISHED = new Set(['completed', 'stopped', 'failed', 'interrupted']);
// The reason the server gives when it paused a run nobody watched (a tab that went away).
const UNWATCHED = 'nobody watching';

export class Session {
  /**
   * handlers (all optional): onReset(), onJob(view), onStatus(job), onMetrics(points, isHistory),
   * onFrame(frame), onConnection(state), onError(error), onMessageError(text)
   */
  constructor(handlers, options = {}) {
    this.handlers = handlers;
    this.options = options; // {jobOptions, memoryKey}
    this.restoring = !!options.memoryKey; // the first load looks for the tab's run
    this.spec = null;
    this.job = null; // {id, status, step, reason, failure, lr, parked}
    this.stream = null;
    this.generation = 0;
    // 'play', a number of steps, or {steps, phase} (a GAN's 'd' or 'g' alone), applied once
    // the job has parked.
    this.intent = null;
    this.error = null;
    this.loading = null;
  }

  get finished() {
    return !!this.job && FINISHED.has(this.job.status);
  }

  /** Whether the run trains now, or is about to (the person pressed play). */
  get playing() {
    if (this.intent === 'play' || this.job?.resuming) return true;
    const status = this.job?.status;
    return !!this.job && this.job.parked && (status === 'running' || status === 'queued');
  }

  get step() {
    return this.job?.step ?? 0;
  }

  /** Replace the job with a fresh, paused one for `spec`. */
  load(spec) {
    if (spec) this.spec = spec;
    const generation = ++this.generation;
    this.discard();
    this.error = null;
    this.handlers.onReset?.();
    this.loading = this.create(generation);
    return this.loading;
  }

  async create(generation) {
    try {
      if (await this.restore(generation)) return;
      const view = await api.createJob(this.spec, {
        paused: true, pause_when_unwatched: true, ...(this.options.jobOptions || {}),
      });
      if (generation !== this.generation) {
        api.deleteJob(view.id).catch(() => {});
        return;
      }
      this.job = { id: view.id, status: view.status, step: 0, reason: null, failure: null, lr: view.lr, parked: false };
      this.attach(view);
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = error;
      this.intent = null;
      this.handlers.onError?.(error);
      this.handlers.onStatus?.(this.job);
    } finally {
      if (generation === this.generation) this.loading = null;
    }
  }

  /** After a reload: take up the tab's run for this spec again, if the server still has it. */
  async restore(generation) {
    const key = this.options.memoryKey;
    if (!this.restoring) return false;
    this.restoring = false;
    const entry = runMemory.recall(key, this.spec);
    if (!entry) return false;
    let view;
    try {
      view = await api.job(entry.id);
    } catch {
      return false; // gone (deleted, or the server forgot it): prepare a fresh run
    }
    if (generation !== this.generation) return true;
    this.job = { id: view.id, status: view.status, step: view.step, reason: view.reason,
      failure: view.failure ?? null, lr: view.lr, parked: true };
    // It trained when the tab went away and the server paused it for lack of viewers: play on.
    if (entry.playing && view.status === 'paused') this.intent = 'play';
    this.attach(view);
    return true;
  }

  /** Open the stream of `this.job` (its history, frames and status follow) and remember it. */
  attach(view) {
    if (this.options.memoryKey) {
      runMemory.remember(this.options.memoryKey, view.id, this.spec, this.intent === 'play');
    }
    this.stream = new JobStream(view.id, {
      onMessage: (message) => this.onMessage(message),
      onFrame: (frame) => this.handlers.onFrame?.(frame),
      onConnection: (state) => this.handlers.onConnection?.(state),
      onLost: () => this.onLost(),
    });
    this.handlers.onJob?.(view);
    this.handlers.onStatus?.(this.job);
  }

  /** Whether the job never trained (a paused run nobody played or stepped): only those go. */
  get untouched() {
    const job = this.job;
    return !!job && job.step === 0 && (job.status === 'paused' || job.status === 'queued') && !job.resuming;
  }

  /** Close the stream; delete an untouched job, stop one that trained (it stays in Runs). */
  discard() {
    this.stream?.close();
    this.stream = null;
    if (this.job && this.untouched) api.forgetJob(this.job.id);
    else if (this.job && !this.finished) api.endJob(this.job.id);
    this.job = null;
  }

  remember() {
    if (this.job && this.options.memoryKey) runMemory.setPlaying(this.options.memoryKey, this.job.id, this.playing);
  }

  onMessage(message) {
    const job = this.job;
    if (!job) return;
    if (message.type === 'status') {
      if (message.status !== 'interrupted') job.resuming = false;
      // Back after the server paused our playing run for lack of viewers: play on.
      if (message.status === 'paused' && job.status === 'running' && job.parked
          && message.reason?.includes(UNWATCHED)) this.intent = 'play';
      job.status = message.status;
      job.reason = message.reason;
      job.failure = message.failure ?? null;
      job.lr = message.lr;
      if (message.step > job.step) job.step = message.step;
      if (message.status === 'paused') job.parked = true;
      if (FINISHED.has(message.status)) this.intent = null;
      this.applyIntent();
      this.remember();
      this.handlers.onStatus?.(job);
    } else if (message.type === 'metrics') {
      const last = message.points.at(-1);
      const first = job.step === 0;
      if (last && last.step >= job.step) job.step = last.step;
      this.handlers.onMetrics?.(message.points, !!message.history);
      if (message.history || (first && job.step > 0)) this.handlers.onStatus?.(job);
    } else if (message.type === 'error') {
      if (job.resuming) {
        // The server could not continue the interrupted run (no checkpoint): start afresh.
        job.resuming = false;
        this.intent = 'play';
        this.load();
        return;
      }
      this.handlers.onMessageError?.(message.message);
    }
  }

  onLost() {
    // The server forgot the job (restarted, or someone deleted it): start over.
    this.job = null;
    this.stream = null;
    this.handlers.onMessageError?.('the server no longer has this run; a fresh one was prepared');
    this.load();
  }

  applyIntent() {
    const job = this.job;
    if (!job || !job.parked || job.status !== 'paused' || this.intent === null) return;
    const intent = this.intent;
    this.intent = null;
    if (intent === 'play') this.send({ type: 'control', action: 'resume' });
    else if (typeof intent === 'object') this.send({ type: 'control', action: 'step', ...intent });
    else this.send({ type: 'control', action: 'step', steps: intent });
  }

  send(message) {
    this.stream?.send(message);
  }

  /** A refused spec stays refused until the settings change; other errors (busy, offline) retry. */
  refused() {
    if (this.error?.status === 422) {
      this.handlers.onError?.(this.error);
      return true;
    }
    return false;
  }

  play() {
    if (this.refused()) return;
    if (this.job?.status === 'interrupted') {
      // The server restarted under this run: continue it from its last checkpoint.
      this.job.resuming = true;
      this.send({ type: 'control', action: 'resume' });
      return;
    }
    this.intent = 'play';
    if (!this.job && !this.loading) this.load();
    else if (this.finished) this.load();
    else this.applyIntent();
    this.remember();
    this.handlers.onStatus?.(this.job);
  }

  pause() {
    this.intent = null;
    if (this.job?.parked && this.job.status === 'running') {
      this.send({ type: 'control', action: 'pause' });
      this.job.status = 'paused'; // the server confirms with a status message
    }
    this.remember();
    this.handlers.onStatus?.(this.job);
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Step while paused (pauses a playing run instead); GANs: `phase` 'd' or 'g' trains one network. */
  stepOnce(steps = 1, phase = 'both') {
    if (this.refused()) return;
    if (this.playing) {
      this.pause();
      return;
    }
    this.intent = phase === 'both' ? steps : { steps, phase };
    if (!this.job && !this.loading) this.load();
    else if (this.finished) this.load();
    else this.applyIntent();
  }

  /** Hold `spec` without preparing a job (nothing to train yet, e.g. an empty drawing). */
  hold(spec) {
    this.spec = spec;
    this.generation++;
    this.discard();
    this.error = null;
    this.intent = null;
    this.loading = null;
    this.handlers.onReset?.();
    this.handlers.onStatus?.(this.job);
  }

  reset(spec) {
    this.intent = null;
    return this.load(spec);
  }

  /** Change the learning rate (`key`: lr, or a GAN's g_lr / d_lr): live while a run is
   * under way, else a fresh run. */
  setLearningRate(lr, spec, key = 'lr') {
    this.spec = spec;
    if (this.job && !this.finished && this.job.step > 0) {
      this.send({ type: 'update', [key]: lr });
      return false;
    }
    this.load();
    return true;
  }

  /** End for good (e.g. a race left): the job stops or, if untouched, is deleted. */
  end() {
    this.generation++;
    this.intent = null;
    this.discard();
  }

  /** The tab goes away (or reloads): an untouched job is deleted, one that trained stays
   * (the server pauses it when nobody watches; a reload takes it up again). */
  dispose() {
    this.generation++;
    this.stream?.close();
    if (this.job && this.untouched) {
      api.forgetJob(this.job.id);
      if (this.options.memoryKey) runMemory.forget(this.options.memoryKey);
    }
    this.job = null;
    this.stream = null;
  }
}
