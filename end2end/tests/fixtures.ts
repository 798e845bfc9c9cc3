import { test as base, expect, type Page } from "@playwright/test";

/** Console errors and uncaught exceptions seen by a page during a test. */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("response", (response) => {
      // A redirect to the login page is expected; any other failure is not.
      if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
    });
    await use(errors);
  },
});

export { expect };

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

import * as fs from "node:fs";
import * as path from "node:path";
import type { TestInfo } from "@playwright/test";

/** A unique address per test, so parallel tests never read each other's mail. */
export function uniqueEmail(testInfo: TestInfo): string {
  const slug = `${testInfo.project.name}-${testInfo.workerIndex}-${Date.now()}`;
  return `attorney+${slug}@example.org`;
}

/** The outbox of the server this test's project talks to. */
function outboxOf(testInfo: TestInfo): string {
  const engine = testInfo.project.name.split("-")[0];
  return path.join(process.env.E2E_OUTBOX_ROOT ?? "", engine);
}

/** A link starting with `prefix` and containing `part` in mail sent to `to`. */
export async function linkInMail(testInfo: TestInfo, to: string, prefix: string, part = ""): Promise<string> {
  const dir = outboxOf(testInfo);
  for (let attempt = 0; attempt < 50; attempt++) {
    const messages = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((name) => name.endsWith(".eml"))
          .map((name) => fs.readFileSync(path.join(dir, name), "utf8"))
          .filter((text) => text.includes(`To: ${to}`))
      : [];
    for (const text of messages) {
      for (const word of text.split(/\s/)) {
        if (word.startsWith(prefix) && word.includes(part)) return word;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${to} with a ${prefix} link in ${dir}`);
}
