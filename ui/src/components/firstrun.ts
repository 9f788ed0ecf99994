// First run: connect to a server (URL + token) or work offline.
import type { AppSettings } from "../bindings/AppSettings";
import { h } from "../dom";
import { openModal } from "./modal";
import { saveSettings } from "./settings";
import { toast } from "./toasts";

export function openFirstRun(settings: AppSettings): void {
  const server = h("input", { id: "fr-server", type: "url", placeholder: "https://deckhand.example.com", required: true });
  const token = h("input", { id: "fr-token", type: "password", autocomplete: "off" });
  const form = h(
    "form",
    { class: "firstrun", novalidate: true },
    h("p", { class: "lead" }, "Deckhand keeps your cards on this device. Connect a server to sync them, or work offline and connect later in Settings."),
    h("div", { class: "field" }, h("label", { for: "fr-server" }, "Server URL"), server),
    h("div", { class: "field" }, h("label", { for: "fr-token" }, "Access token"), token),
    h("div", { class: "modal-actions" },
      h("button", { type: "button", class: "btn", onclick: () => finish({ ...settings, server_url: null, token: null, first_run_done: true }) }, "Work offline"),
      h("span", { class: "spacer" }),
      h("button", { type: "submit", class: "btn btn-primary" }, "Connect"),
    ),
  );
  const dlg = openModal({ label: "Welcome to Deckhand", className: "firstrun-modal", dismissable: false }, form);
  const finish = async (next: AppSettings) => {
    const saved = await saveSettings(next);
    if (saved) dlg.close();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const url = server.value.trim();
    if (!/^https?:\/\//i.test(url)) {
      toast("Enter the server URL, starting with http:// or https://.", "error");
      server.focus();
      return;
    }
    void finish({ ...settings, server_url: url, token: token.value || null, first_run_done: true });
  });
  server.focus();
}
