// Applies the theme setting: explicit light/dark, or follow the system (CSS prefers-color-scheme).
import type { Theme } from "./bindings/Theme";

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}
