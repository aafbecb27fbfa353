// A number's settings in one place (issue 16): groups, the language of the notes it leaves in
// GHL, read sync, calls, pacing and "typing…", and the chats it ignores. Read from
// GET /api/instances/{id}/event-settings; saved with PATCH there (and /settings for groups).
import { el } from "./dom.js";
import { errorText, t } from "./i18n.js";

function checkbox(id, name, checked) {
  return el(
    "div",
    { class: "setting setting-check" },
    el("input", { id: `${name}-${id}`, name, type: "checkbox", checked: checked ? true : null }),
    el("label", { for: `${name}-${id}`, text: t(`settings.${name}`) }),
  );
}

function field(id, name, input) {
  input.id = `${name}-${id}`;
  input.name = name;
  return el("div", { class: "setting" }, el("label", { for: input.id, text: t(`settings.${name}`) }), input);
}

function numberInput(value, step) {
  return el("input", { type: "number", min: "0", step, value: value === null ? "" : String(value), placeholder: t("settings.default") });
}

function form(id, current, api) {
  const language = el(
    "select",
    {},
    ...["en", "pt-BR"].map((code) =>
      el("option", { value: code, selected: current.notes_language === code ? true : null, text: t(`settings.language.${code}`) }),
    ),
  );
  const status = el("p", { class: "hint settings-status", role: "status" });
  const body = el(
    "form",
    {
      class: "settings-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const f = event.target.elements;
        const number = (name, whole) => {
          const raw = f[name].value.trim();
          return raw === "" ? null : whole ? parseInt(raw, 10) : Number(raw);
        };
        status.textContent = t("settings.saving");
        try {
          await api("PATCH", `/api/instances/${id}/settings`, { groups_enabled: f.groups_enabled.checked });
          await api("PATCH", `/api/instances/${id}/event-settings`, {
            notes_language: f.notes_language.value,
            read_sync: f.read_sync.checked,
            reject_calls: f.reject_calls.checked,
            call_reply: f.call_reply.value,
            pacing_min_gap_s: number("pacing_min_gap_s", false),
            pacing_per_minute: number("pacing_per_minute", true),
            typing: f.typing.checked,
            ignored_chats: f.ignored_chats.value.split("\n").map((s) => s.trim()).filter(Boolean),
          });
          status.textContent = t("settings.saved");
        } catch (error) {
          status.textContent = errorText(error);
        }
      },
    },
    checkbox(id, "groups_enabled", current.groups_enabled),
    field(id, "notes_language", language),
    checkbox(id, "read_sync", current.read_sync),
    checkbox(id, "reject_calls", current.reject_calls),
    field(id, "call_reply", el("textarea", { rows: "2", maxlength: "1000", text: current.call_reply || "" })),
    field(id, "pacing_min_gap_s", numberInput(current.pacing_min_gap_s, "0.1")),
    field(id, "pacing_per_minute", numberInput(current.pacing_per_minute, "1")),
    checkbox(id, "typing", current.typing),
    field(id, "ignored_chats", el("textarea", { rows: "3", placeholder: t("settings.ignored_hint"), text: (current.ignored_chats || []).join("\n") })),
    el("button", { type: "submit", class: "button primary", text: t("action.save") }),
    status,
  );
  return body;
}

// The panel, filled in place once the settings arrive.
export function settingsPanel(id, api) {
  const panel = el(
    "div",
    { class: "panel number-settings", id: `settings-${id}` },
    el("h4", { text: t("settings.title") }),
    el("p", { class: "hint", text: t("journey.loading") }),
  );
  api("GET", `/api/instances/${id}/event-settings`).then(
    (current) => {
      panel.querySelector(".hint").remove();
      panel.append(form(id, current, api));
    },
    () => {
      panel.querySelector(".hint").textContent = t("error.generic");
    },
  );
  return panel;
}
