// Dataset picker: one thumbnail per dataset, drawn from the server's preview points.

import { api } from './api.js';
import { drawOwnThumb } from './drawdata.js';
import { css, pointColor, MID } from './palette.js';
import { fitCanvas, h, radioArrows } from './util.js';

const THUMB = 42;

export class DatasetPicker {
  constructor(root, { catalog, onPick }) {
    this.root = root;
    this.buttons = new Map();
    for (const info of catalog.datasets) {
      const canvas = h('canvas', { 'aria-hidden': 'true' });
      fitCanvas(canvas, THUMB, THUMB);
      const button = h('button', {
        type: 'button', class: 'thumb', role: 'radio', 'aria-checked': 'false',
        'aria-label': info.title, title: `${info.title}: ${info.description}`,
        onclick: () => onPick(info.name),
      }, canvas);
      this.buttons.set(info.name, button);
      root.append(button);
      this.draw(info, canvas);
    }
    root.addEventListener('keydown', (event) => radioArrows(this.buttons, event, onPick));
  }

  async draw(info, canvas) {
    if (info.points) {
      drawOwnThumb(canvas, THUMB); // a person's own points: no preview to fetch
      return;
    }
    let preview;
    try {
      preview = await api.preview(info.name, { n_samples: 160, classes: 4, noise: 0 });
    } catch {
      return;
    }
    const ctx = canvas.getContext('2d');
    const ratio = canvas.width / THUMB;
    ctx.scale(ratio, ratio);
    ctx.fillStyle = css(MID);
    ctx.fillRect(0, 0, THUMB, THUMB);
    const [lo, hi] = preview.domain;
    const extent = Math.max(...preview.target_range.map(Math.abs)) || 1;
    for (const [x, y, label] of preview.points) {
      ctx.fillStyle = css(pointColor(label, preview.classes, extent));
      ctx.beginPath();
      ctx.arc(((x - lo) / (hi - lo)) * THUMB, ((hi - y) / (hi - lo)) * THUMB, 1.6, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  update(name) {
    for (const [key, button] of this.buttons) {
      const on = key === name;
      button.setAttribute('aria-checked', on ? 'true' : 'false');
      button.tabIndex = on ? 0 : -1;
    }
  }
}
