// Building DOM nodes from data without ever parsing data as HTML, and formatting times.

/** h("li", {class: "x", dataset: {id: 1}}, "text", child) -> element. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

export function clear(element) {
  element.replaceChildren();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dayOnly = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const hourOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayShort = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

export const formatDateTime = (iso) => dateTime.format(new Date(iso));
export const formatTime = (iso) => timeOnly.format(new Date(iso));
export const formatDay = (iso) => dayOnly.format(new Date(iso));
export const formatHour = (iso) => hourOnly.format(new Date(iso));
export const formatShortDay = (iso) => dayShort.format(new Date(iso));

/** A <time> element showing `iso` (UTC from the API) in the reader's time zone. */
export function timeElement(iso, format = formatDateTime) {
  return h("time", { datetime: iso, text: format(iso) });
}

export function percent(value) {
  return value === null || value === undefined ? "" : `${Math.round(value * 100)}%`;
}

/** Runs `task` over `items` with at most `limit` at a time (a page of rows, not 150 requests at once). */
export async function eachLimited(items, limit, task) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) await task(queue.shift());
  });
  await Promise.all(workers);
}
