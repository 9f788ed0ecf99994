// Settings page: server URL, token (masked), sync on/off, drain window, theme.
import { api } from "../api";
import { attempt } from "../actions";
import type { AppSettings } from "../bindings/AppSettings";
import type { Theme } from "../bindings/Theme";
import { h, replaceChildren } from "../dom";
import { state, subscribe } from "../state";
import { applyTheme } from "../theme";
import { toast } from "./toasts";
import type { DesktopState } from "../bindings/DesktopState";

export function mountSettings(root: HTMLElement): void {
  const render = () => {
    if (state.view !== "settings" || !state.settings) return;
    replaceChildren(root, form(state.settings), desktopForm());
  };
  subscribe("view", render);
  render();
}

export async function saveSettings(next: AppSettings): Promise<AppSettings | undefined> {
  const saved = await attempt("Saving settings", () => api.settingsSet(next));
  if (saved) {
    state.settings = saved;
    applyTheme(saved.theme);
  }
  return saved;
}

function form(s: AppSettings): HTMLElement {
  const server = h("input", { id: "set-server", type: "url", value: s.server_url ?? "", placeholder: "https://deckhand.example.com" });
  const token = h("input", {
    id: "set-token",
    type: "password",
    autocomplete: "off",
    placeholder: s.token_set ? "•••••••• (stored; type to replace)" : "No token stored",
  });
  const clearToken = h("input", { id: "set-clear-token", type: "checkbox", disabled: !s.token_set });
  const sync = h("input", { id: "set-sync", type: "checkbox", checked: s.sync_enabled });
  const previews = h("input", { id: "set-previews", type: "checkbox", checked: s.link_previews === true });
  const drain = h("input", { id: "set-drain", type: "number", min: 1, max: 64, step: 1, value: s.drain_window });
  const theme = h("select", { id: "set-theme" },
    ...(["system", "light", "dark"] as Theme[]).map((t) => h("option", { value: t, selected: t === s.theme }, t[0].toUpperCase() + t.slice(1))));
  const f = h(
    "form",
    { class: "settings", "aria-labelledby": "settings-title", novalidate: true },
    h("h2", { id: "settings-title" }, "Settings"),
    h("section", { class: "settings-group" },
      h("h3", {}, "Server"),
      h("div", { class: "field" }, h("label", { for: "set-server" }, "Server URL"), server, h("p", { class: "hint" }, "Leave empty to work offline.")),
      h("div", { class: "field" }, h("label", { for: "set-token" }, "Access token"), token,
        h("p", { class: "hint" }, s.token_set ? "A token is stored. It is never shown." : "No token stored."),
        tokenStorageNote()),
      h("div", { class: "field field-check" }, clearToken, h("label", { for: "set-clear-token" }, "Remove the stored token")),
    ),
    h("section", { class: "settings-group" },
      h("h3", {}, "Sync"),
      h("div", { class: "field field-check" }, sync, h("label", { for: "set-sync" }, "Sync enabled")),
      h("div", { class: "field" }, h("label", { for: "set-drain" }, "Drain window"), drain, h("p", { class: "hint" }, "How many operations are sent at once.")),
      h("div", { class: "field field-check" }, previews, h("label", { for: "set-previews" }, "Fetch link previews"),
        h("p", { class: "hint" }, "When a card gets a link, Deckhand loads that page's title, description and icon (synced to your other devices).")),
    ),
    h("section", { class: "settings-group" },
      h("h3", {}, "Appearance"),
      h("div", { class: "field" }, h("label", { for: "set-theme" }, "Theme"), theme),
    ),
    h("div", { class: "settings-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Save settings")),
  );
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const drainN = Math.round(Number(drain.value));
    if (!Number.isFinite(drainN) || drainN < 1) {
      toast("Drain window must be a positive number.", "error");
      drain.focus();
      return;
    }
    const next: AppSettings = {
      ...s,
      server_url: server.value.trim() || null,
      token: token.value ? token.value : clearToken.checked ? "" : null,
      sync_enabled: sync.checked,
      // Left absent unless switched on: older settings files and tests stay as they were.
      ...(previews.checked || s.link_previews != null ? { link_previews: previews.checked } : {}),
      drain_window: drainN,
      theme: theme.value as Theme,
    };
    const saved = await saveSettings(next);
    if (saved) {
      toast("Settings saved.", "success");
      f.replaceWith(form(saved));
    }
  });
  return f;
}

/** Says where the token is kept: the OS keychain, or (none available) a file only you can read. */
function tokenStorageNote(): HTMLElement {
  const note = h("p", { class: "hint token-storage", "data-storage": "unknown" }, "Checking where the token is kept…");
  void api.tokenStorage().then(
    (t) => {
      note.dataset.storage = t.storage;
      note.textContent = t.storage === "keychain"
        ? "Kept in the system keychain."
        : `No system keychain available${t.fallback_reason ? ` (${t.fallback_reason})` : ""}: kept in ${t.file ?? "a file"}, readable only by you.`;
    },
    () => (note.textContent = "Could not tell where the token is kept."),
  );
  return note;
}

/** Quick capture shortcut and notifications (shell-only settings), saved on their own. */
function desktopForm(): HTMLElement {
  const section = h("form", { class: "settings desktop-settings", "aria-label": "Desktop integration", novalidate: true }, h("p", { class: "muted" }, "Loading desktop settings…"));
  const render = (d: DesktopState) => {
    const shortcut = h("input", { id: "set-shortcut", type: "text", value: d.settings.capture_shortcut ?? "", placeholder: "e.g. CmdOrCtrl+Shift+Space (empty: none)" });
    const notif = h("input", { id: "set-notify", type: "checkbox", checked: d.settings.notifications });
    const active = d.settings.capture_shortcut && !d.shortcut_error;
    replaceChildren(
      section,
      h("section", { class: "settings-group" },
        h("h3", {}, "Desktop"),
        h("div", { class: "field" }, h("label", { for: "set-shortcut" }, "Quick capture shortcut"), shortcut,
          h("p", { class: "hint shortcut-state", "data-state": active ? "active" : d.settings.capture_shortcut ? "refused" : "off" },
            active ? "Active everywhere on this desktop." : d.settings.capture_shortcut ? `Off: the desktop refused it (${d.shortcut_error}).` : "Off.")),
        h("div", { class: "field field-check" }, notif, h("label", { for: "set-notify" }, "Notify me about conflicts and refused changes while Deckhand is in the background")),
      ),
      h("div", { class: "settings-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Save desktop settings")),
    );
    section.onsubmit = async (e) => {
      e.preventDefault();
      const saved = await attempt("Saving desktop settings", () =>
        api.desktopSettingsSet({ capture_shortcut: shortcut.value.trim() || null, notifications: notif.checked }));
      if (saved) {
        toast(saved.shortcut_error ? "Saved, but the shortcut is off." : "Desktop settings saved.", saved.shortcut_error ? "info" : "success");
        render(saved);
      }
    };
  };
  void api.desktopSettingsGet().then(render, () => replaceChildren(section, h("p", { class: "muted" }, "Desktop settings are not available.")));
  return section;
}
