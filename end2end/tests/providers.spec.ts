import { test, expect, hydrated, signedInSiteAdmin, uniqueEmail } from "./fixtures";

test("a site admin adds a provider, makes a key shown once, and revokes it", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  test.setTimeout(60_000);
  const admin = uniqueEmail(testInfo).replace("attorney+", "providers+");
  const provider = `Acme ${testInfo.project.name} ${Date.now()}`;
  await signedInSiteAdmin(page, testInfo, admin, "granite meadow lantern");
  await page.getByRole("link", { name: "Phone providers" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Phone providers" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);

  await page.getByLabel("Name").fill(provider);
  await page.getByRole("button", { name: "Add provider" }).click();
  await expect(page.getByRole("status").first()).toContainText("Provider added");
  const card = page.locator("li.review-card", { hasText: provider });
  await expect(card.getByTestId("provider-lag")).toContainText("Never acknowledged");

  await card.getByRole("button", { name: "Make a key" }).click();
  const shown = page.getByTestId("new-provider-key");
  await expect(shown).toHaveText(/^crk_[A-Za-z0-9_-]{43}$/);
  const key = (await shown.textContent()) ?? "";

  // The key works against the API, and is not shown again.
  const answer = await page.request.get("/api/v1/registry/changes", { headers: { Authorization: `Bearer ${key}` } });
  expect(answer.status()).toBe(200);
  await page.goto("/admin/providers");
  await expect(page.getByTestId("new-provider-key")).toHaveCount(0);
  await expect(page.locator("li.review-card", { hasText: provider })).toContainText(key.slice(0, 12));

  if (javaScriptEnabled) await hydrated(page);
  await page.locator("li.review-card", { hasText: provider }).getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("status").first()).toContainText("Key revoked");
  // Refused once the server's 2-second key cache lets it go.
  await expect
    .poll(async () => {
      const refused = await page.request.get("/api/v1/registry/changes", { headers: { Authorization: `Bearer ${key}` } });
      return `${refused.status()} ${refused.headers()["content-type"]}`;
    }, { timeout: 5_000 })
    .toBe("401 application/problem+json");
  expect(consoleErrors).toEqual([]);
});
