import { test as base, expect, type Page } from "@playwright/test";

/** Console errors and uncaught exceptions seen by a page during a test. */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
      // Leptos' island loader only warns when an island has no WASM
      // function: the part would silently stay server-drawn.
      if (message.type() === "warning" && /island/i.test(message.text())) errors.push(message.text());
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

import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
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
/**
 * A message as its reader sees it: a quoted-printable body (lettre picks
 * it when a line is longer than 76 characters, as a long link is) is
 * decoded, soft line breaks joined and `=3D` read as `=`.
 */
function readable(message: string): string {
  if (!/Content-Transfer-Encoding: quoted-printable/i.test(message)) return message;
  const split = message.search(/\r?\n\r?\n/);
  if (split < 0) return message;
  const body = message
    .slice(split)
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return message.slice(0, split) + body;
}

export async function linkInMail(testInfo: TestInfo, to: string, prefix: string, part = ""): Promise<string> {
  const dir = outboxOf(testInfo);
  for (let attempt = 0; attempt < 50; attempt++) {
    const messages = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((name) => name.endsWith(".eml"))
          .map((name) => readable(fs.readFileSync(path.join(dir, name), "utf8")))
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

/** The text of every message in the outbox sent to `to`. */
export function mailTo(testInfo: TestInfo, to: string): string[] {
  const dir = outboxOf(testInfo);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(".eml"))
    .map((name) => readable(fs.readFileSync(path.join(dir, name), "utf8")))
    .filter((text) => text.includes(`To: ${to}`));
}

/** Signs up through the form and confirms the address from the outbox. */
export async function signUpAndConfirm(
  page: Page,
  testInfo: TestInfo,
  account: { email: string; name: string; password: string; jurisdiction?: string; bar?: string },
) {
  const javaScript = testInfo.project.use.javaScriptEnabled !== false;
  await page.goto("/signup");
  if (javaScript) await hydrated(page);
  await page.getByLabel("Full name").fill(account.name);
  await page.getByLabel("Email address").fill(account.email);
  await page.getByLabel("Bar jurisdiction").selectOption(account.jurisdiction ?? "WA");
  await page.getByLabel("Bar number").fill(account.bar ?? "5150");
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your email" })).toBeVisible();
  const link = new URL(await linkInMail(testInfo, account.email, "http://127.0.0.1", "/verify-email"));
  await page.goto(link.pathname + link.search);
  if (javaScript) await hydrated(page);
  // Confirming the bar's email of record proves a claim: it takes the
  // account's password too.
  const password = page.getByLabel("The account's password");
  if (await password.count()) await password.fill(account.password);
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your email address is confirmed");
}

/** Runs the release binary's `admin create` against this project's database. */
export function createSiteAdmin(testInfo: TestInfo, email: string) {
  const engine = testInfo.project.name.split("-")[0];
  const databaseUrl = engine === "postgres" ? process.env.E2E_POSTGRES_URL : process.env.E2E_SQLITE_URL;
  execFileSync(path.resolve(__dirname, "../../target/release/server"), ["admin", "create", "--email", email], {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: databaseUrl ?? "",
      MAIL_OUTBOX_DIR: outboxOf(testInfo),
      RUST_LOG: "warn",
    },
    stdio: "pipe",
  });
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret, `offsetSecs` from now. */
export function totp(secret: string, offsetSecs = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of secret.replace(/=+$/, "")) {
    value = ((value << 5) | alphabet.indexOf(char)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor((Date.now() / 1000 + offsetSecs) / 30)));
  const digest = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

/** The code in the latest SMS or voice message written for `e164`. */
export async function codeSentTo(testInfo: TestInfo, e164: string): Promise<string> {
  const dir = outboxOf(testInfo);
  for (let attempt = 0; attempt < 50; attempt++) {
    const messages = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((name) => name.startsWith("code-") && name.endsWith(".txt"))
          .sort()
          .map((name) => fs.readFileSync(path.join(dir, name), "utf8"))
          .filter((text) => text.startsWith(`To: ${e164}\n`))
      : [];
    const latest = messages.pop();
    if (latest) {
      const digits = (latest.split(" code")[1] ?? "").replace(/\D/g, "").slice(0, 6);
      if (digits.length === 6) return digits;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no code for ${e164} in ${dir}`);
}

/**
 * A site admin created by the CLI, signed in with two-step sign-in set up,
 * left on the account page. (admin.spec.ts checks each of these steps.)
 */
export async function signedInSiteAdmin(page: Page, testInfo: TestInfo, email: string, password: string) {
  const javaScript = testInfo.project.use.javaScriptEnabled !== false;
  createSiteAdmin(testInfo, email);
  const link = new URL(await linkInMail(testInfo, email, "http://127.0.0.1", "/reset-password"));
  await page.goto(link.pathname + link.search);
  if (javaScript) await hydrated(page);
  await page.getByLabel("New password").fill(password);
  await page.getByRole("button", { name: "Save the new password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is changed");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())?.trim() ?? "";
  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await page.getByRole("link", { name: "I have saved them" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
}

/** Seeds roster rows (a CSV with a header) through the release binary's `roster seed`. */
export function seedRoster(testInfo: TestInfo, csv: string) {
  const engine = testInfo.project.name.split("-")[0];
  const databaseUrl = engine === "postgres" ? process.env.E2E_POSTGRES_URL : process.env.E2E_SQLITE_URL;
  const file = path.join(outboxOf(testInfo), `roster-${testInfo.workerIndex}-${Date.now()}.csv`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, csv);
  execFileSync(path.resolve(__dirname, "../../target/release/server"), ["roster", "seed", file], {
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl ?? "", RUST_LOG: "warn" },
    stdio: "pipe",
  });
}

/** Creates a provider through the release binary's CLI and makes it a key; the key. */
export function providerKey(testInfo: TestInfo, name: string): string {
  const engine = testInfo.project.name.split("-")[0];
  const databaseUrl = engine === "postgres" ? process.env.E2E_POSTGRES_URL : process.env.E2E_SQLITE_URL;
  const run = (args: string[]) =>
    execFileSync(path.resolve(__dirname, "../../target/release/server"), args, {
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl ?? "", RUST_LOG: "warn" },
      stdio: "pipe",
    }).toString();
  run(["provider", "create", name]);
  const lines = run(["provider", "key", name, "--scope", "registry:read"]).trim().split("\n");
  return lines[lines.length - 1].trim();
}
