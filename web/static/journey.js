// A number's recent messages: direction, status, the first words, why one failed, and for a
// message from GHL which routing rule picked this number (ghl_app/bridge/routing.py).
import { el } from "./dom.js";
import { t } from "./i18n.js";

const ROUTE_RULES = ["action", "contact_tag", "last_talked", "default", "oldest"];

function duration(seconds) {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function row(message) {
  const outbound = message.direction === "outbound";
  const route = message.route && ROUTE_RULES.includes(message.route.rule) ? message.route.rule : null;
  return el(
    "li",
    { class: `journey-item journey-${message.direction}`, "data-message-id": String(message.id) },
    el("span", { class: "journey-direction", text: t(outbound ? "journey.out" : "journey.in") }),
    el("span", { class: `journey-status status-${message.status}`, text: t(`journey.status.${message.status}`) }),
    el("span", { class: "journey-body", text: (message.body || "").slice(0, 80) }),
    route ? el("span", { class: "journey-route", text: t(`journey.route.${route}`) }) : null,
    message.error && message.status === "failed" ? el("span", { class: "journey-error", text: message.error }) : null,
    typeof message.voice_seconds === "number"
      ? el("span", { class: "journey-voice", text: t("journey.voice", { duration: duration(message.voice_seconds) }) })
      : null,
    // A send waiting its number's turn (issue 16, paced sending: bridge/send_turns.py).
    message.status === "pending" && (message.error || "").startsWith("queued")
      ? el("span", { class: "journey-queued", text: t("journey.queued") })
      : null,
  );
}

// The panel, filled in place once the messages arrive.
export function journeyPanel(id, api) {
  const list = el("ul", { class: "journey-list", "aria-live": "polite" });
  const panel = el(
    "div",
    { class: "panel journey", id: `journey-${id}` },
    el("h4", { text: t("journey.title") }),
    el("p", { class: "hint", text: t("journey.loading") }),
    list,
  );
  api("GET", `/api/instances/${id}/messages?limit=20`).then(
    ({ messages }) => {
      panel.querySelector(".hint").textContent = messages.length ? "" : t("journey.empty");
      list.replaceChildren(...messages.map(row));
    },
    () => {
      panel.querySelector(".hint").textContent = t("error.generic");
    },
  );
  return panel;
}
