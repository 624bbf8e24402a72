// The websocket of one job: decodes messages and frames, reconnects when the line drops.
// On every (re)connect the server sends status and the metrics history first.

import { decodeFrame } from './frames.js';

const UNKNOWN_JOB = 4404;

export class JobStream {
  /**
   * handlers: onMessage(msg), onFrame({header, data}), onConnection('open'|'reconnecting'),
   * onLost() when the server no longer knows the job.
   */
  constructor(jobId, handlers) {
    this.jobId = jobId;
    this.handlers = handlers;
    this.closed = false;
    this.attempt = 0;
    this.outbox = [];
    this.connect();
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws/jobs/${this.jobId}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.attempt = 0;
      this.handlers.onConnection?.('open');
      for (const message of this.outbox.splice(0)) ws.send(JSON.stringify(message));
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') this.handlers.onMessage?.(JSON.parse(event.data));
      else this.handlers.onFrame?.(decodeFrame(event.data));
    };
    ws.onclose = (event) => {
      if (this.closed || ws !== this.ws) return;
      if (event.code === UNKNOWN_JOB) {
        this.closed = true;
        this.handlers.onLost?.();
        return;
      }
      this.handlers.onConnection?.('reconnecting');
      const delay = Math.min(5000, 250 * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
    this.ws = ws;
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (this.open) this.ws.send(JSON.stringify(message));
    else if (this.outbox.length < 20) this.outbox.push(message);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}
