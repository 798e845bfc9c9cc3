import { test, expect, hydrated } from "./fixtures";

test("the home page renders its landmarks", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveTitle("Counsel Registry");
  await expect(page.getByRole("banner")).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Primary" })).toBeVisible();
  await expect(page.getByRole("main")).toBeVisible();
  await expect(page.getByRole("contentinfo")).toBeVisible();
  await expect(
    page.getByRole("heading", { level: 1, name: "Attorney calls from prisons and jails must not be recorded." }),
  ).toBeVisible();
});

test("the home page hydrates without console errors", async ({ page, consoleErrors, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "hydration needs JavaScript");
  await page.goto("/");
  await hydrated(page);
  expect(consoleErrors).toEqual([]);
});

test("the audience links show each audience's summary, with or without JavaScript", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}) => {
  await page.goto("/");
  if (javaScriptEnabled) await hydrated(page);
  const picker = page.getByRole("navigation", { name: "Choose who you are" });
  await expect(picker.getByRole("link", { name: "Attorney" })).toHaveAttribute("aria-current", "true");
  const provider = picker.getByRole("link", { name: "Phone provider" });
  await expect(provider).not.toHaveAttribute("aria-current", "true");
  await provider.click();
  await expect(page).toHaveURL(/\?for=provider#audiences$/);
  await expect(picker.getByRole("link", { name: "Phone provider" })).toHaveAttribute("aria-current", "true");
  await expect(page.getByRole("heading", { level: 3, name: "Phone provider" })).toBeVisible();
  await expect(page.getByText("change feed, acknowledgements")).toBeVisible();
  expect(consoleErrors).toEqual([]);
});

test("without JavaScript the page is server-rendered and never hydrates", async ({ page, javaScriptEnabled }) => {
  test.skip(javaScriptEnabled, "checks the no-JavaScript rendering");
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 3, name: "Attorney" })).toBeVisible();
  await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
});

test("navigation works by link", async ({ page, consoleErrors, javaScriptEnabled }) => {
  await page.goto("/");
  if (javaScriptEnabled) await hydrated(page);
  await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "How it works" }).click();
  await expect(page).toHaveURL(/\/how-it-works$/);
  await expect(page.getByRole("heading", { level: 1, name: "How the registry works" })).toBeVisible();
  await expect(page).toHaveTitle("How it works · Counsel Registry");
  await expect(
    page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "How it works" }),
  ).toHaveAttribute("aria-current", "page");

  await page.getByRole("link", { name: "Home" }).click();
  await expect(page).toHaveURL(/\/$/);
  expect(consoleErrors).toEqual([]);
});

test("the notice can be dismissed and stays dismissed", async ({ page, consoleErrors, javaScriptEnabled }) => {
  await page.goto("/");
  if (javaScriptEnabled) await hydrated(page);
  const notice = page.getByRole("complementary", { name: "Service status" });
  await expect(notice).toBeVisible();
  await notice.getByRole("button", { name: "Dismiss" }).click();
  await expect(notice).toHaveCount(0);

  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await expect(page.getByRole("complementary", { name: "Service status" })).toHaveCount(0);
  expect(consoleErrors).toEqual([]);
});

test("a keyboard user can skip to the main content", async ({ page }) => {
  await page.goto("/");
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to main content" });
  await expect(skip).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/#main$/);
});

test("an unknown address shows a not-found page in the layout", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Primary" })).toBeVisible();
});

test("on a phone-sized screen nothing scrolls sideways", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto("/");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
