// Failed deliveries of this sub-account (parked jobs) with a retry button each.
import { $, el } from "./dom.js";
import { errorText, t } from "./i18n.js";

const KIND_LABELS = {
  wa_to_ghl: "failed.kind.wa_to_ghl",
  ghl_to_wa: "failed.kind.ghl_to_wa",
  ghl_status: "failed.kind.ghl_status",
  group_rename_in_ghl: "failed.kind.group_rename_in_ghl",
  workflow_to_ghl: "failed.kind.workflow_to_ghl",
  workflow_trigger: "failed.kind.workflow_trigger",
  signed_event: "failed.kind.signed_event",
  disconnect_alert: "failed.kind.disconnect_alert",
  ghl_mark_read: "failed.kind.ghl_mark_read",
};

export async function renderFailed(api) {
  const section = $("failed-section");
  const list = $("failed-list");
  let jobs;
  try {
    jobs = (await api("GET", "/api/jobs?status=failed&limit=20")).jobs;
  } catch (_error) {
    return; // the instances view already shows connection problems
  }
  list.replaceChildren();
  section.hidden = jobs.length === 0;
  for (const job of jobs) {
    const status = el("p", { class: "field-error", role: "status" });
    const retry = el("button", {
      class: "button",
      type: "button",
      text: t("failed.retry"),
      "aria-label": `${t("failed.retry")} #${job.id}`,
      onclick: async () => {
        retry.disabled = true;
        try {
          await api("POST", `/api/jobs/${job.id}/retry`);
          item.remove();
          section.hidden = list.children.length === 0;
        } catch (error) {
          status.textContent = errorText(error.error || { code: "generic" });
          retry.disabled = false;
        }
      },
    });
    const item = el(
      "li",
      { class: "failed-item", id: `failed-${job.id}` },
      el("strong", { text: t(KIND_LABELS[job.kind] || "failed.kind.other") }),
      el("span", { class: "failed-error", text: job.last_error || "" }),
      retry,
      status,
    );
    list.append(item);
  }
}
