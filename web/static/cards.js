// One instance card: status badge, phone, live QR with countdown, pairing by phone number,
// actions, and the rename / delete-confirmation editors.
import { $, el } from "./dom.js";
import { errorDetail, errorText, t } from "./i18n.js";
import { journeyPanel } from "./journey.js";
import { settingsPanel } from "./number_settings.js";

const RUNNING = ["starting", "qr", "connected"];

// Set by app.js: the page state and the actions the buttons trigger.
let state;
let act;
let actions;
let api;
let pairing = false;

export function bindCards(context) {
  ({ state, act, actions, api, pairing } = context);
}

export function formatPhone(raw) {
  if (!raw) return "";
  const digits = String(raw).replace(/\D/g, "");
  if (digits.startsWith("55") && (digits.length === 12 || digits.length === 13)) {
    const local = digits.slice(4);
    return `+55 ${digits.slice(2, 4)} ${local.slice(0, -4)}-${local.slice(-4)}`;
  }
  return `+${digits}`;
}

// Instance.error is the engine's last error as text, "code: message for people" (e.g.
// "qr_timeout: ..."); errors from a failed action arrive as {code, message}. A text without a
// code takes the one its status implies (a logged-out number's error is the logout), if any.
function splitError(error, status) {
  if (!error) return null;
  if (typeof error !== "string") return error;
  const match = /^([a-z_]+): (.+)$/s.exec(error);
  if (match) return { code: match[1], message: match[2] };
  return { code: status === "logged_out" ? "logged_out" : "", message: error };
}

function errorCode(error) {
  const parsed = splitError(error);
  return parsed ? parsed.code : "";
}

// {text, detail}: the catalogue's text for the code (instance.error.*, else error.*), else a
// generic text in the page's language with the server's English message as a detail.
function instanceError(error, status) {
  if (typeof error !== "string") return error ? { text: errorText(error), detail: errorDetail(error) } : null;
  const parsed = splitError(error, status);
  if (!parsed) return null;
  for (const key of [`instance.error.${parsed.code}`, `error.${parsed.code}`]) {
    const known = t(key);
    if (parsed.code && known !== key) return { text: known, detail: "" };
  }
  return { text: t("instance.error.unknown"), detail: errorDetail({ code: "", message: parsed.message }) };
}

function errorBlock(error, status) {
  const shown = instanceError(error, status);
  if (!shown) return null;
  return el(
    "div",
    { class: "error-box" },
    el("p", { class: "error-text", role: "alert", text: t("instance.last_error", { message: shown.text }) }),
    shown.detail ? el("p", { class: "error-detail", lang: "en", text: shown.detail }) : null,
  );
}

function button(label, action, attrs) {
  return el("button", { type: "button", class: "button", "data-action": action, text: label, ...attrs });
}

function qrSvg(qr) {
  const svg = new DOMParser().parseFromString(qr.svg, "image/svg+xml").documentElement;
  if (!svg || svg.nodeName.toLowerCase() !== "svg") return null;
  svg.setAttribute("aria-hidden", "true");
  return document.importNode(svg, true);
}

// A rotated code swaps the picture and the countdown only, so a half-typed phone number
// or the keyboard focus in the card survive the rotation.
export function replaceQr(id, qr) {
  const card = $(`instance-${id}`);
  const picture = card && card.querySelector(".qr-image");
  if (!picture) return false;
  picture.replaceChildren(...[qrSvg(qr)].filter(Boolean));
  const countdown = card.querySelector(".countdown");
  countdown.dataset.expires = qr.expires_at;
  countdown.textContent = countdownText(qr.expires_at);
  return true;
}

function qrPanel(id, instance, keptPairing) {
  const qr = state.qr.get(id);
  const ui = state.ui.get(id);
  if (ui.pairingCode && instance.status !== "connected") {
    return el(
      "div",
      { class: "panel pairing" },
      el("p", { class: "pairing-code", text: t("pairing.code", { code: ui.pairingCode }) }),
      el("p", { class: "hint", text: t("pairing.steps") }),
    );
  }
  if (!qr && (instance.status === "starting" || instance.status === "qr")) {
    return el("div", { class: "panel" }, el("p", { class: "hint", text: t("qr.starting") }));
  }
  if (!qr) return null;
  const picture = el("div", { class: "qr-image", role: "img", "aria-label": t("qr.alt") }, qrSvg(qr));
  return el(
    "div",
    { class: "panel qr-panel" },
    picture,
    el(
      "div",
      { class: "qr-text" },
      el("h4", { text: t("qr.title") }),
      el("p", { class: "hint", text: t("qr.steps") }),
      el("p", { class: "countdown", "data-expires": qr.expires_at, "aria-live": "off", text: countdownText(qr.expires_at) }),
      keptPairing || pairingForm(id),
    ),
  );
}

function pairingForm(id) {
  if (!pairing) return null; // the server cannot link by phone number
  const ui = state.ui.get(id);
  if (!ui.pairingOpen) {
    return button(t("pairing.link"), "pair-open", {
      class: "button link-button",
      onclick: () => {
        ui.pairingOpen = true;
        renderCard(id);
        $(`pair-${id}`)?.focus();
      },
    });
  }
  const inputId = `pair-${id}`;
  return el(
    "form",
    {
      class: "pairing-form",
      onsubmit: (event) => {
        event.preventDefault();
        const phone = $(inputId).value.trim();
        if (phone) act(id, () => actions.start(id, phone));
      },
    },
    el("label", { for: inputId, text: t("pairing.label") }),
    el("input", { id: inputId, type: "tel", autocomplete: "tel", placeholder: t("pairing.placeholder") }),
    el("button", { type: "submit", class: "button", text: t("pairing.submit") }),
  );
}

function countdownText(expiresAt) {
  const seconds = Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));
  return seconds > 0 ? t("qr.countdown", { seconds }) : t("qr.refreshing");
}

function editorPanel(id, instance) {
  const ui = state.ui.get(id);
  if (ui.editor === "rename") {
    const inputId = `rename-${id}`;
    return el(
      "form",
      {
        class: "editor",
        onsubmit: (event) => {
          event.preventDefault();
          const name = $(inputId).value.trim();
          if (name) act(id, () => actions.rename(id, name));
        },
      },
      el("label", { for: inputId, text: t("rename.label", { name: instance.name }) }),
      el(
        "div",
        { class: "editor-row" },
        el("input", { id: inputId, type: "text", maxlength: "100", value: instance.name, required: true }),
        el("button", { type: "submit", class: "button primary", text: t("action.save") }),
        button(t("action.cancel"), "cancel-edit", { onclick: () => closeEditor(id) }),
      ),
    );
  }
  if (ui.editor === "delete") {
    return el(
      "div",
      { class: "editor confirm", role: "alertdialog", "aria-label": t("action.delete") },
      el("p", { text: t("delete.confirm", { name: instance.name }) }),
      el(
        "div",
        { class: "editor-row" },
        button(t("delete.confirm_button"), "confirm-delete", {
          class: "button danger",
          onclick: () => act(id, () => actions.remove(id)),
        }),
        button(t("action.cancel"), "cancel-edit", { onclick: () => closeEditor(id) }),
      ),
    );
  }
  return null;
}

function toggleJourney(id) {
  const ui = state.ui.get(id);
  ui.journey = !ui.journey;
  renderCard(id);
  $(`instance-${id}`)?.querySelector('[data-action="journey"]')?.focus();
}

function toggleSettings(id) {
  const ui = state.ui.get(id);
  ui.settings = !ui.settings;
  renderCard(id);
  $(`instance-${id}`)?.querySelector('[data-action="settings"]')?.focus();
}

function openEditor(id, editor) {
  state.ui.get(id).editor = editor;
  renderCard(id);
  const card = $(`instance-${id}`);
  (card.querySelector(".editor input") || card.querySelector('.editor [data-action="cancel-edit"]'))?.focus();
}

function closeEditor(id) {
  state.ui.get(id).editor = null;
  renderCard(id);
  $(`instance-${id}`)?.querySelector('[data-action="rename"]')?.focus();
}

function actionButtons(id, instance) {
  const status = instance.status;
  const error = state.errors.get(id) || instance.error;
  const qrExpired = status === "stopped" && errorCode(instance.error) === "qr_timeout";
  const buttons = [];
  if (qrExpired) {
    buttons.push(button(t("qr.expired"), "start", { class: "button primary" }));
  } else if (!RUNNING.includes(status)) {
    buttons.push(button(t(error ? "action.retry" : "action.connect"), "start", { class: "button primary" }));
  }
  if (status === "starting" || status === "qr") buttons.push(button(t("action.cancel_connect"), "stop"));
  if (status === "connected") buttons.push(button(t("action.stop"), "stop"));
  // Unlinking and deleting are for the sub-account's admins (the server says 403 admin_only).
  const admin = !state.user || state.user.role === "admin";
  if (admin && (status === "connected" || status === "disconnected" || (instance.phone_number && status !== "logged_out"))) {
    buttons.push(button(t("action.logout"), "logout"));
  }
  const manage = [
    instance.is_default || state.instances.size < 2
      ? null
      : button(t("action.make_default"), "makeDefault", { class: "button small" }),
    button(t(state.ui.get(id).journey ? "journey.hide" : "journey.show"), "journey", {
      class: "button small",
      "aria-expanded": state.ui.get(id).journey ? "true" : "false",
    }),
    button(t(state.ui.get(id).settings ? "settings.hide" : "settings.show"), "settings", {
      class: "button small",
      "aria-expanded": state.ui.get(id).settings ? "true" : "false",
    }),
    button(t("action.rename"), "rename", { class: "button small" }),
    admin ? button(t("action.delete"), "delete", { class: "button small danger-outline" }) : null,
  ];
  const busy = state.ui.get(id).busy;
  for (const b of [...buttons, ...manage.filter(Boolean)]) {
    if (busy) b.disabled = true;
    b.addEventListener("click", () => {
      const action = b.dataset.action;
      if (action === "rename" || action === "delete") openEditor(id, action);
      else if (action === "journey") toggleJourney(id);
      else if (action === "settings") toggleSettings(id);
      else act(id, () => actions[action](id));
    });
  }
  return el(
    "div",
    { class: "actions-bar" },
    el("div", { class: "actions" }, ...buttons),
    el("div", { class: "actions manage" }, ...manage.filter(Boolean)),
  );
}

export function renderCard(id) {
  const instance = state.instances.get(id);
  if (!instance) return;
  let card = $(`instance-${id}`);
  const ui = state.ui.get(id);
  // Keep the rename box (and what is typed in it) across live updates.
  const keepEditor = card && ui.editor && card.querySelector(".editor");
  const keepPairing = card && ui.pairingOpen && card.querySelector(".pairing-form");
  // An open message list is kept across live updates (not fetched again on each one).
  const keepJourney = card && ui.journey && card.querySelector(".journey");
  const keepSettings = card && ui.settings && card.querySelector(".number-settings");
  const focusedAction = card && card.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  if (!card) {
    card = el("li", { id: `instance-${id}`, class: "card" });
    $("instance-list").append(card);
  }
  card.dataset.status = instance.status;
  const status = instance.status;
  const phone = formatPhone(instance.phone_number);
  const error = state.errors.get(id) || (status === "connected" ? null : instance.error);
  const qrExpired = status === "stopped" && errorCode(instance.error) === "qr_timeout";
  const headingId = `instance-name-${id}`;
  card.setAttribute("aria-labelledby", headingId);
  const parts = [
    el(
      "div",
      { class: "card-head" },
      el("h3", { id: headingId, class: "name", text: instance.name }),
      instance.is_default ? el("span", { class: "badge badge-default", text: t("instance.default_badge") }) : null,
      el("span", { class: `badge badge-${status}`, text: t(`status.${status}`) }),
    ),
    status === "connected"
      ? el("p", { class: "phone connected-as", text: t("instance.connected_as", { phone: phone || "—" }) })
      : el("p", { class: "phone", text: phone ? t("instance.phone", { phone }) : t("instance.no_phone") }),
    qrExpired ? el("p", { class: "error-text", role: "alert", text: t("qr.expired_text") }) : null,
    error && !qrExpired ? errorBlock(error, status) : null,
    qrPanel(id, instance, keepPairing),
    actionButtons(id, instance),
    keepEditor || editorPanel(id, instance),
    ui.journey ? keepJourney || journeyPanel(id, api) : null,
    ui.settings ? keepSettings || settingsPanel(id, api) : null,
  ];
  card.replaceChildren(...parts.filter(Boolean));
  if (focusedAction) card.querySelector(`[data-action="${focusedAction}"]`)?.focus();
}

// One ticking clock for every visible countdown.
export function startCountdowns() {
  setInterval(() => {
    for (const node of document.querySelectorAll(".countdown[data-expires]")) {
      node.textContent = countdownText(node.dataset.expires);
    }
  }, 1000);
}
