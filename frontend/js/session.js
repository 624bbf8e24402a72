// One training run as the page sees it: a job on the server plus its websocket.
//
// The page always holds a job for the current settings, created paused, so the first
// frame (data points, untrained boundary) shows at once and Step works before Play.
// Play/Pause/Step become websocket controls; a new spec replaces the job.

import { api } from './api.js';
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
    this.options = options; // {create: (spec) => body options}
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
      const view = await api.createJob(this.spec, {
        paused: true, pause_when_unwatched: true, ...(this.options.jobOptions || {}),
      });
      if (generation !== this.generation) {
        api.deleteJob(view.id).catch(() => {});
        return;
      }
      this.job = { id: view.id, status: view.status, step: 0, reason: null, failure: null, lr: view.lr, parked: false };
      this.stream = new JobStream(view.id, {
        onMessage: (message) => this.onMessage(message),
        onFrame: (frame) => this.handlers.onFrame?.(frame),
        onConnection: (state) => this.handlers.onConnection?.(state),
        onLost: () => this.onLost(),
      });
      this.handlers.onJob?.(view);
      this.handlers.onStatus?.(this.job);
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

  /** Close the stream and delete the job (without waiting). */
  discard() {
    this.stream?.close();
    this.stream = null;
    if (this.job) api.deleteJob(this.job.id).catch(() => {});
    this.job = null;
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
    this.handlers.onStatus?.(this.job);
  }

  pause() {
    this.intent = null;
    if (this.job?.parked && this.job.status === 'running') {
      this.send({ type: 'control', action: 'pause' });
      this.job.status = 'paused'; // the server confirms with a status message
    }
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

  dispose() {
    this.generation++;
    this.stream?.close();
    if (this.job) api.forgetJob(this.job.id);
    this.job = null;
    this.stream = null;
  }
}
