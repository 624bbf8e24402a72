// The server's health banner: while runs cannot be saved (e.g. a full disk), say so on every view.

import { api } from './api.js';
import { setText } from './util.js';

const POLL_MS = 5000;

/** Poll /api/health every few seconds; show `box` with the reason while the server is degraded. */
export function watchHealth(box, text, first = null) {
  const show = (health) => {
    const degraded = health?.status === 'degraded';
    box.hidden = !degraded;
    if (degraded) setText(text, `Runs are not being saved: ${health.reason || 'the server cannot write'}`);
  };
  show(first);
  setInterval(() => api.health().then(show, () => {}), POLL_MS);
}
