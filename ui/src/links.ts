// Every link in the app opens in the user's browser, through one delegated handler: WebKitGTK
// drops `target="_blank"` clicks, and a webview must never navigate away from the app itself.
// Only http(s) URLs pass (the same check the renderers use); anything else does nothing.
import { openUrl } from "@tauri-apps/plugin-opener";
import { toast } from "./components/toasts";
import { safeHttpUrl } from "./safeurl";

function linkOf(e: MouseEvent): HTMLAnchorElement | null {
  const el = e.target as Element | null;
  return el?.closest?.("a[href]") ?? null;
}

async function follow(e: MouseEvent): Promise<void> {
  const a = linkOf(e);
  if (!a) return;
  // Never let the webview itself navigate, whatever the href is.
  e.preventDefault();
  const url = safeHttpUrl(a.getAttribute("href"));
  if (!url) return;
  try {
    await openUrl(url);
  } catch (err) {
    toast(`Could not open the link: ${err && typeof err === "object" && "message" in err ? (err as { message: string }).message : String(err)}`, "error");
  }
}

export function installLinkHandler(root: Document = document): void {
  root.addEventListener("click", (e) => void follow(e));
  // Middle click would open a webview window of its own.
  root.addEventListener("auxclick", (e) => {
    if (e.button === 1) void follow(e);
  });
}
