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

test("a number from abroad is refused with the reason", async ({ page, javaScriptEnabled }, testInfo) => {
  const email = uniqueEmail(testInfo);
  await signUpAndConfirm(page, testInfo, { email, name: "Otto Abroad", password: PASSWORD });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  await page.goto("/numbers");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Phone number").fill("+44 20 7946 0958");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("alert")).toContainText("Only North American numbers");
  await expect(page.getByText("You have not registered a number yet.")).toBeVisible();
});
