// Live: the latest recognitions, polled every few seconds. New ones are inserted (never
// the whole list redrawn) so the aria-live list announces only what is new.

import { call } from "./api.js";
import { knows, loadDirectory, nameOf } from "./directory.js";
import { formatDateTime, formatTime, h, percent, timeElement } from "./dom.js";
import { sightingActions } from "./corrections.js";
import { facePair } from "./faces.js";

const FETCH = 30;
const KEEP = 100;
const $ = (id) => document.getElementById(id);
const shown = new Set(); // event ids in the list
let paused = false;

function scoreText(event) {
  const parts = [];
  if (event.person_id !== null) parts.push(`similarity ${percent(event.similarity)}`);
  if (event.quality !== null && event.quality !== undefined) parts.push(`quality ${percent(event.quality)}`);
  return parts.join(" · ");
}

function eventItem(event) {
  const known = event.person_id !== null;
  const where = [event.camera_id, event.location].filter(Boolean).join(" · ");
  const item = h(
    "li",
    { class: `event ${known ? "known" : "unknown"}`, dataset: { eventId: event.event_id, capturedAt: event.captured_at } },
    facePair(event, known ? nameOf(event.person_id) : ""),
    h("span", { class: "who", text: known ? nameOf(event.person_id) : "Unknown face" }),
    h("span", { class: "where", text: where }),
    timeElement(event.captured_at, formatDateTime),
    h("span", { class: "score", text: scoreText(event) }),
    sightingActions(event, (corrected) => item.replaceWith(eventItem(corrected))),
  );
  return item;
}

/** Inserts by capture time (an edge may deliver a spooled, older sighting late). */
function insert(list, item) {
  const capturedAt = item.dataset.capturedAt;
  const later = [...list.children].find((child) => child.dataset.capturedAt < capturedAt);
  list.insertBefore(item, later ?? null);
}

export async function refresh() {
  if (paused) return;
  try {
    const body = await call(`/api/v1/events?per_page=${FETCH}`);
    const fresh = body.items.filter((event) => !shown.has(event.event_id));
    if (fresh.some((event) => event.person_id !== null && !knows(event.person_id))) await loadDirectory();
    const list = $("live-list");
    for (const event of fresh.reverse()) {
      shown.add(event.event_id);
      insert(list, eventItem(event));
    }
    while (list.children.length > KEEP) {
      shown.delete(Number(list.lastElementChild.dataset.eventId));
      list.lastElementChild.remove();
    }
    $("live-empty").hidden = list.children.length > 0;
    $("live-updated").textContent = `Checked at ${formatTime(new Date().toISOString())}.`;
  } catch (error) {
    $("live-updated").textContent = `Could not check: ${error.message}`;
  }
}

export function init() {
  const button = $("live-pause");
  button.addEventListener("click", () => {
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume updates" : "Pause updates";
    if (!paused) refresh();
  });
}

export const show = refresh;
