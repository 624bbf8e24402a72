// Reading a person's CSV of 2-D points on the page: `x1,x2,label` (classes) or `x1,x2,y`
// (values), header optional. Errors name the line, as the server names the row.

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Rows of a CSV text: {points: [[x1, x2], ...], labels} for whole class ids, else
 * {points, values}. `kind` ('labels' | 'values' | 'auto') says how to read the third
 * column; limits: {maxRows, maxClasses, maxCoordinate}. Throws an Error naming the line.
 */
export function parseCsv(text, kind = 'auto', { maxRows = 2000, maxClasses = 10, maxCoordinate = 6 } = {}) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const points = [];
  const targets = [];
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const where = `line ${index + 1}`;
    if (!line || line.startsWith('#')) return;
    const cells = line.split(/[,;\t]/).map((cell) => cell.trim());
    // A first row that is not numbers is the header (x1,x2,label).
    if (!points.length && index === firstContentLine(lines) && !cells.every((c) => NUMBER.test(c))) {
      const name = (cells[2] || '').toLowerCase();
      if (kind === 'auto' && /^(y|value|target)/.test(name)) kind = 'values';
      else if (kind === 'auto' && /^(label|class)/.test(name)) kind = 'labels';
      return;
    }
    if (cells.length !== 3) {
      throw new Error(`${where} has ${cells.length} column${cells.length === 1 ? '' : 's'}; `
        + 'each row needs three: x1, x2 and a class (or a value)');
    }
    const bad = cells.findIndex((cell) => !NUMBER.test(cell));
    if (bad >= 0) throw new Error(`${where}: “${cells[bad]}” in column ${bad + 1} is not a number`);
    const [x1, x2, target] = cells.map(Number);
    for (const v of [x1, x2]) {
      if (Math.abs(v) > maxCoordinate) {
        throw new Error(`${where}: ${v} lies outside the plane; x1 and x2 go from ${-maxCoordinate} to ${maxCoordinate}`);
      }
    }
    points.push([x1, x2]);
    targets.push({ value: target, where });
    if (points.length > maxRows) throw new Error(`${where}: more than ${maxRows} rows; the most this page trains on is ${maxRows}`);
  });
  if (!points.length) throw new Error('it holds no rows (x1,x2,label per line)');
  const whole = targets.every((t) => Number.isInteger(t.value) && t.value >= 0);
  const asLabels = kind === 'labels' || (kind === 'auto' && whole && targets.every((t) => t.value < maxClasses));
  if (asLabels) {
    for (const t of targets) {
      if (!Number.isInteger(t.value) || t.value < 0 || t.value >= maxClasses) {
        throw new Error(`${t.where}: class ${t.value} is not one of 0 to ${maxClasses - 1}`);
      }
    }
    return { points, labels: targets.map((t) => t.value) };
  }
  return { points, values: targets.map((t) => t.value) };
}

function firstContentLine(lines) {
  return lines.findIndex((l) => l.trim() && !l.trim().startsWith('#'));
}
