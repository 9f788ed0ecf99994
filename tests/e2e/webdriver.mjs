// A minimal W3C WebDriver client over fetch: enough to drive the real app through tauri-driver
// (which fronts WebKitWebDriver). No browser is downloaded; nothing but Node's built-ins.
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async #req(method, path, body) {
    const res = await fetch(this.base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      const err = new Error(`webdriver ${method} ${path}: ${res.status} ${v.error ?? ""} ${v.message ?? ""}`);
      err.code = v.error;
      throw err;
    }
    return json.value;
  }

  async start(application, args = []) {
    const value = await this.#req("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application, args } } },
    });
    this.session = value.sessionId;
    return this;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  async quit() {
    if (this.session) await this.#req("DELETE", this.s("")).catch(() => {});
    this.session = null;
  }

  /** Runs `script` (a function body; `arguments` available) in the page. */
  async exec(script, ...args) {
    return this.#req("POST", this.s("/execute/sync"), { script, args });
  }

  /** Runs an async `script`; it calls its last argument with the result. */
  async execAsync(script, ...args) {
    return this.#req("POST", this.s("/execute/async"), { script, args });
  }

  async find(css) {
    const v = await this.#req("POST", this.s("/element"), { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await this.#req("POST", this.s("/elements"), { using: "css selector", value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** The first element matching `css` whose trimmed text is `text` (null when none). */
  async findByText(css, text) {
    const v = await this.exec(
      "return [...document.querySelectorAll(arguments[0])].find((e) => e.textContent.trim() === arguments[1]) ?? null",
      css,
      text,
    );
    return v ? v[ELEMENT] : null;
  }

  /** Waits for an element by text and clicks it. */
  async clickText(css, text, timeoutMs) {
    await this.#clickFound(`${css} "${text}"`, () => this.findByText(css, text), timeoutMs);
  }

  /** Waits for an element matching `css` and clicks it. */
  async clickCss(css, timeoutMs) {
    await this.#clickFound(css, () => this.find(css).catch(() => null), timeoutMs);
  }

  /** The UI re-renders on engine events, so an element found a moment ago may have been
   * replaced before the click lands: a stale reference is looked up again. */
  async #clickFound(what, findFn, timeoutMs) {
    await this.waitFor(`click ${what}`, async () => {
      const id = await findFn();
      if (!id) return false;
      try {
        await this.click(id);
        return true;
      } catch (e) {
        if (e.code === "stale element reference") return false;
        throw e;
      }
    }, timeoutMs);
  }

  async click(id) {
    return this.#req("POST", this.s(`/element/${id}/click`), {});
  }

  async type(id, text) {
    return this.#req("POST", this.s(`/element/${id}/value`), { text });
  }

  async clear(id) {
    return this.#req("POST", this.s(`/element/${id}/clear`), {});
  }

  async text(id) {
    return this.#req("GET", this.s(`/element/${id}/text`));
  }

  async windowRect() {
    return this.#req("GET", this.s("/window/rect"));
  }

  async setWindowRect(rect) {
    return this.#req("POST", this.s("/window/rect"), rect);
  }

  /** Closes the app's window (the app exits, as when the user closes it). */
  async closeWindow() {
    return this.#req("DELETE", this.s("/window")).catch(() => null);
  }

  /** PNG bytes of the window. */
  async screenshot() {
    return Buffer.from(await this.#req("GET", this.s("/screenshot")), "base64");
  }

  /** What the window showed when a wait timed out: the open dialogs, and a screenshot in
   * `this.failureDir` (set by the harness) so a failure in CI can be looked at afterwards. */
  async #scene(what) {
    const parts = [];
    try {
      const dialogs = await this.exec("return [...document.querySelectorAll('dialog[open]')].map((d) => d.getAttribute('aria-label') || d.querySelector('h2')?.textContent || d.className)");
      parts.push(` (open dialogs: ${dialogs.length ? dialogs.join(" | ") : "none"})`);
    } catch {}
    if (this.failureDir) {
      try {
        const { mkdirSync, writeFileSync } = await import("node:fs");
        mkdirSync(this.failureDir, { recursive: true });
        const file = `${this.failureDir}/timeout-${what.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}-${Date.now()}.png`;
        writeFileSync(file, await this.screenshot());
        parts.push(` (screenshot ${file})`);
      } catch {}
    }
    return parts.join("");
  }

  /** Polls `probe` until it returns a truthy value or the deadline passes. */
  async waitFor(what, probe, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        const v = await probe();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}${await this.#scene(what)}`);
  }
}
