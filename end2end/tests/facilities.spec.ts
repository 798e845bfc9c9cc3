import { test, expect, codeSentTo, hydrated, providerKey, seedRoster, signUpAndConfirm, signedInSiteAdmin, uniqueEmail } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";

const PASSWORD = "violet tugboat orbit";

// One number per project, so parallel projects never read each other's codes.
const NUMBERS: Record<string, { typed: string; shown: string; e164: string }> = {
  "sqlite-js": { typed: "206-684-4000", shown: "(206) 684-4000", e164: "+12066844000" },
  "sqlite-nojs": { typed: "503 823 4000", shown: "(503) 823-4000", e164: "+15038234000" },
  "postgres-js": { typed: "(617) 635-4000", shown: "(617) 635-4000", e164: "+16176354000" },
  "postgres-nojs": { typed: "215.686.1776", shown: "(215) 686-1776", e164: "+12156861776" },
};

/** Registers a facility for the key's provider and acknowledges the head for it. */
async function facilityApplying(request: APIRequestContext, key: string, code: string, name: string) {
  const headers = { Authorization: `Bearer ${key}` };
  const put = await request.put(`/api/v1/facilities/${code}`, { headers, data: { name, state: "WA", kind: "jail" } });
  expect(put.status()).toBe(200);
  const snapshot = await (await request.get("/api/v1/registry/snapshot", { headers })).json();
  const ack = await request.post(`/api/v1/facilities/${code}/acks`, { headers, data: { through_seq: snapshot.as_of_seq } });
  expect(ack.status()).toBe(200);
}

test("an attorney sees which facilities applied their number, and finds one by name", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  test.setTimeout(60_000);
  const number = NUMBERS[testInfo.project.name];
  const email = uniqueEmail(testInfo).replace("attorney+", "facilities+");
  const bar = `${Date.now() % 1_000_000_000}${Math.floor(Math.random() * 90 + 10)}`;
  seedRoster(testInfo, `jurisdiction,bar_number,full_name,status,email\nCA,${bar},Fay Facility,active,${email}\n`);
  await signUpAndConfirm(page, testInfo, { email, name: "Fay Facility", password: PASSWORD, jurisdiction: "CA", bar });
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Your numbers" }).click();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Phone number").fill(number.typed);
  await page.getByRole("button", { name: "Add number" }).click();
  const card = page.locator("li.review-card", { hasText: number.shown });
  await card.getByLabel("Text message").check();
  await card.getByRole("button", { name: "Send a code" }).click();
  await expect(page.getByRole("status")).toContainText("A code is on its way");
  const code = await codeSentTo(testInfo, number.e164);
  await page.locator("li.review-card", { hasText: number.shown }).getByLabel("Code you received").fill(code);
  await page.locator("li.review-card", { hasText: number.shown }).getByRole("button", { name: "Prove" }).click();
  await expect(page.getByRole("status")).toContainText("Number proven");

  // A provider's two facilities apply the registry; one is then found by name.
  const tag = `${testInfo.project.name} ${Date.now()}`;
  const key = providerKey(testInfo, `Facility Phones ${tag}`);
  await facilityApplying(page.request, key, "NORTH", `North Jail ${tag}`);
  await facilityApplying(page.request, key, "SOUTH", `South Jail ${tag}`);

  await page.getByRole("link", { name: "Where they are applied" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Where your numbers are applied" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  const section = page.locator("section.review-card", { hasText: number.shown });
  const north = section.getByTestId("applied-row").filter({ hasText: `North Jail ${tag}` });
  await expect(north).toContainText("Applied 2");
  await expect(north).toContainText("Never reconciled");

  await page.getByLabel("Facility name or state (e.g. WA)").fill(`South Jail ${tag}`);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=South/);
  const found = page.locator("section.review-card", { hasText: number.shown }).getByTestId("applied-row");
  await expect(found).toHaveCount(1);
  await expect(found).toContainText(`South Jail ${tag}`);
  expect(consoleErrors).toEqual([]);
});

test("a site admin sees every facility with its lag and reconciliation", async ({ page, consoleErrors, javaScriptEnabled }, testInfo) => {
  test.setTimeout(60_000);
  const tag = `${testInfo.project.name} ${Date.now()}`;
  const key = providerKey(testInfo, `Admin View Phones ${tag}`);
  await facilityApplying(page.request, key, "EAST", `East Jail ${tag}`);

  const admin = uniqueEmail(testInfo).replace("attorney+", "facility-admin+");
  await signedInSiteAdmin(page, testInfo, admin, "granite meadow lantern");
  await page.getByRole("link", { name: "Facilities", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Facilities" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await expect(page.getByTestId("facilities-summary")).toContainText("flagged");
  // By its own name: another row's "Same place as" list names it too.
  const row = page
    .getByTestId("facility-row")
    .filter({ has: page.getByTestId("facility-name").getByText(`East Jail ${tag}`, { exact: true }) });
  await expect(row).toContainText(`Admin View Phones ${tag}`);
  await expect(row).toContainText("through seq");
  await expect(row).toContainText("Never reconciled");
  expect(consoleErrors).toEqual([]);
});
