import { test, expect, hydrated, signedInSiteAdmin, uniqueEmail } from "./fixtures";

// One jurisdiction per project: the projects of an engine share a server.
const JURISDICTIONS: Record<string, string> = {
  "sqlite-js": "VT",
  "sqlite-nojs": "NH",
  "postgres-js": "ME",
  "postgres-nojs": "RI",
};

const ROSTER =
  "\ufeffbar_number,full_name,status,email,admitted_on,office_phone,notes\r\n" +
  '101,"Lee, Ann",active,ann@example.org,2001-06-15,(802) 555-0101,x\r\n' +
  "102,Bo Park,suspended,,2004-01-31,,\r\n" +
  "103,Cy Diaz,retired,,,,\r\n";

test("a site admin uploads a roster, sees the preview and commits it", async ({
  page,
  consoleErrors,
  javaScriptEnabled,
}, testInfo) => {
  test.setTimeout(60_000);
  const jurisdiction = JURISDICTIONS[testInfo.project.name];
  const admin = uniqueEmail(testInfo).replace("attorney+", "roster+");
  await signedInSiteAdmin(page, testInfo, admin, "granite meadow lantern");

  await page.getByRole("link", { name: "Roster uploads" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Roster uploads" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Jurisdiction").selectOption(jurisdiction);
  await page.getByRole("radio", { name: /The full roster/ }).check();
  await page.getByLabel("CSV file").setInputFiles({
    name: "roster.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(ROSTER, "utf8"),
  });
  await page.getByRole("button", { name: "Upload and preview" }).click();

  await expect(page.getByRole("heading", { level: 1 })).toContainText(`${jurisdiction}, full roster`);
  if (javaScriptEnabled) await hydrated(page);
  const counts = page.getByTestId("upload-counts");
  await expect(counts.getByRole("row", { name: /New members/ })).toContainText("2");
  await expect(counts.getByRole("row", { name: /Rows with errors/ })).toContainText("1");
  await expect(page.getByText("Ignored columns: notes.")).toBeVisible();
  await expect(page.getByRole("cell", { name: "retired" })).toBeVisible();

  // Rows with errors block the commit until the admin chooses to skip them.
  // (Hydrated, the refusal is an error response the browser logs: the
  // console is checked before it and after it.)
  expect(consoleErrors).toEqual([]);
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByRole("alert")).toContainText("1 rows have errors");
  const expectedErrors = consoleErrors.length;
  await page.getByLabel("Skip the 1 rows with errors").check();
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByTestId("upload-result")).toContainText("committed");

  await page.getByRole("link", { name: "All roster uploads" }).click();
  await expect(page.getByRole("row", { name: new RegExp(`${jurisdiction}.*committed`) })).toBeVisible();
  expect(consoleErrors.slice(expectedErrors)).toEqual([]);
});
