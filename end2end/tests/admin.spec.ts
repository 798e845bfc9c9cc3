import { test, expect, hydrated, createSiteAdmin, linkInMail, mailTo, signUpAndConfirm, totp, uniqueEmail } from "./fixtures";

const ADMIN_PASSWORD = "granite meadow lantern";

// One number per project: the servers are shared by a project's tests.
const REVOKED_NUMBERS: Record<string, string> = {
  "sqlite-js": "(415) 554-4000",
  "sqlite-nojs": "(213) 978-1028",
  "postgres-js": "(206) 684-4000",
  "postgres-nojs": "(512) 974-2000",
};

test("an admin sets up two-step sign-in, approves an attorney and signs in again with a code", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  test.setTimeout(60_000);
  const attorney = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email: attorney, name: "Pat Pending", password: "violet tugboat orbit" });
  // Pat registers a number, which the admin revokes later on.
  const number = REVOKED_NUMBERS[testInfo.project.name];
  await page.getByLabel("Email address").fill(attorney);
  await page.getByLabel("Password").fill("violet tugboat orbit");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Your numbers" }).click();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Phone number").fill(number);
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.locator("li.review-card", { hasText: number })).toContainText("Not proven yet");
  await page.goto("/account");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);

  const admin = attorney.replace("attorney+", "admin+");
  createSiteAdmin(testInfo, admin);
  const link = new URL(await linkInMail(testInfo, admin, "http://127.0.0.1", "/reset-password"));
  await page.goto(link.pathname + link.search);
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("New password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Save the new password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is changed");

  // The first sign-in leads to the two-step set-up, which admins cannot skip.
  await page.getByLabel("Email address").fill(admin);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Two-step sign-in" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("Administrators must use two-step sign-in");
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())?.trim() ?? "";
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await page.getByLabel("Current password").fill(ADMIN_PASSWORD);
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your recovery codes" })).toBeVisible();
  await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);

  await page.getByRole("link", { name: "I have saved them" }).click();
  await page.getByRole("link", { name: "Review queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Review queue" })).toBeVisible();
  // The card whose Email is this attorney's (others list it among the
  // other claims on the same bar number).
  const card = page.locator("li.review-card", { has: page.getByText(attorney, { exact: true }) });
  await expect(card).toContainText("bar number not on the roster");
  await card.getByRole("radio", { name: /Approve/ }).check();
  await card.getByLabel("Reason (emailed to the attorney)").fill("Confirmed with the Washington State Bar by phone.");
  await card.getByRole("button", { name: "Save decision" }).click();
  await expect(page.getByRole("status")).toContainText("Decision saved");
  await expect(page.locator("li.review-card", { has: page.getByText(attorney, { exact: true }) })).toHaveCount(0);
  expect(mailTo(testInfo, attorney).some((mail) => mail.includes("Confirmed with the Washington State Bar"))).toBe(true);

  // The admin looks Pat's number up and revokes it with a reason, which
  // reaches Pat by email (sent by the background worker).
  await page.goto("/account");
  await page.getByRole("link", { name: "Look up a number" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Look up a number" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Phone number").fill(number.replace(/[()]/g, ""));
  await page.getByRole("button", { name: "Look up" }).click();
  const holder = page.locator("li.review-card", { hasText: attorney });
  await expect(holder).toContainText("pending");
  await holder.getByLabel("Reason for revoking (emailed to the attorney)").fill("Not a number of a law office.");
  await holder.getByRole("button", { name: "Revoke this registration" }).click();
  await expect(page.getByRole("status").first()).toContainText("Registration revoked");
  await expect(page.locator("li.review-card", { hasText: attorney })).toContainText("revoked (Not a number of a law office.)");
  await expect
    .poll(() => mailTo(testInfo, attorney).some((mail) => mail.includes("Not a number of a law office.")), { timeout: 15_000 })
    .toBe(true);

  // Every later sign-in asks for a fresh code (the next step's: the one
  // used to enrol is never accepted again).
  await page.goto("/account");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto("/login");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Email address").fill(admin);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Two-step sign-in" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Code").fill(totp(secret, 30));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  await expect(page.getByText("Site administrator", { exact: true })).toBeVisible();

  // The overview's charts are SVG drawn by the server: the same with and
  // without JavaScript. Pat's registration this week is in the first.
  await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "Overview" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  for (const chart of [
    /New registrations per week/,
    /Numbers in the registry/,
    /provider is behind/,
    /facility's oldest unapplied change/,
    /Code deliveries by outcome/,
  ]) {
    await expect(page.getByRole("figure", { name: chart })).toBeVisible();
  }
  await expect(page.getByRole("img", { name: /New registrations per week/ })).toBeVisible();
  await expect(page.getByTestId("overview-head")).toContainText("numbers are privileged now");
  expect(consoleErrors).toEqual([]);
});

test("an attorney changes their password", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  const email = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email, name: "Chris Change", password: "violet tugboat orbit" });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill("violet tugboat orbit");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Change your password" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Change your password" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Current password").fill("violet tugboat orbit");
  await page.getByLabel("New password").fill("amber quarry whistle");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is changed");
  expect(consoleErrors).toEqual([]);
});
