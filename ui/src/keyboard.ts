// Global shortcuts: n new card, / or Ctrl+K search, d dashboard, Ctrl+Z / Ctrl+Shift+Z undo/redo. Escape is handled by each dialog.
import { openDashboard } from "./components/dashboard";
import { closeEditor } from "./components/editor";
import { focusQuickAdd, focusSearch } from "./components/toolbar";
import { runUndo } from "./components/undo";
import { state } from "./state";

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function installShortcuts(): void {
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      focusSearch();
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (e.key === "Escape" && state.editingId && !e.defaultPrevented) {
      e.preventDefault();
      closeEditor();
      return;
    }
    // Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y): the engine's undo, except in a text field (its own).
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !typing(e.target) && (e.key.toLowerCase() === "z" || e.key.toLowerCase() === "y")) {
      e.preventDefault();
      void runUndo(e.key.toLowerCase() === "y" || e.shiftKey ? "redo" : "undo");
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "/") {
      e.preventDefault();
      focusSearch();
    } else if (e.key === "n") {
      e.preventDefault();
      focusQuickAdd();
    } else if (e.key === "d") {
      e.preventDefault();
      void openDashboard();
    }
  });
}
