// Model: the live release, the training jobs, and a Retrain button that follows its job.

import { call, enc } from "./api.js";
import { clear, formatDateTime, h, timeElement } from "./dom.js";

const $ = (id) => document.getElementById(id);
const FINISHED = new Set(["succeeded", "failed"]);
let followedJob = null; // the job this page started and is following

function fact(term, ...value) {
  return [h("dt", { text: term }), h("dd", {}, ...value)];
}

function renderModel(model) {
  const facts = $("model-facts");
  clear(facts);
  facts.append(
    ...fact("Release", model.version ?? "none yet: only the gallery names people"),
    ...fact("Trained", model.trained_at ? timeElement(model.trained_at) : "never"),
    ...fact("In the release", `${model.people} people, ${model.faces} faces`),
    ...fact("Enrolled now", `${model.gallery_people} people, ${model.gallery_faces} faces`),
    ...fact("Embedder", model.embedder),
    ...fact("Threshold", String(model.threshold)),
  );
}

function seconds(value) {
  return value === null ? "" : `${value.toFixed(1)} s`;
}

function renderJobs(jobs) {
  $("jobs-table").tBodies[0].replaceChildren(
    ...jobs.map((job) =>
      h(
        "tr",
        { dataset: { jobId: job.job_id } },
        h("td", { "data-label": "Queued" }, timeElement(job.created_at)),
        h("td", { "data-label": "Mode", text: job.mode }),
        h(
          "td",
          { "data-label": "Status" },
          h("span", { class: `status ${job.status}`, text: job.status }),
          job.status === "failed" && job.message ? h("span", { class: "hint", text: ` ${job.message}` }) : null,
        ),
        h("td", { "data-label": "Release", text: job.release_version ?? "" }),
        h("td", { "data-label": "People · faces", text: job.people === null ? "" : `${job.people} · ${job.faces}` }),
        h("td", { "data-label": "Took", text: seconds(job.duration_seconds) }),
      ),
    ),
  );
  if (!jobs.length) $("jobs-table").tBodies[0].append(h("tr", {}, h("td", { colspan: 6, text: "No training yet." })));
}

async function followJob() {
  const job = await call(`/api/v1/training/${enc(followedJob)}`);
  const progress = $("retrain-progress");
  progress.hidden = FINISHED.has(job.status);
  progress.value = job.progress;
  if (!FINISHED.has(job.status)) {
    $("retrain-status").textContent = `Training ${job.status} (${Math.round(job.progress * 100)}%)…`;
    return;
  }
  followedJob = null;
  $("retrain").disabled = false;
  $("retrain-status").textContent =
    job.status === "succeeded"
      ? `Training succeeded at ${formatDateTime(job.finished_at)}: release ${job.release_version}, ${job.people} people, ${job.faces} faces.`
      : `Training failed: ${job.message ?? "no reason given"}.`;
}

export async function refresh() {
  try {
    if (followedJob) await followJob();
    const [model, jobs] = await Promise.all([call("/api/v1/model"), call("/api/v1/training")]);
    renderModel(model);
    renderJobs(jobs.items);
  } catch (error) {
    $("retrain-status").textContent = `Could not load the model: ${error.message}`;
  }
}

async function retrain(event) {
  event.preventDefault();
  const button = $("retrain");
  button.disabled = true;
  try {
    const job = await call("/api/v1/training", { method: "POST", json: { mode: $("retrain-mode").value } });
    followedJob = job.job_id;
    $("retrain-status").textContent = `Training queued (job ${job.job_id}).`;
    await refresh();
  } catch (error) {
    button.disabled = false;
    $("retrain-status").textContent =
      error.status === 403 ? "This API key may not retrain: an admin key is needed." : `Not queued: ${error.message}`;
  }
}

export function init() {
  $("retrain-form").addEventListener("submit", retrain);
}

export const show = refresh;
