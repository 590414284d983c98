// Search by photo: drop or choose an image; the sightings whose face matches its largest
// face, with thumbnails, where and when, best match or newest first.

import { call } from "./api.js";
import { knows, loadDirectory, nameOf } from "./directory.js";
import { formatDateTime, h, percent, timeElement } from "./dom.js";
import { sightingActions } from "./corrections.js";
import { facePair } from "./faces.js";

const LIMIT = 100;
const $ = (id) => document.getElementById(id);
let chosen = null; // the File to search with
let hits = []; // the last answer's items

function choose(file) {
  chosen = file ?? null;
  $("search-chosen").textContent = chosen ? `Photo: ${chosen.name}` : "";
}

function hitItem(hit) {
  const known = hit.person_id !== null;
  const name = known ? nameOf(hit.person_id) : "";
  const where = [hit.camera_id, hit.location].filter(Boolean).join(" · ");
  const item = h(
    "li",
    { class: `event ${known ? "known" : "unknown"}`, dataset: { eventId: hit.event_id } },
    facePair({ ...hit, has_face: hit.has_face !== false }, name),
    h("span", { class: "who", text: known ? name : "Unknown face" }),
    h("span", { class: "where", text: where }),
    timeElement(hit.captured_at, formatDateTime),
    h("span", { class: "score", text: `similarity ${percent(hit.similarity)}` }),
    sightingActions(hit, (corrected) => item.replaceWith(hitItem({ ...hit, person_id: corrected.person_id }))),
  );
  return item;
}

function render() {
  const newest = $("search-order").value === "newest";
  const ordered = newest ? [...hits].sort((a, b) => (a.captured_at < b.captured_at ? 1 : -1)) : hits;
  $("search-results").replaceChildren(...ordered.map(hitItem));
}

async function submit(event) {
  event.preventDefault();
  const status = $("search-status");
  if (!chosen) {
    status.textContent = "Choose or drop a photo first.";
    return;
  }
  const form = new FormData();
  form.append("image", chosen, chosen.name);
  form.append("limit", String(LIMIT));
  const camera = $("search-camera").value.trim();
  if (camera) form.append("camera_id", camera);
  status.textContent = "Searching…";
  try {
    const body = await call("/api/v1/search", { method: "POST", form });
    hits = body.items;
    if (hits.some((hit) => hit.person_id !== null && !knows(hit.person_id))) await loadDirectory();
    render();
    status.textContent = body.total
      ? `Seen ${body.total} time${body.total === 1 ? "" : "s"}` +
        (body.total > hits.length ? ` (the best ${hits.length} shown)` : "") +
        ` among ${body.searched} sightings.`
      : `Not seen in ${body.searched} sightings.`;
  } catch (error) {
    hits = [];
    render();
    status.textContent = error.code === "NO_FACE_FOUND" ? "No face was found in that photo." : `Could not search: ${error.message}`;
  }
}

export function init() {
  $("search-form").addEventListener("submit", submit);
  $("search-file").addEventListener("change", (event) => choose(event.target.files[0]));
  $("search-order").addEventListener("change", render);
  const zone = $("search-drop");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    choose([...event.dataTransfer.files].find((file) => file.type.startsWith("image/")));
  });
}

export async function show() {}
