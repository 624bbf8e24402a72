// The draw-a-digit pad: a person draws with the mouse, a finger or a pen; the drawing is
// averaged down to the image set's h x w pixels (values 0..1, ink high as in the data)
// and handed to onDraw, which the lab sends to the server as its probe image.

import { h } from './util.js';

const SIZE = 168; // the pad's drawing surface, in its own pixels
const SEND_MS = 120; // while drawing, the image goes out at most this often

export class DigitPad {
  /** onDraw(image) with rows of values 0..1; onClear() when the pad is wiped. */
  constructor(root, { onDraw, onClear }) {
    this.onDraw = onDraw;
    this.onClear = onClear;
    this.shape = [8, 8];
    this.canvas = h('canvas', {
      class: 'digit-pad', width: SIZE, height: SIZE, role: 'img',
      'aria-label': 'Drawing pad: draw a digit here with the mouse or a finger',
    });
    this.clearButton = h('button', { type: 'button', class: 'ghost-btn', onclick: () => this.clear() }, 'Clear');
    root.append(this.canvas, h('div', { class: 'pad-foot' }, this.clearButton,
      h('span', { class: 'pad-note' }, 'Draw a digit: the network classifies it as it trains')));
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.inked = false;
    this.wipe();
    this.bind();
  }

  /** The image set's (h, w): the drawing is averaged down to it, strokes sized to suit. */
  setShape(shape) {
    if (shape[0] === this.shape[0] && shape[1] === this.shape[1]) return;
    this.shape = shape;
    this.clear();
  }

  wipe() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, SIZE, SIZE);
    this.inked = false;
  }

  clear() {
    this.wipe();
    this.onClear?.();
  }

  bind() {
    let last = null;
    const at = (event) => {
      const box = this.canvas.getBoundingClientRect();
      return [((event.clientX - box.left) / box.width) * SIZE, ((event.clientY - box.top) / box.height) * SIZE];
    };
    const stroke = (from, to) => {
      const ctx = this.ctx;
      // A stroke as thick as a pen line in the data: MNIST digits fill about 20 of 28 pixels.
      ctx.lineWidth = SIZE / (this.shape[0] <= 8 ? 5.5 : 10);
      ctx.lineCap = 'round';
      ctx.strokeStyle = '#fff';
      ctx.beginPath();
      ctx.moveTo(...from);
      ctx.lineTo(...to);
      ctx.stroke();
      this.inked = true;
      this.schedule();
    };
    this.canvas.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      this.canvas.setPointerCapture(event.pointerId);
      last = at(event);
      stroke(last, last);
    });
    this.canvas.addEventListener('pointermove', (event) => {
      if (!last) return;
      const point = at(event);
      stroke(last, point);
      last = point;
    });
    const end = () => {
      if (!last) return;
      last = null;
      this.send();
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
    this.canvas.style.touchAction = 'none'; // a finger draws instead of scrolling the page
  }

  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => this.send(), SEND_MS);
  }

  send() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.inked) this.onDraw(this.image());
  }

  /** The drawing as `h` rows of `w` values 0..1 (each the mean of its block of the pad). */
  image() {
    const [hgt, w] = this.shape;
    const px = this.ctx.getImageData(0, 0, SIZE, SIZE).data;
    const rows = [];
    for (let r = 0; r < hgt; r++) {
      const row = [];
      const y0 = Math.floor((r * SIZE) / hgt);
      const y1 = Math.floor(((r + 1) * SIZE) / hgt);
      for (let c = 0; c < w; c++) {
        const x0 = Math.floor((c * SIZE) / w);
        const x1 = Math.floor(((c + 1) * SIZE) / w);
        let sum = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += px[(y * SIZE + x) * 4];
        row.push(Math.round((sum / ((y1 - y0) * (x1 - x0) * 255)) * 1000) / 1000);
      }
      rows.push(row);
    }
    return rows;
  }
}
