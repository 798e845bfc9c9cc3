import { test, expect, hydrated, linkInMail, uniqueEmail } from "./fixtures";

const PASSWORD = "violet tugboat orbit";

test("sign up, confirm the email, sign in and sign out", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  const email = uniqueEmail(testInfo);
  await page.goto("/signup");
  if (javaScriptEnabled) await hydrated(page);

  await page.getByLabel("Full name").fill("Jane Q. Doe");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Bar jurisdiction").selectOption("CA");
  await page.getByLabel("Bar number").fill("123456");
  await page.getByLabel("Password").fill(PASSWORD);
  if (javaScriptEnabled) {
    // The strength hint only exists once the page is hydrated.
    await expect(page.locator("#password-strength")).toContainText("Strong");
  }
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your email" })).toBeVisible();

  const link = await linkInMail(testInfo, email, "http://127.0.0.1");
  const url = new URL(link);
  await page.goto(url.pathname + url.search);
  if (javaScriptEnabled) await hydrated(page);
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your email address is confirmed");

  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  await expect(page.getByRole("main").getByText("Jane Q. Doe")).toBeVisible();
  await expect(page.getByRole("main").getByText("CA 123456")).toBeVisible();
  // The header says who is signed in and offers what they may open.
  const header = page.getByRole("navigation", { name: "Primary" });
  await expect(header).toContainText("Signed in as Jane Q. Doe");
  await expect(header.getByRole("link", { name: "Your numbers" })).toBeVisible();
  await expect(header.getByRole("link", { name: "Create account" })).toHaveCount(0);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login$/);
  expect(consoleErrors).toEqual([]);
});

test("a refused sign-up says why", async ({ page, javaScriptEnabled }, testInfo) => {
  await page.goto("/signup");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Full name").fill("Jane Doe");
  await page.getByLabel("Email address").fill(uniqueEmail(testInfo));
  await page.getByLabel("Bar jurisdiction").selectOption("NY");
  await page.getByLabel("Bar number").fill("42");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("at least 12 characters");
  if (javaScriptEnabled) {
    // The form is an island: the refusal comes without a reload, so what
    // was typed stays for the one field to be corrected.
    await expect(page.getByLabel("Full name")).toHaveValue("Jane Doe");
    await expect(page.getByLabel("Bar jurisdiction")).toHaveValue("NY");
    await expect(page.getByLabel("Bar number")).toHaveValue("42");
  }
});

test("a wrong password is refused without saying whether the account exists", async ({ page, javaScriptEnabled }) => {
  await page.goto("/login");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Email address").fill("nobody@example.org");
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  if (javaScriptEnabled) {
    // An island too: the address stays for the password to be typed again.
    await expect(page.getByLabel("Email address")).toHaveValue("nobody@example.org");
  }
  // Refused twice from the page the first refusal came back to: one
  // message, and (without JavaScript) one error in the address.
  await page.getByLabel("Email address").fill("nobody@example.org");
  await page.getByLabel("Password").fill("still not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  expect(new URL(page.url()).searchParams.getAll("__err").length).toBeLessThanOrEqual(1);
});

test("a forgotten password is reset by an emailed link", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  // An account to reset, made and confirmed through the forms.
  const email = uniqueEmail(testInfo);
  await page.goto("/signup");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Full name").fill("Jane Q. Doe");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Bar jurisdiction").selectOption("TX");
  await page.getByLabel("Bar number").fill("77");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your email" })).toBeVisible();

  await page.goto("/login");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reset your password" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Email address").fill(email);
  await page.getByRole("button", { name: "Email me a link" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your email" })).toBeVisible();

  const link = new URL(await linkInMail(testInfo, email, "http://127.0.0.1", "/reset-password"));
  await page.goto(link.pathname + link.search);
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("New password").fill("new granite lantern");
  await page.getByRole("button", { name: "Save the new password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is changed");

  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill("new granite lantern");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  expect(consoleErrors).toEqual([]);
});
