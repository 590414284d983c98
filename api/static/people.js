// People: enrol by dropping images (or choosing them), list with thumbnails, face counts
// and last sighting, delete after confirmation.

import { ApiError, call, enc, imageUrl } from "./api.js";
import { loadDirectory } from "./directory.js";
import { clear, eachLimited, h, timeElement } from "./dom.js";

const PER_PAGE = 25;
const CHUNK_FILES = 10; // images per request, well under MAX_IMAGES_PER_REQUEST
const CHUNK_BYTES = 8 * 1024 * 1024; // and under MAX_REQUEST_BYTES
const THUMB_SIZE = 96;

const $ = (id) => document.getElementById(id);
let queue = []; // File objects waiting to be sent
let page = 1;

// ---- enrolment --------------------------------------------------------------------

function addFiles(files) {
  queue.push(...files);
  renderQueue();
  $("enrol-status").textContent = `${queue.length} image${queue.length === 1 ? "" : "s"} ready to send.`;
}

function renderQueue() {
  const list = $("enrol-queue");
  for (const img of list.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  clear(list);
  queue.forEach((file, index) => {
    list.append(
      h(
        "li",
        {},
        h("img", { src: URL.createObjectURL(file), alt: "", width: 40, height: 40 }),
        h("span", { class: "file-name", text: file.name }),
        h("span", { class: "hint", text: `${Math.ceil(file.size / 1024)} KB` }),
        h("button", {
          type: "button",
          class: "quiet small",
          "aria-label": `Remove ${file.name}`,
          text: "Remove",
          onclick: () => {
            queue.splice(index, 1);
            renderQueue();
            $("enrol-files").focus();
          },
        }),
      ),
    );
  });
  $("queue-title").hidden = queue.length === 0;
}

function chunks(files) {
  const result = [];
  let current = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= CHUNK_FILES || bytes + file.size > CHUNK_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) result.push(current);
  return result;
}

/** Sends one chunk; returns one {file, accepted, faceId | code, message} per file. */
async function sendChunk(personId, files) {
  const form = new FormData();
  for (const file of files) form.append("image", file, file.name);
  form.append("largest_face_only", "true");
  let body;
  try {
    body = await call(`/api/v1/people/${enc(personId)}/faces`, { method: "POST", form });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // 422 NO_FACE_ACCEPTED still explains each image; other errors concern them all.
    body = error.body.rejected
      ? error.body
      : { faces: [], rejected: files.map((_, i) => ({ image_index: i, code: error.code, message: error.message })) };
  }
  const outcome = files.map((file) => ({ file, accepted: false, code: "NOT_ANSWERED", message: "" }));
  for (const face of body.faces) Object.assign(outcome[face.image_index], { accepted: true, faceId: face.face_id });
  for (const r of body.rejected) Object.assign(outcome[r.image_index], { code: r.code, message: r.message });
  return outcome;
}

function resultItem(result) {
  if (result.accepted) {
    return h(
      "li",
      { class: "accepted" },
      h("span", { class: "mark", "aria-hidden": "true", text: "✓" }),
      h("span", { class: "file-name", text: result.file.name }),
      ` accepted (face ${result.faceId})`,
    );
  }
  return h(
    "li",
    { class: "rejected" },
    h("span", { class: "mark", "aria-hidden": "true", text: "✗" }),
    h("span", { class: "file-name", text: result.file.name }),
    " rejected: ",
    h("code", { text: result.code }),
    result.message ? ` ${result.message}` : "",
  );
}

async function createPerson(personId, name) {
  try {
    await call("/api/v1/people", { method: "POST", json: name ? { person_id: personId, name } : { person_id: personId } });
    return true;
  } catch (error) {
    if (error.code === "PERSON_EXISTS") return false;
    throw error;
  }
}

async function enrol(event) {
  event.preventDefault();
  const idInput = $("enrol-id");
  const status = $("enrol-status");
  const personId = idInput.value.trim();
  if (!personId) {
    status.textContent = "Enter a person ID first.";
    idInput.setAttribute("aria-invalid", "true");
    idInput.focus();
    return;
  }
  idInput.removeAttribute("aria-invalid");
  if (!queue.length) {
    status.textContent = "Add at least one face image first.";
    $("enrol-files").focus();
    return;
  }
  const files = queue;
  $("enrol-submit").disabled = true;
  clear($("enrol-results"));
  try {
    const created = await createPerson(personId, $("enrol-name").value.trim());
    status.textContent = `Sending ${files.length} image${files.length === 1 ? "" : "s"} for ${personId}…`;
    const results = [];
    for (const chunk of chunks(files)) results.push(...(await sendChunk(personId, chunk)));
    const accepted = results.filter((r) => r.accepted).length;
    $("enrol-results").append(...results.map(resultItem));
    status.textContent =
      `${personId}${created ? " created" : ""}: ${accepted} image${accepted === 1 ? "" : "s"} accepted, ` +
      `${results.length - accepted} rejected.`;
    queue = [];
    renderQueue();
    await Promise.all([loadPeople(), loadDirectory()]);
  } catch (error) {
    status.textContent = `Not enrolled: ${error.code} ${error.message}`;
    if (error.code === "INVALID_ID") idInput.setAttribute("aria-invalid", "true");
  } finally {
    $("enrol-submit").disabled = false;
  }
}

function imageFiles(dataTransfer) {
  return [...(dataTransfer?.files ?? [])];
}

function wireDropping() {
  const zone = $("drop-zone");
  const section = $("people");
  // Anywhere on the People view is a target; the zone shows that a drop will be taken.
  section.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  });
  section.addEventListener("dragleave", (event) => {
    if (!section.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  section.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const files = imageFiles(event.dataTransfer);
    if (files.length) addFiles(files);
  });
  // A file dropped elsewhere must not replace the page with the image.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("enrol-files").addEventListener("change", (event) => {
    addFiles([...event.target.files]);
    event.target.value = "";
  });
}

// ---- the list -------------------------------------------------------------------

function lastSeenText(seen) {
  if (!seen.seen) return ["Never"];
  const where = [seen.camera_id, seen.location].filter(Boolean).join(" · ");
  return [h("span", { class: "where", text: where }), " ", timeElement(seen.captured_at)];
}

async function fillRow(person, row) {
  const [faces, seen] = await Promise.all([
    call(`/api/v1/people/${enc(person.person_id)}/faces`),
    call(`/api/v1/people/${enc(person.person_id)}/last-seen`),
  ]);
  row.querySelector(".last-seen").replaceChildren(...lastSeenText(seen));
  if (faces.items.length) {
    const faceId = faces.items[0].face_id;
    const src = await imageUrl(`/api/v1/people/${enc(person.person_id)}/faces/${faceId}/thumbnail?size=${THUMB_SIZE}`);
    row.querySelector(".thumb").replaceChildren(h("img", { src, alt: "", width: 48, height: 48 }));
  }
}

function initials(name) {
  return [...name].filter((c) => /\p{L}/u.test(c)).slice(0, 1).join("").toUpperCase() || "?";
}

function personRow(person) {
  const label = person.name === person.person_id ? person.name : `${person.name} (${person.person_id})`;
  return h(
    "tr",
    { dataset: { personId: person.person_id } },
    h("td", { class: "thumb", "data-label": "Face" }, h("span", { class: "avatar", "aria-hidden": "true", text: initials(person.name) })),
    h(
      "td",
      { "data-label": "Person" },
      h(
        "div",
        {},
        h("strong", { text: person.name }),
        person.name === person.person_id ? null : h("span", { class: "person-id", text: person.person_id }),
      ),
    ),
    h("td", { class: "faces", "data-label": "Faces", text: String(person.faces) }),
    h("td", { "data-label": "Last seen" }, h("div", { class: "last-seen" }, "…")),
    h(
      "td",
      { class: "row-actions", "data-label": "Actions" },
      h("a", { href: `#history?person=${enc(person.person_id)}`, "aria-label": `History of ${label}`, text: "History" }),
      h("button", { type: "button", class: "danger small", "aria-label": `Delete ${label}`, text: "Delete", onclick: () => remove(person) }),
    ),
  );
}

export async function loadPeople() {
  const summary = $("people-summary");
  try {
    let body = await call(`/api/v1/people?page=${page}&per_page=${PER_PAGE}`);
    if (!body.items.length && page > 1) {
      page = Math.max(1, Math.ceil(body.total / PER_PAGE));
      body = await call(`/api/v1/people?page=${page}&per_page=${PER_PAGE}`);
    }
    const rows = body.items.map((person) => [person, personRow(person)]);
    $("people-table").tBodies[0].replaceChildren(...rows.map(([, row]) => row));
    const pages = Math.max(1, Math.ceil(body.total / PER_PAGE));
    summary.textContent = body.total ? `${body.total} ${body.total === 1 ? "person" : "people"} enrolled.` : "Nobody is enrolled yet.";
    $("people-page").textContent = `Page ${page} of ${pages}`;
    $("people-prev").disabled = page <= 1;
    $("people-next").disabled = page >= pages;
    $("people-table").hidden = body.total === 0;
    await eachLimited(rows, 4, ([person, row]) => fillRow(person, row).catch(() => {}));
  } catch (error) {
    summary.textContent = `Could not load people: ${error.message}`;
  }
}

// ---- deletion -------------------------------------------------------------------

function confirmDeletion(text) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "delete"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

async function remove(person) {
  const confirmed = await confirmDeletion(
    `${person.name} (${person.person_id}) and their ${person.faces} face image${person.faces === 1 ? "" : "s"} ` +
      "will be deleted, with their sightings unless the server keeps them. This cannot be undone.",
  );
  const summary = $("people-summary");
  if (!confirmed) return;
  try {
    await call(`/api/v1/people/${enc(person.person_id)}`, { method: "DELETE" });
    await Promise.all([loadPeople(), loadDirectory()]);
    summary.textContent = `${person.name} was deleted. ${summary.textContent}`;
  } catch (error) {
    summary.textContent = `${person.name} was not deleted: ${error.code} ${error.message}`;
  }
  $("people-list-title").focus();
}

// ---- view interface ---------------------------------------------------------------

export function init() {
  wireDropping();
  renderQueue();
  $("enrol-form").addEventListener("submit", enrol);
  $("enrol-clear").addEventListener("click", () => {
    queue = [];
    renderQueue();
    $("enrol-status").textContent = "Images cleared.";
  });
  $("people-refresh").addEventListener("click", loadPeople);
  $("people-prev").addEventListener("click", () => { page -= 1; loadPeople(); });
  $("people-next").addEventListener("click", () => { page += 1; loadPeople(); });
  $("confirm-cancel").addEventListener("click", () => $("confirm-delete").close("cancel"));
  $("confirm-ok").addEventListener("click", () => $("confirm-delete").close("delete"));
  $("people-list-title").tabIndex = -1;
}

export const show = loadPeople;
