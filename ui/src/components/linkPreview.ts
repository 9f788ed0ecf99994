// A link card's preview: the page's icon (a data: URI only — the CSP allows no remote image),
// site, title and description as the engine fetched them, or why the link is broken; and the
// "Refresh metadata" action. Nothing is fetched here: the engine does it and syncs the result.
import { api, errorMessage } from "../api";
import type { CardView } from "../bindings/CardView";
import { rememberCard } from "../data";
import { h } from "../dom";
import { toast } from "./toasts";

/** Only inline images: anything else would be a request to a page's server. */
export function safeIcon(icon: string | null | undefined): string | null {
  return icon && /^data:image\/[a-z0-9.+-]+[;,]/i.test(icon) ? icon : null;
}

export async function refreshMeta(id: string): Promise<CardView | null> {
  try {
    const card = await api.cardRefreshMeta(id);
    rememberCard(card);
    const m = card.link_meta;
    if (m && m.status !== "ok") toast(`“${card.title}”: ${m.error ?? m.status}`, m.status === "broken" ? "error" : "info");
    return card;
  } catch (err) {
    toast(`Could not refresh the metadata: ${errorMessage(err)}`, "error");
    return null;
  }
}

export function linkPreview(card: CardView, opts: { description: boolean }): HTMLElement | null {
  if (!card.url) return null;
  const m = card.link_meta ?? null;
  const refresh = h(
    "button",
    { type: "button", class: "btn btn-xs btn-ghost link-refresh", title: "Refresh metadata", "aria-label": `Refresh metadata of ${card.title}` },
    "↻",
  );
  refresh.addEventListener("click", (e) => {
    e.stopPropagation();
    refresh.disabled = true;
    void refreshMeta(card.id).finally(() => (refresh.disabled = false));
  });
  if (!m) return h("div", { class: "link-preview link-none" }, h("span", { class: "link-muted" }, "No preview yet"), refresh);
  if (m.status !== "ok") {
    return h(
      "div",
      { class: `link-preview link-${m.status}`, "data-link-status": m.status },
      h("span", { class: "link-badge", role: "img", "aria-label": m.status === "broken" ? "Broken link" : "Preview failed" }, m.status === "broken" ? "Broken link" : "No preview"),
      h("span", { class: "link-muted" }, m.error ?? ""),
      refresh,
    );
  }
  const icon = safeIcon(m.icon);
  return h(
    "div",
    { class: "link-preview link-ok", "data-link-status": "ok" },
    icon ? h("img", { class: "link-icon", src: icon, alt: "", width: 16, height: 16 }) : null,
    h(
      "div",
      { class: "link-text" },
      h("div", { class: "link-title" }, [m.site_name, m.title].filter(Boolean).join(" · ")),
      opts.description && m.description ? h("div", { class: "link-desc" }, m.description) : null,
    ),
    refresh,
  );
}
