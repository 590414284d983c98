// History: a person's sightings as a timeline by day, and a camera's recognitions per
// hour as a chart. Both follow new events while the view is open.

import { call, enc } from "./api.js";
import { hourlyChart } from "./chart.js";
import { everyone, loadDirectory, nameOf, onDirectoryChange } from "./directory.js";
import { clear, formatDay, formatHour, formatShortDay, formatTime, h, percent, timeElement } from "./dom.js";
import { sightingActions } from "./corrections.js";
import { facePair } from "./faces.js";

const TIMELINE_LIMIT = 200;
const $ = (id) => document.getElementById(id);
let timelineShown = ""; // what the timeline shows, to redraw only when it changed
let camerasShown = null; // the camera ids in the select

function fillPeople(selected) {
  const select = $("history-person");
  const current = selected ?? select.value;
  select.replaceChildren(
    h("option", { value: "", text: "Choose a person" }),
    ...everyone().map((person) =>
      h("option", { value: person.person_id, text: person.name === person.person_id ? person.name : `${person.name} (${person.person_id})` }),
    ),
  );
  select.value = everyone().some((p) => p.person_id === current) ? current : "";
}

/** Rebuilt only when a camera appears or goes: never under the hand of someone choosing. */
async function fillCameras() {
  const select = $("history-camera");
  const body = await call("/api/v1/cameras");
  const ids = body.items.map((camera) => camera.camera_id).sort();
  if (ids.join("\n") === camerasShown) return;
  camerasShown = ids.join("\n");
  const current = select.value;
  select.replaceChildren(
    h("option", { value: "", text: "Every camera" }),
    ...ids.map((id) => h("option", { value: id, text: id })),
  );
  select.value = ids.includes(current) ? current : "";
}

function timeline(events) {
  const days = new Map();
  for (const event of events) {
    const day = formatDay(event.captured_at);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(event);
  }
  return [...days].map(([day, items]) =>
    h(
      "section",
      { class: "day" },
      h("h3", { text: day }),
      h(
        "ol",
        {},
        items.map((event) =>
          h(
            "li",
            { dataset: { eventId: event.event_id } },
            facePair(event, nameOf(event.person_id)),
            timeElement(event.captured_at, formatTime),
            h("span", { class: "camera", text: event.camera_id }),
            event.location ? h("span", { class: "location", text: event.location }) : null,
            h("span", { class: "score", text: percent(event.similarity) }),
            sightingActions(event, () => {
              timelineShown = "";
              showPerson();
            }),
          ),
        ),
      ),
    ),
  );
}

async function showPerson() {
  const personId = $("history-person").value;
  const summary = $("person-summary");
  if (!personId) {
    timelineShown = "";
    summary.textContent = "";
    clear($("person-timeline"));
    return;
  }
  const body = await call(`/api/v1/events?person_id=${enc(personId)}&per_page=${TIMELINE_LIMIT}`);
  const signature = `${personId}:${body.total}:${body.items[0]?.event_id ?? ""}`;
  if (signature === timelineShown) return;
  timelineShown = signature;
  const cameras = [...new Set(body.items.map((event) => event.camera_id))];
  const name = nameOf(personId);
  if (!body.total) {
    summary.textContent = `${name} has not been seen yet.`;
  } else {
    const last = body.items[0];
    summary.textContent =
      `${name}: ${body.total} sighting${body.total === 1 ? "" : "s"} at ${cameras.length} camera${cameras.length === 1 ? "" : "s"}` +
      (body.total > body.items.length ? ` (the latest ${body.items.length} shown)` : "") +
      `; last at ${last.camera_id}${last.location ? ` (${last.location})` : ""}.`;
  }
  $("person-timeline").replaceChildren(...timeline(body.items));
}

async function showCamera() {
  const camera = $("history-camera").value;
  const hours = Number($("history-hours").value);
  const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const query = `since=${enc(since)}${camera ? `&camera_id=${enc(camera)}` : ""}`;
  const body = await call(`/api/v1/events/hourly?${query}`);
  const where = camera || "Every camera";
  const busiest = body.hours.reduce((best, hour) => (hour.known + hour.unknown > best.known + best.unknown ? hour : best), body.hours[0]);
  const busiestTotal = busiest.known + busiest.unknown;
  const sentence =
    `${where}, ${$("history-hours").selectedOptions[0].text.toLowerCase()}: ${body.known} known, ${body.unknown} unknown` +
    (busiestTotal ? `; busiest hour ${formatShortDay(busiest.hour)} ${formatHour(busiest.hour)} (${busiestTotal}).` : ".");
  const container = $("camera-chart");
  const width = Math.max(300, Math.round(container.clientWidth || 600));
  container.replaceChildren(hourlyChart(body.hours, width, `Recognitions per hour at ${sentence}`));
  $("camera-chart-summary").textContent = sentence;
  const rows = body.hours
    .filter((hour) => hour.known + hour.unknown > 0)
    .map((hour) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, timeElement(hour.hour, (iso) => `${formatShortDay(iso)} ${formatHour(iso)}`)),
        h("td", { class: "known", text: String(hour.known) }),
        h("td", { class: "unknown", text: String(hour.unknown) }),
      ),
    );
  $("camera-table").tBodies[0].replaceChildren(
    ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 3, text: "No recognition in this period." }))]),
  );
}

async function update(task, statusId) {
  try {
    await task();
  } catch (error) {
    $(statusId).textContent = `Could not load: ${error.message}`;
  }
}

export async function refresh() {
  await Promise.all([
    update(showPerson, "person-summary"),
    update(async () => {
      await fillCameras();
      await showCamera();
    }, "camera-chart-summary"),
  ]);
}

export async function show(params) {
  await update(async () => {
    if (!everyone().length) await loadDirectory();
    fillPeople(params.get("person"));
  }, "person-summary");
  await refresh();
}

export function init() {
  $("history-person").addEventListener("change", () => {
    const personId = $("history-person").value;
    history.replaceState(null, "", personId ? `#history?person=${enc(personId)}` : "#history");
    update(showPerson, "person-summary");
  });
  $("history-camera").addEventListener("change", () => update(showCamera, "camera-chart-summary"));
  $("history-hours").addEventListener("change", () => update(showCamera, "camera-chart-summary"));
  onDirectoryChange(() => fillPeople());
}
