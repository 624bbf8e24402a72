// Small helpers shared by the views: DOM building, number formats, paths, frame coalescing.

/** Create an element: h('div', {class: 'x', onclick}, child, 'text'). */
export function h(tag, attrs = {}, ...children) {
  const node = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (name === 'text') {
      node.textContent = value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Set text only when it changed (no layout work for unchanged counters). */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export const fmt = {
  loss(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    if (v !== 0 && (Math.abs(v) < 0.001 || Math.abs(v) >= 1e4)) return v.toExponential(2);
    return v.toFixed(3);
  },
  pct(v) {
    return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`;
  },
  int(v) {
    return Math.round(v).toLocaleString('en-US');
  },
  step(v) {
    // Six digits like TensorFlow Playground's epoch counter: 000,612.
    return String(Math.max(0, Math.round(v))).padStart(6, '0').replace(/(\d{3})(\d{3})$/, '$1,$2');
  },
  num(v) {
    if (!Number.isFinite(v)) return String(v);
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1000 || a < 0.001) return v.toExponential(2);
    return String(Number(v.toPrecision(3)));
  },
};

export function getPath(obj, path) {
  return path.split('.').reduce((node, key) => (node == null ? undefined : node[key]), obj);
}

export function setPath(obj, path, value) {
  const keys = path.split('.');
  let node = obj;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null) node[key] = {};
    node = node[key];
  }
  node[keys.at(-1)] = value;
}

export const clone = (value) => JSON.parse(JSON.stringify(value));

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Calls `draw` at most once per animation frame however often `request()` is called. */
export class FrameScheduler {
  constructor(draw) {
    this.draw = draw;
    this.pending = false;
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }
}

/** A canvas whose backing store follows its CSS size and the device pixel ratio. */
export function fitCanvas(canvas, width, height) {
  const ratio = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(width * ratio));
  const hgt = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  return ratio;
}

/** Arrow keys move the choice within a radio group of buttons (a Map name -> button). */
export function radioArrows(buttons, event, onPick) {
  const names = [...buttons.keys()];
  const current = names.findIndex((n) => buttons.get(n).getAttribute('aria-checked') === 'true');
  const delta = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (!delta) return;
  event.preventDefault();
  const next = names[(current + delta + names.length) % names.length];
  onPick(next);
  buttons.get(next).focus();
}

/** Tabs: a click shows the tab's panel (aria-controls), arrow keys move between the shown tabs. */
export function bindTabs(tabs, list, onShow) {
  list.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const shown = tabs.filter((t) => !t.hidden);
    const next = shown[(shown.indexOf(event.target) + step + shown.length) % shown.length];
    next.click();
    next.focus();
  });
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      for (const other of tabs) {
        const on = other === tab;
        other.setAttribute('aria-selected', on ? 'true' : 'false');
        other.tabIndex = on ? 0 : -1;
        $(`#${other.getAttribute('aria-controls')}`).hidden = !on;
      }
      onShow();
    });
  }
}
