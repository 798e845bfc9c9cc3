import type { Page, TestInfo } from "@playwright/test";
import { test, expect, hydrated, codeSentTo, signUpAndConfirm, uniqueEmail } from "./fixtures";

const PASSWORD = "violet tugboat orbit";

// One number per project, so parallel projects never read each other's codes.
const NUMBERS: Record<string, { typed: string; shown: string; e164: string }> = {
  "sqlite-js": { typed: "202.456.1111", shown: "(202) 456-1111", e164: "+12024561111" },
  "sqlite-nojs": { typed: "212 736 5000", shown: "(212) 736-5000", e164: "+12127365000" },
  "postgres-js": { typed: "+1 416 363 1212", shown: "(416) 363-1212", e164: "+14163631212" },
  "postgres-nojs": { typed: "(787) 721-7000", shown: "(787) 721-7000", e164: "+17877217000" },
};

test("an attorney adds a number and proves it with a code", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  const number = NUMBERS[testInfo.project.name];
  const email = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email, name: "Nora Numbers", password: PASSWORD });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Your numbers" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your numbers" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);

  await page.getByLabel("Phone number").fill(number.typed);
  await page.getByLabel("What it is (optional)").selectOption("office");
  await page.getByRole("button", { name: "Add number" }).click();
  const card = page.locator("li.review-card", { hasText: number.shown });
  await expect(card).toContainText("Not proven yet");

  await card.getByLabel("Text message").check();
  await card.getByRole("button", { name: "Send a code" }).click();
  await expect(page.getByRole("status")).toContainText("A code is on its way");
  // The code field takes the focus: `autofocus` on a full page load, an
  // effect once hydrated.
  await expect(card.getByLabel("Code you received")).toBeFocused();
  if (javaScriptEnabled) {
    // The button waits out the time before another code, counting down.
    await expect(card.getByRole("button", { name: /Send a code \(in \d+ s\)/ })).toBeDisabled();
  } else {
    // Without JavaScript the server says how long to wait.
    await card.getByLabel("Voice call (for landlines)").check();
    await card.getByRole("button", { name: "Send a code" }).click();
    await expect(page.getByRole("alert")).toContainText("Wait");
  }
  const code = await codeSentTo(testInfo, number.e164);
  await page.locator("li.review-card", { hasText: number.shown }).getByLabel("Code you received").fill(code);
  await page.locator("li.review-card", { hasText: number.shown }).getByRole("button", { name: "Prove" }).click();
  await expect(page.getByRole("status")).toContainText("Number proven");
  // Nora is not on a roster yet: proven, but not in the registry.
  await expect(page.locator("li.review-card", { hasText: number.shown })).toContainText(
    "counts once your standing is verified",
  );
  expect(consoleErrors).toEqual([]);
});

/** A new attorney, signed in, on the numbers page. */
async function onTheNumbersPage(page: Page, testInfo: TestInfo, name: string, javaScriptEnabled: boolean) {
  const email = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email, name, password: PASSWORD });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  await page.goto("/numbers");
  if (javaScriptEnabled) await hydrated(page);
}

test("a number from abroad is refused with the reason", async ({ page, javaScriptEnabled }, testInfo) => {
  await onTheNumbersPage(page, testInfo, "Otto Abroad", javaScriptEnabled);
  await page.getByLabel("Phone number").fill("+44 20 7946 0958");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("alert")).toContainText("not North American");
  await expect(page.getByText("You have not registered a number yet.")).toBeVisible();
});

test("a number pasted from a signature is read, and the page says what was read", async ({ page, javaScriptEnabled }, testInfo) => {
  await onTheNumbersPage(page, testInfo, "Paula Paste", javaScriptEnabled);

  // An invisible character is named, never echoed.
  await page.getByLabel("Phone number").fill("202\u200B555-0143");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("alert")).toContainText("U+200B zero-width space");

  // Non-breaking hyphens, a no-break space and the extension in the number.
  await page.getByLabel("Phone number").fill("(202)\u00A0555\u20110143 ext. 12");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("status")).toContainText("Added (202) 555-0143, extension 12, as we read it.");
  await expect(page.locator("li.review-card", { hasText: "(202) 555-0143 ext. 12" })).toBeVisible();

  // A vanity number comes back as digits, with the toll-free warning.
  await page.getByLabel("Phone number").fill("1-800-555-LAWS");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("status")).toContainText("Added (800) 555-5297");
  await expect(page.getByRole("status")).toContainText("many facilities");

  if (javaScriptEnabled) {
    // The page speaks of the latest form only: a refusal replaces the
    // notice of the number added before it.
    await page.getByLabel("Phone number").fill("+44 20 7946 0958");
    await page.getByRole("button", { name: "Add number" }).click();
    await expect(page.getByRole("alert")).toContainText("not North American");
    await expect(page.getByRole("status")).toHaveCount(0);
  }
});

// Hydrated only: without JavaScript a page is as fresh as its last load.
const WATCHED_NUMBERS: Record<string, { typed: string; shown: string; e164: string }> = {
  "sqlite-js": { typed: "617-253-1000", shown: "(617) 253-1000", e164: "+16172531000" },
  "postgres-js": { typed: "312-744-5000", shown: "(312) 744-5000", e164: "+13127445000" },
};

test("the dashboard shows changes made elsewhere without a reload", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  test.skip(!javaScriptEnabled, "a page without JavaScript is as fresh as its last load");
  const number = WATCHED_NUMBERS[testInfo.project.name];
  const email = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email, name: "Wanda Watcher", password: PASSWORD });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Your numbers" }).click();
  await hydrated(page);
  await page.getByLabel("Phone number").fill(number.typed);
  await page.getByRole("button", { name: "Add number" }).click();
  const card = page.locator("li.review-card", { hasText: number.shown });
  await expect(card).toContainText("Not proven yet");

  // A second tab sends the code and proves the number; the first is never reloaded.
  const other = await page.context().newPage();
  await other.goto("/numbers");
  await hydrated(other);
  const otherCard = other.locator("li.review-card", { hasText: number.shown });
  await otherCard.getByLabel("Text message").check();
  await otherCard.getByRole("button", { name: "Send a code" }).click();
  await expect(other.getByRole("status")).toContainText("A code is on its way");
  await expect(card.getByLabel("Code you received")).toBeVisible({ timeout: 15_000 });
  const code = await codeSentTo(testInfo, number.e164);
  await otherCard.getByLabel("Code you received").fill(code);
  await otherCard.getByRole("button", { name: "Prove" }).click();
  await expect(other.getByRole("status")).toContainText("Number proven");
  await expect(card).toContainText("counts once your standing is verified", { timeout: 15_000 });
  expect(consoleErrors).toEqual([]);
});
