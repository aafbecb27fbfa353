// The instances page inside GHL's iframe. Plain JS modules, no build step, no third-party code.
// Flow: ask the GHL parent for the encrypted user context -> /app/sso -> page token (memory
// only, never storage or cookies) -> REST for actions, /ws for live state and QR codes.
import { bindCards, renderCard, replaceQr, startCountdowns } from "./cards.js";
import { showAgency } from "./agency.js";
import { $, el } from "./dom.js";
import { renderFailed } from "./failed.js";
import { ApiError, postSso, requestUserData } from "./ghl.js";
import {
  errorDetail,
  errorText,
  initCatalogues,
  matchLocale,
  rememberLocale,
  storedLocale,
  t,
  useLocale,
} from "./i18n.js";

const config = JSON.parse($("page-config").textContent);
const WS_MAX_DELAY_MS = 15000;

const state = {
  localeChosen: false,
  token: null,
  tokenExpiresAt: 0,
  payload: null,
  locationId: null,
  location: null,
  user: null,
  instances: new Map(), // id -> Instance (contract shape)
  qr: new Map(), // id -> QR
  errors: new Map(), // id -> {code, message} from a failed action or an error frame
  ui: new Map(), // id -> {editor, busy, pairingOpen, pairingCode}
  ws: null,
  wsAttempts: 0,
  wsOpenedOnce: false,
  wsTimer: null,
  refreshing: null,
};

// ---- language and views ---------------------------------------------------------------
function setLocale(locale, remember) {
  const chosen = useLocale(locale);
  if (remember) {
    state.localeChosen = true;
    rememberLocale(chosen);
  }
  document.documentElement.lang = chosen;
  $("lang-switch").value = chosen;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  if (state.noticeKeys) showNotice(state.noticeKeys);
  renderHeader();
  renderAll();
}

function showView(name) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  if (name !== "notice") state.noticeKeys = null;
}

function showNotice(keys) {
  state.noticeKeys = keys;
  $("notice-title").textContent = t(keys.title);
  $("notice-text").textContent = keys.text ? t(keys.text) : errorText(keys.error);
  const detail = keys.text ? "" : errorDetail(keys.error);
  $("notice-detail").textContent = detail;
  $("notice-detail").hidden = !detail;
  const install = $("notice-install");
  install.hidden = !keys.install;
  install.href = config.install_url;
  showView("notice");
  state.noticeKeys = keys;
}

// ---- sign-in, REST and WebSocket -------------------------------------------------------
function acceptToken(body) {
  state.token = body.token;
  state.tokenExpiresAt = Date.parse(body.expires_at) || Date.now() + 50 * 60 * 1000;
  state.locationId = body.location_id;
  state.location = body.location || { id: body.location_id, name: "" };
  state.user = body.user;
  if (!state.localeChosen && body.user && matchLocale(body.user.locale)) {
    setLocale(matchLocale(body.user.locale), false);
  }
}

function showSsoError(error) {
  if (error.code === "not_installed") {
    showNotice({ title: "not_installed.title", text: "not_installed.text", install: true });
  } else if (error.code === "network") {
    showNotice({ title: "error.title", text: "error.network" });
  } else {
    showNotice({ title: "error.title", error, install: false });
  }
}

async function signIn(locationId) {
  showView("loading");
  const payload = await requestUserData();
  if (!payload) {
    showNotice({ title: "outside.title", text: "outside.text", install: true });
    return;
  }
  state.payload = payload;
  let body;
  try {
    body = await postSso(payload, locationId);
  } catch (error) {
    showSsoError(error);
    return;
  }
  if (body.choose_location) {
    showPicker(body.locations);
    if (body.agency_token) await showAgency(body.agency_token, signIn);
    return;
  }
  acceptToken(body);
  renderHeader();
  await loadInstances();
  connectWs();
}

// A fresh SSO round trip without leaving the view: used when the token expires.
function refreshToken() {
  if (!state.refreshing) {
    state.refreshing = (async () => {
      const payload = (await requestUserData()) || state.payload;
      if (!payload) throw new ApiError({ code: "generic" }, 401);
      state.payload = payload;
      acceptToken(await postSso(payload, state.locationId));
    })().finally(() => {
      state.refreshing = null;
    });
  }
  return state.refreshing;
}

function showPicker(locations) {
  const list = $("picker-list");
  list.replaceChildren(
    ...locations.map((location) =>
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "button picker-choice",
          text: location.name || t("picker.unnamed", { id: location.id }),
          onclick: () => signIn(location.id),
        }),
      ),
    ),
  );
  showView("picker");
  list.querySelector("button")?.focus();
}

// ---- REST -------------------------------------------------------------------------------
async function api(method, path, body, retried) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${state.token}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
    });
  } catch (_e) {
    throw new ApiError({ code: "network" }, 0);
  }
  if (response.status === 401 && !retried) {
    await refreshToken();
    return api(method, path, body, true);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.error || { code: "generic" }, response.status);
  return data;
}

async function loadInstances() {
  let data;
  try {
    data = await api("GET", "/api/instances");
  } catch (error) {
    showSsoError(error);
    return;
  }
  const seen = new Set();
  for (const instance of data.instances) {
    seen.add(instance.id);
    putInstance(instance);
  }
  for (const id of [...state.instances.keys()]) if (!seen.has(id)) dropInstance(id);
  showView("instances");
  renderAll();
  renderFailed(api);
}

function putInstance(instance) {
  // A REST answer can arrive after a newer WebSocket frame: never go back in time.
  const known = state.instances.get(instance.id);
  if (known && Date.parse(known.updated_at) > Date.parse(instance.updated_at)) return;
  state.instances.set(instance.id, instance);
  // A QR frame can overtake the status change to "qr"; any other status ends the QR.
  if (instance.status !== "qr" && instance.status !== "starting") state.qr.delete(instance.id);
  if (!state.ui.has(instance.id)) state.ui.set(instance.id, { editor: null, busy: false });
  if (instance.status !== "qr" && instance.status !== "starting") {
    const ui = state.ui.get(instance.id);
    ui.pairingOpen = false;
    ui.pairingCode = null;
  }
}

function dropInstance(id) {
  state.instances.delete(id);
  state.qr.delete(id);
  state.errors.delete(id);
  state.ui.delete(id);
  $(`instance-${id}`)?.remove();
}

async function act(id, work) {
  const ui = state.ui.get(id);
  if (!ui || ui.busy) return;
  ui.busy = true;
  state.errors.delete(id);
  renderCard(id);
  try {
    await work();
  } catch (error) {
    if (state.instances.has(id)) state.errors.set(id, error.error || { code: "generic" });
    if (error.status === 404) dropInstance(id);
  } finally {
    const current = state.ui.get(id);
    if (current) current.busy = false;
    renderCard(id);
    renderEmpty();
  }
}

const actions = {
  async start(id, phone) {
    const result = await api("POST", `/api/instances/${id}/start`, phone ? { phone } : undefined);
    putInstance(result.instance);
    if (result.qr) state.qr.set(id, result.qr);
    if (result.pairing_code) state.ui.get(id).pairingCode = result.pairing_code;
    wsSend({ op: "subscribe", instance_id: id });
  },
  async stop(id) {
    putInstance(await api("POST", `/api/instances/${id}/stop`));
  },
  async logout(id) {
    putInstance(await api("POST", `/api/instances/${id}/logout`));
  },
  async makeDefault(id) {
    await api("PATCH", `/api/instances/${id}/settings`, { is_default: true });
    // The previous default lost its flag: every card is redrawn from the server's list.
    const { instances } = await api("GET", "/api/instances");
    for (const instance of instances) putInstance(instance);
    renderAll();
  },
  async rename(id, name) {
    putInstance(await api("PATCH", `/api/instances/${id}`, { name }));
    state.ui.get(id).editor = null;
  },
  async remove(id) {
    await api("DELETE", `/api/instances/${id}`);
    wsSend({ op: "unsubscribe", instance_id: id });
    dropInstance(id);
    $("create-name").focus();
  },
};

async function createInstance(event) {
  event.preventDefault();
  const input = $("create-name");
  const name = input.value.trim();
  const errorBox = $("create-error");
  errorBox.textContent = "";
  if (!name) {
    errorBox.textContent = t("create.required");
    input.focus();
    return;
  }
  try {
    const instance = await api("POST", "/api/instances", { name });
    putInstance(instance);
    wsSend({ op: "subscribe", instance_id: instance.id });
    input.value = "";
    renderAll();
  } catch (error) {
    errorBox.textContent = errorText(error.error || { code: "generic" });
  }
}

// ---- WebSocket --------------------------------------------------------------------------
function wsSend(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

function connectWs() {
  if (state.ws || !state.token) return;
  clearTimeout(state.wsTimer);
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(
    `${scheme}://${window.location.host}/ws?token=${encodeURIComponent(state.token)}`,
  );
  state.ws = ws;
  let opened = false;
  ws.addEventListener("open", async () => {
    opened = true;
    state.wsAttempts = 0;
    renderLive(true);
    // After a drop the list may have changed under us: resync, then resubscribe to all.
    if (state.wsOpenedOnce) await loadInstances();
    state.wsOpenedOnce = true;
    for (const id of state.instances.keys()) wsSend({ op: "subscribe", instance_id: id });
  });
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (_e) {
      return;
    }
    onFrame(frame);
  });
  ws.addEventListener("close", async (event) => {
    if (state.ws === ws) state.ws = null;
    renderLive(false);
    // 4401 = bad or expired token. A refusal before the handshake shows up as 1006, so an
    // expired token is also checked locally.
    const tokenDead = event.code === 4401 || (!opened && Date.now() >= state.tokenExpiresAt - 5000);
    if (tokenDead) {
      try {
        await refreshToken();
      } catch (error) {
        showSsoError(error.error || { code: "generic" });
        return;
      }
    }
    const delay = Math.min(WS_MAX_DELAY_MS, 500 * 2 ** state.wsAttempts);
    state.wsAttempts += 1;
    state.wsTimer = setTimeout(connectWs, tokenDead ? 0 : delay * (0.75 + Math.random() / 2));
  });
}

function onFrame(frame) {
  if (frame.type === "instance" && frame.instance) {
    putInstance(frame.instance);
    if (frame.instance.status === "connected") state.errors.delete(frame.instance.id);
    renderCard(frame.instance.id);
    renderEmpty();
  } else if (frame.type === "qr" && frame.qr && state.instances.has(frame.instance_id)) {
    state.qr.set(frame.instance_id, frame.qr);
    if (!replaceQr(frame.instance_id, frame.qr)) renderCard(frame.instance_id);
  } else if (frame.type === "pairing_code" && frame.code && state.instances.has(frame.instance_id)) {
    // WhatsApp refreshed the pairing code: the one shown is the one the phone will take.
    const ui = state.ui.get(frame.instance_id);
    if (ui && ui.pairingCode) {
      ui.pairingCode = frame.code;
      renderCard(frame.instance_id);
    }
  } else if (frame.type === "error" && frame.error && state.instances.has(frame.instance_id)) {
    if (frame.error.code === "not_found") {
      dropInstance(frame.instance_id); // deleted elsewhere, e.g. in another tab
      renderEmpty();
      return;
    }
    state.errors.set(frame.instance_id, frame.error);
    renderCard(frame.instance_id);
  }
}

// ---- page-level rendering ---------------------------------------------------------------
function renderHeader() {
  const who = $("who");
  if (state.location) {
    who.textContent = t("who.location", { name: state.location.name || state.location.id });
    who.hidden = false;
  }
  $("reinstall-banner").hidden = !(state.location && state.location.needs_reinstall);
  $("reinstall-link").href = config.install_url;
}

function renderLive(online) {
  const live = $("live");
  live.hidden = false;
  live.className = `live ${online ? "online" : "offline"}`;
  live.textContent = t(online ? "live.online" : "live.offline");
  state.online = online;
}

function renderEmpty() {
  $("list-empty").hidden = state.instances.size > 0;
}

function renderAll() {
  if (state.ws || state.wsOpenedOnce) renderLive(Boolean(state.online));
  const list = $("instance-list");
  const ordered = [...state.instances.values()].sort((a, b) =>
    String(a.created_at).localeCompare(String(b.created_at)),
  );
  for (const instance of ordered) {
    renderCard(instance.id);
    list.append($(`instance-${instance.id}`)); // keeps the order; moving keeps the node
  }
  renderEmpty();
}

// ---- start ------------------------------------------------------------------------------
initCatalogues(config.catalogues);
bindCards({ state, act, actions, api, pairing: Boolean(config.pairing) });
startCountdowns();
$("lang-switch").addEventListener("change", (event) => setLocale(event.target.value, true));
$("create-form").addEventListener("submit", createInstance);
$("notice-retry").addEventListener("click", () => signIn(state.locationId));

const explicit = new URLSearchParams(window.location.search).get("lang");
const initial = matchLocale(explicit) || matchLocale(storedLocale()) || null;
if (initial) state.localeChosen = true;
setLocale(initial || matchLocale(navigator.language) || config.locale, false);
signIn(null);
