// The GAN lab's slow motion: one step of both networks every `every` ms, sent while the run is
// paused, each once the last one has arrived (so a slow server is never flooded).

const RESEND_MS = 3000; // a slow-motion step not answered by then is asked for again

export class SlowMotion {
  /** every(): ms between steps; prepare(): a fresh run when none is; onHalt(): it stopped itself. */
  constructor({ session, every, prepare, onHalt }) {
    Object.assign(this, { session, every, prepare, onHalt });
    this.running = false;
    this.timer = null;
    this.awaiting = null; // the step the last request should reach
    this.sentAt = 0;
  }

  start() {
    const session = this.session;
    if (session.refused()) return;
    if (session.playing) session.pause();
    if (!session.job && !session.loading) this.prepare();
    this.running = true;
    this.awaiting = null;
    this.tick();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  halt() {
    this.stop();
    this.onHalt();
  }

  /** Ask for one more step once the last one has arrived, every `every()` ms. */
  tick() {
    clearTimeout(this.timer);
    if (!this.running) return;
    const session = this.session;
    const job = session.job;
    if (session.error) {
      this.halt();
      return;
    }
    if (job && session.finished) {
      if (job.status === 'failed') {
        this.halt();
        return;
      }
      session.load(); // a finished run: start afresh, like play does
    } else if (job) {
      const now = performance.now();
      if (this.awaiting === null || job.step >= this.awaiting || now - this.sentAt > RESEND_MS) {
        this.awaiting = job.step + 1;
        this.sentAt = now;
        session.stepOnce(1, 'both');
      }
    }
    this.timer = setTimeout(() => this.tick(), this.every());
  }
}
