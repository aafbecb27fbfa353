// The agency overview (an agency user outside any sub-account): every installed sub-account of
// the company with each number's state, last message in and out, failed deliveries; filters;
// a sub-account's name opens its page. Below, the agency's disconnect-alert settings.
import { $, el } from "./dom.js";
import { errorText, t } from "./i18n.js";

let agency; // {token, open(locationId)}
let filter = "all";

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${agency.token}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "omit",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw data.error || { code: "generic" };
  return data;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : t("agency.never");
}

function numberRow(number) {
  return el(
    "li",
    { class: "agency-number", "data-number-id": number.id },
    el("span", { class: "agency-number-name", text: number.name }),
    el("span", { class: `badge badge-${number.status}`, text: t(`status.${number.status}`) }),
    el("span", { class: "agency-phone", text: number.phone_number || t("instance.no_phone") }),
    el("span", { class: "agency-last", text: t("agency.last_in", { when: when(number.last_in) }) }),
    el("span", { class: "agency-last", text: t("agency.last_out", { when: when(number.last_out) }) }),
    number.reason ? el("span", { class: "agency-reason", text: number.reason }) : null,
  );
}

function locationItem(location) {
  return el(
    "li",
    { class: "agency-location", id: `agency-${location.id}` },
    el("button", {
      type: "button",
      class: "button picker-choice",
      text: location.name || t("picker.unnamed", { id: location.id }),
      onclick: () => agency.open(location.id),
    }),
    location.failed_deliveries
      ? el("span", { class: "badge badge-failed", text: t("agency.failed", { count: location.failed_deliveries }) })
      : null,
    location.needs_reinstall ? el("span", { class: "badge badge-failed", text: t("agency.reinstall") }) : null,
    location.numbers.length
      ? el("ul", { class: "agency-numbers" }, ...location.numbers.map(numberRow))
      : el("p", { class: "hint", text: t("agency.no_numbers") }),
  );
}

async function renderList() {
  const list = $("picker-list");
  for (const button of document.querySelectorAll("[data-agency-filter]")) {
    button.setAttribute("aria-pressed", String(button.dataset.agencyFilter === filter));
  }
  try {
    const { locations } = await call("GET", `/api/agency/overview?filter=${filter}`);
    list.replaceChildren(...locations.map(locationItem));
    $("agency-empty").hidden = locations.length > 0;
  } catch (error) {
    $("agency-empty").hidden = false;
    $("agency-empty").textContent = errorText(error);
  }
}

async function loadAlerts() {
  try {
    const { alerts } = await call("GET", "/api/agency/alerts");
    $("alerts-url").value = alerts ? alerts.url : "";
    $("alerts-grace").value = String(alerts ? Math.round(alerts.grace_seconds / 60) : 5);
  } catch (_error) {
    /* the overview shows connection problems */
  }
}

async function saveAlerts(event) {
  event.preventDefault();
  const status = $("alerts-status");
  status.textContent = "";
  $("alerts-secret").hidden = true;
  try {
    const minutes = Number($("alerts-grace").value || "0");
    const answer = await call("PUT", "/api/agency/alerts", {
      url: $("alerts-url").value.trim(),
      grace_seconds: Math.round(minutes * 60),
    });
    status.textContent = t("agency.alerts.saved");
    if (answer.secret) {
      $("alerts-secret").hidden = false;
      $("alerts-secret-value").textContent = answer.secret;
    }
  } catch (error) {
    status.textContent = errorText(error);
  }
}

export function showAgency(token, open) {
  agency = { token, open };
  for (const button of document.querySelectorAll("[data-agency-filter]")) {
    button.onclick = () => {
      filter = button.dataset.agencyFilter;
      renderList();
    };
  }
  $("alerts-form").onsubmit = saveAlerts;
  loadAlerts();
  return renderList();
}
