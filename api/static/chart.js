// A stacked bar chart of recognitions per hour (known below, unknown above) drawn as SVG.
// The numbers behind it are also given as a sentence and a table for those who cannot see it.

import { formatHour, formatShortDay } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 220;
const MARGIN = { top: 12, right: 28, bottom: 40, left: 36 };

function s(tag, attrs = {}, text = "") {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text) element.textContent = text;
  return element;
}

function niceMax(value) {
  if (value <= 4) return Math.max(1, value);
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

/** An <svg> of `hours` ([{hour, known, unknown}]) `width` units wide, labelled by `label`. */
export function hourlyChart(hours, width, label) {
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const top = niceMax(Math.max(0, ...hours.map((h) => h.known + h.unknown)));
  const y = (count) => MARGIN.top + plotHeight - (count / top) * plotHeight;
  const slot = plotWidth / Math.max(1, hours.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", "aria-label": label, class: "hourly" });

  for (const tick of [0, top / 2, top]) {
    if (!Number.isInteger(tick)) continue;
    svg.append(
      s("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(tick), y2: y(tick), class: "grid" }),
      s("text", { x: MARGIN.left - 6, y: y(tick) + 4, class: "axis", "text-anchor": "end" }, String(tick)),
    );
  }
  const every = Math.ceil(hours.length / Math.max(2, Math.floor(plotWidth / 56)));
  hours.forEach((hour, index) => {
    const x = MARGIN.left + index * slot;
    const barWidth = Math.max(1, slot * 0.8);
    const group = s("g");
    group.append(s("title", {}, `${formatShortDay(hour.hour)} ${formatHour(hour.hour)}: ${hour.known} known, ${hour.unknown} unknown`));
    if (hour.known) {
      group.append(s("rect", { x: x + slot * 0.1, y: y(hour.known), width: barWidth, height: y(0) - y(hour.known), class: "known" }));
    }
    if (hour.unknown) {
      const total = hour.known + hour.unknown;
      group.append(s("rect", { x: x + slot * 0.1, y: y(total), width: barWidth, height: y(hour.known) - y(total), class: "unknown" }));
    }
    svg.append(group);
    if (index % every === 0) {
      const midnight = new Date(hour.hour).getHours() === 0 || index === 0;
      const tx = x + slot / 2;
      svg.append(s("text", { x: tx, y: HEIGHT - MARGIN.bottom + 16, class: "axis", "text-anchor": "middle" }, formatHour(hour.hour)));
      if (midnight) svg.append(s("text", { x: tx, y: HEIGHT - MARGIN.bottom + 32, class: "axis", "text-anchor": "middle" }, formatShortDay(hour.hour)));
    }
  });
  svg.append(s("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(0), y2: y(0), class: "baseline" }));
  return svg;
}
