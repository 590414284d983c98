// Camera settings: each camera's location and naming threshold (blank: the global one).
// Reading needs any key; saving needs an admin key (the API says so when it refuses).

import { call, enc } from "./api.js";
import { h } from "./dom.js";

const $ = (id) => document.getElementById(id);

function thresholdText(camera) {
  const value = camera.effective_threshold.toFixed(2);
  return camera.threshold === null ? `${value} (global)` : value;
}

function cameraRow(camera) {
  return h(
    "tr",
    { dataset: { cameraId: camera.camera_id } },
    h("td", { "data-label": "Camera" }, h("button", { type: "button", class: "link", text: camera.camera_id, onclick: () => edit(camera) })),
    h("td", { "data-label": "Location", text: camera.location ?? "" }),
    h("td", { class: "threshold", "data-label": "Threshold", text: thresholdText(camera) }),
  );
}

function edit(camera) {
  $("camera-id").value = camera.camera_id;
  $("camera-location").value = camera.location ?? "";
  $("camera-threshold").value = camera.threshold ?? "";
  $("camera-location").focus();
}

async function loadCameras() {
  const listed = await call("/api/v1/cameras");
  const cameras = await Promise.all(listed.items.map((item) => call(`/api/v1/cameras/${enc(item.camera_id)}`)));
  $("cameras-table").tBodies[0].replaceChildren(
    ...(cameras.length ? cameras.map(cameraRow) : [h("tr", {}, h("td", { colspan: 3, text: "No camera has reported yet." }))]),
  );
}

async function save(event) {
  event.preventDefault();
  const status = $("camera-status");
  const cameraId = $("camera-id").value.trim();
  if (!cameraId) {
    status.textContent = "Enter a camera ID.";
    $("camera-id").focus();
    return;
  }
  const raw = $("camera-threshold").value.trim();
  const body = { location: $("camera-location").value.trim() || null, threshold: raw === "" ? null : Number(raw) };
  try {
    const saved = await call(`/api/v1/cameras/${enc(cameraId)}`, { method: "PUT", json: body });
    status.textContent = `Saved ${saved.camera_id}: threshold ${thresholdText(saved)}.`;
    await loadCameras();
  } catch (error) {
    status.textContent = `Not saved: ${error.message}`;
  }
}

export function init() {
  $("camera-form").addEventListener("submit", save);
}

export async function show() {
  try {
    await loadCameras();
  } catch (error) {
    $("camera-status").textContent = `Could not load: ${error.message}`;
  }
}
