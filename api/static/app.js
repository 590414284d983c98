// The page's entry: signing in, moving between views by the URL's #hash, and the poller
// that keeps the open view current without reloading.

import * as alerts from "./alerts.js";
import { call, forgetKey, hasKey, setKey } from "./api.js";
import { loadDirectory } from "./directory.js";
import * as cameras from "./cameras.js";
import * as history from "./history.js";
import * as live from "./live.js";
import * as model from "./model.js";
import * as people from "./people.js";
import * as search from "./search.js";
import * as unknowns from "./unknowns.js";

const VIEWS = { people, live, history, search, unknowns, cameras, model, alerts };
const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);
let current = null; // the view module shown

function parseHash() {
  const [name, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { name: VIEWS[name] ? name : "people", params: new URLSearchParams(query) };
}

function showOnly(sectionId) {
  for (const section of document.querySelectorAll("main > .view")) section.hidden = section.id !== sectionId;
}

function showSignIn(message = "") {
  current = null;
  showOnly("sign-in");
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message;
  $("api-key").value = "";
}

async function route(moveFocus) {
  if (!hasKey()) {
    showSignIn();
    return;
  }
  const { name, params } = parseHash();
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  showOnly(name);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.hash === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current = VIEWS[name];
  if (moveFocus) $(`${name}-title`).focus();
  await current.show(params);
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  setKey(key);
  try {
    await call("/api/v1/model"); // any read: proves the key (or loopback without keys)
  } catch (error) {
    forgetKey();
    $("sign-in-error").textContent =
      error.status === 401 && !key ? "This server needs an API key." : `Not signed in: ${error.message}`;
    $("api-key").focus();
    return;
  }
  $("api-key").value = "";
  loadDirectory().catch(() => {});
  await route(true);
}

async function poll() {
  try {
    if (current?.refresh && document.visibilityState === "visible") await current.refresh();
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function start() {
  for (const view of Object.values(VIEWS)) view.init();
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => {
    forgetKey();
    showSignIn("Signed out.");
    $("sign-in-title").focus();
  });
  window.addEventListener("hashchange", () => route(true));
  window.addEventListener("auth-refused", (event) => {
    forgetKey();
    showSignIn(`Signed out: ${event.detail.message}`);
  });
  if (hasKey()) loadDirectory().catch(() => {});
  route(false);
  setTimeout(poll, POLL_MS);
}

start();
