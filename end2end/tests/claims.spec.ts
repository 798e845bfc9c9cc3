import type { Page, TestInfo } from "@playwright/test";
import { test, expect, hydrated, linkInMail, seedRoster, signUpAndConfirm, uniqueEmail } from "./fixtures";

const PASSWORD = "violet tugboat orbit";

/** A bar number nobody else in this run uses. */
function barNumber(): string {
  return `${Date.now() % 1_000_000_000}${Math.floor(Math.random() * 90 + 10)}`;
}

/** Signs up as `name` with bar `bar` (CA), confirms the address and signs in. */
async function signUp(page: Page, testInfo: TestInfo, email: string, name: string, bar: string) {
  await signUpAndConfirm(page, testInfo, { email, name, password: PASSWORD, jurisdiction: "CA", bar });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
}

test("an impostor who knows a name and a bar number is never verified, and the bar's address blocks the claim", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  const bar = barNumber();
  const ofRecord = uniqueEmail(testInfo).replace("attorney+", "record+");
  seedRoster(testInfo, `jurisdiction,bar_number,full_name,status,email\nCA,${bar},Rita Real,active,${ofRecord}\n`);

  const impostor = uniqueEmail(testInfo).replace("attorney+", "impostor+");
  await signUp(page, testInfo, impostor, "Rita Real", bar);
  const main = page.getByRole("main");
  await expect(main).toContainText("Waiting for a match");
  await expect(main).toContainText("waiting for proof through the bar's email of record");
  const header = page.getByRole("navigation", { name: "Primary" });
  await expect(header).toContainText("Signed in as Rita Real");
  await expect(header.getByRole("button", { name: "Sign out" })).toBeVisible();

  // The address on record is asked, and answers that it was not them.
  const link = new URL(await linkInMail(testInfo, ofRecord, "http://127.0.0.1", "answer=not-mine"));
  await page.goto(link.pathname + link.search);
  if (javaScriptEnabled) await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "Is this you?" })).toBeVisible();
  await expect(main).toContainText(impostor);
  await page.getByRole("button", { name: "This was not me: block the claim" }).click();
  await expect(page.getByRole("status")).toContainText("The claim is blocked");

  await page.goto("/account");
  await expect(main).toContainText("the bar's email of record said this was not them");
  expect(consoleErrors).toEqual([]);
});

test("a bare click on a confirmation that would prove a claim verifies no one", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  const bar = barNumber();
  const ofRecord = uniqueEmail(testInfo).replace("attorney+", "record+");
  seedRoster(testInfo, `jurisdiction,bar_number,full_name,status,email\nCA,${bar},Rita Real,active,${ofRecord}\n`);

  // The impostor signs up with Rita's name, bar number and the bar's own
  // address for her, with a password of their choosing.
  await page.goto("/signup");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Full name").fill("Rita Real");
  await page.getByLabel("Email address").fill(ofRecord);
  await page.getByLabel("Bar jurisdiction").selectOption("CA");
  await page.getByLabel("Bar number").fill(bar);
  await page.getByLabel("Password").fill("copper harbor lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your email" })).toBeVisible();

  // Rita's mailbox gets the confirmation: the page says what is claimed
  // and asks for the account's password, which she does not have.
  const link = new URL(await linkInMail(testInfo, ofRecord, "http://127.0.0.1", "/verify-email"));
  await page.goto(link.pathname + link.search);
  if (javaScriptEnabled) await hydrated(page);
  const main = page.getByRole("main");
  await expect(main).toContainText(`bar number CA ${bar} (California)`);
  await page.getByLabel("The account's password").fill("not the password at all");
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("alert")).toContainText("not the password of this account");

  // She says it was not her: the claim is blocked.
  await page.getByRole("button", { name: "This was not me: block the claim" }).click();
  await expect(page.getByRole("status")).toContainText("The claim is blocked");
  expect(consoleErrors).toEqual([]);
});

test("the attorney confirms the claim from the address on record and is verified", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  const bar = barNumber();
  const ofRecord = uniqueEmail(testInfo).replace("attorney+", "record+");
  seedRoster(testInfo, `jurisdiction,bar_number,full_name,status,email\nCA,${bar},Ada Attorney,active,${ofRecord}\n`);
  const email = uniqueEmail(testInfo);
  await signUp(page, testInfo, email, "Ada Attorney", bar);
  await expect(page.getByRole("main")).toContainText("Waiting for a match");

  const link = new URL(await linkInMail(testInfo, ofRecord, "http://127.0.0.1", "answer=mine"));
  await page.goto(link.pathname + link.search);
  if (javaScriptEnabled) await hydrated(page);
  await page.getByRole("button", { name: "Yes, this is me" }).click();
  await expect(page.getByRole("status")).toContainText("Your claim is confirmed");

  await page.goto("/account");
  await expect(page.getByRole("main")).toContainText("Verified attorney in good standing");
  // The home page's first action for an attorney is their numbers.
  await page.goto("/");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByRole("main").getByRole("link", { name: "Register your numbers" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your numbers" })).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
