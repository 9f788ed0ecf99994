// Header: views, search, tag / lane filters, quick add.
import { api } from "../api";
import { attempt } from "../actions";
import { rememberCard, reloadViews, viewShown } from "../data";
import { h, replaceChildren } from "../dom";
import { DEFAULT_LANE, laneNames, notify, state, subscribe, type View } from "../state";
import { toast } from "./toasts";
import { openTrash } from "./trash";
import { SEARCH_HELP } from "./search-help";
import { openBrokenLinks } from "./brokenLinks";

export function focusSearch(): void {
  const el = document.getElementById("search") as HTMLInputElement | null;
  el?.focus();
  el?.select();
}

export function focusQuickAdd(): void {
  if (state.view === "settings") setView("board");
  document.getElementById("quick-title")?.focus();
}

export function setView(view: View): void {
  state.view = view;
  document.body.dataset.view = view;
  notify("view");
  void viewShown(view);
}

export function mountToolbar(parent: HTMLElement): void {
  const viewBtn = (v: View, label: string) =>
    h("button", { type: "button", class: "seg", "data-view": v, "aria-pressed": String(state.view === v), onclick: () => setView(v) }, label);
  const views = h("div", { class: "segmented", role: "group", "aria-label": "View" }, viewBtn("board", "Board"), viewBtn("list", "List"));

  let debounce = 0;
  const search = h("input", { id: "search", type: "search", placeholder: "Search cards  ( / )", "aria-label": "Search cards", autocomplete: "off", title: SEARCH_HELP });
  search.addEventListener("input", () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      state.filter.text = search.value;
      void reloadViews();
    }, 120);
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && search.value) {
      e.preventDefault();
      search.value = "";
      state.filter.text = "";
      void reloadViews();
    }
  });
  const tagFilter = h("select", { "aria-label": "Filter by tag", class: "filter" });
  tagFilter.addEventListener("change", () => {
    state.filter.tag = tagFilter.value;
    void reloadViews();
  });
  const laneFilter = h("select", { "aria-label": "Filter by lane", class: "filter" });
  laneFilter.addEventListener("change", () => {
    state.filter.lane = laneFilter.value;
    void reloadViews();
  });
  const renderFilters = () => {
    replaceChildren(tagFilter, h("option", { value: "" }, "All tags"), ...state.tags.map((t) => h("option", { value: t, selected: t === state.filter.tag }, t)));
    replaceChildren(laneFilter, h("option", { value: "" }, "All lanes"), ...laneNames().map((l) => h("option", { value: l, selected: l === state.filter.lane }, l)));
    replaceChildren(quickLane, ...laneNames().map((l) => h("option", { value: l, selected: l === (quickLane.value || DEFAULT_LANE) }, l)));
  };

  const quickTitle = h("input", { id: "quick-title", type: "text", placeholder: "Add a card…  ( n )", "aria-label": "New card title", autocomplete: "off" });
  const quickLane = h("select", { "aria-label": "Lane for new card", class: "filter" });
  const quick = h("form", { class: "quick-add", "aria-label": "Quick add" }, quickTitle, quickLane, h("button", { type: "submit", class: "btn btn-primary" }, "Add card"));
  quick.addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = quickTitle.value.trim();
    if (!title) {
      toast("Type a title first.", "error");
      quickTitle.focus();
      return;
    }
    const created = await attempt("Create", () => api.cardCreate({ title, lane: quickLane.value || DEFAULT_LANE }));
    if (created) {
      quickTitle.value = "";
      rememberCard(created);
    }
  });

  const header = h(
    "header",
    { class: "topbar" },
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "◆"), h("h1", {}, "Deckhand")),
    views,
    h("div", { class: "search-wrap" }, search),
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "btn btn-primary", onclick: focusQuickAdd, "aria-keyshortcuts": "n" }, "New card"),
    h("button", { type: "button", class: "btn btn-ghost", id: "open-trash", onclick: () => void openTrash() }, "Trash"),
    h("button", { type: "button", class: "btn btn-ghost", onclick: openBrokenLinks }, "Links"),
    h("button", { type: "button", class: "btn btn-ghost", "data-view": "settings", "aria-pressed": "false", onclick: () => setView(state.view === "settings" ? "board" : "settings") }, "Settings"),
  );
  parent.append(header, h("div", { class: "subbar" }, quick, h("div", { class: "filters", role: "group", "aria-label": "Filters" }, tagFilter, laneFilter)));
  const syncPressed = () => {
    for (const b of header.querySelectorAll<HTMLButtonElement>("[data-view]")) b.setAttribute("aria-pressed", String(b.dataset.view === state.view));
  };
  subscribe("view", syncPressed);
  subscribe("tags", renderFilters);
  subscribe("lanes", renderFilters);
  renderFilters();
}
