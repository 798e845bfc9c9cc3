import type { Page } from "@playwright/test";
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

/** From the roster uploads page: a full roster for `jurisdiction`, up to its preview. */
async function uploadFullRoster(page: Page, javaScriptEnabled: boolean, jurisdiction: string, csv: string) {
  await expect(page.getByRole("heading", { level: 1, name: "Roster uploads" })).toBeVisible();
  if (javaScriptEnabled) await hydrated(page);
  await page.getByLabel("Jurisdiction").selectOption(jurisdiction);
  await page.getByRole("radio", { name: /The full roster/ }).check();
  await page.getByLabel("CSV file").setInputFiles({
    name: "roster.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(csv, "utf8"),
  });
  // Hydrated, the upload form's island sends the file itself (XHR, for
  // its progress bar); without JavaScript the browser posts the form.
  const byIsland = javaScriptEnabled
    ? page.waitForRequest((request) => request.url().endsWith("/admin/roster/upload") && request.resourceType() === "xhr")
    : null;
  await page.getByRole("button", { name: "Upload and preview" }).click();
  if (byIsland) await byIsland;
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`${jurisdiction}, full roster`);
  if (javaScriptEnabled) await hydrated(page);
}

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
  await uploadFullRoster(page, javaScriptEnabled, jurisdiction, ROSTER);
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
  await expect(page.getByRole("alert")).toContainText("1 row has errors");
  const expectedErrors = consoleErrors.length;
  await page.getByLabel("Skip the 1 row with errors").check();
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByTestId("upload-result")).toContainText("committed");

  await page.getByRole("link", { name: "All roster uploads" }).click();
  await expect(page.getByRole("row", { name: new RegExp(`${jurisdiction}.*committed`) })).toBeVisible();
  expect(consoleErrors.slice(expectedErrors)).toEqual([]);
});

// A bar's own export: its column names, its status words, US dates.
const BAR_JURISDICTIONS: Record<string, string> = {
  "sqlite-js": "OR",
  "sqlite-nojs": "WA",
  "postgres-js": "ID",
  "postgres-nojs": "MT",
};

function barExport(members: number[]): string {
  let csv = "Registration Number,Full Name,Status,Admit Date\r\n";
  for (const member of members) {
    // Letters only in names: "Lee Ab", "Lee Bb", …
    const name = `Lee ${String.fromCharCode(65 + (member % 26))}${"abcdefghij"[Math.floor(member / 26) % 10]}`;
    csv += `${member},${name},Currently registered,6/15/2001\r\n`;
  }
  return csv;
}

test("a bar's own file: a column named and a status word mapped on the preview, a mass removal held by the brake", async ({
  page,
  javaScriptEnabled,
}, testInfo) => {
  test.setTimeout(90_000);
  const jurisdiction = BAR_JURISDICTIONS[testInfo.project.name];
  const admin = uniqueEmail(testInfo).replace("attorney+", "bar+");
  await signedInSiteAdmin(page, testInfo, admin, "granite meadow lantern");
  const upload = async (csv: string) => {
    await page.goto("/admin/roster");
    await uploadFullRoster(page, javaScriptEnabled, jurisdiction, csv);
  };
  const counts = page.getByTestId("upload-counts");
  const members = Array.from({ length: 30 }, (_, i) => 5000 + i);

  await upload(barExport(members));
  await expect(page.getByText("Ignored columns: Admit Date.")).toBeVisible();
  // The column is named on the preview, and the same file read again with it.
  await page.getByText("A column was read wrongly or ignored?").click();
  await page.getByLabel("Field").selectOption("admitted_on");
  await page.getByLabel("Column name in the file").fill("Admit Date");
  await page.getByRole("button", { name: "Save the column name" }).click();
  await expect(page.getByRole("status")).toContainText("the file was read again with it");
  if (javaScriptEnabled) await hydrated(page);
  await expect(page.getByTestId("columns-read")).toContainText("Admit Date");
  await expect(page.getByText("Ignored columns")).toHaveCount(0);

  // The bar's own status word, mapped once for the bar.
  await expect(counts.getByRole("row", { name: /Rows with errors/ })).toHaveText(/\D30$/);
  await page.getByLabel('"Currently registered" (30 rows) means').selectOption("active");
  await page.getByRole("button", { name: "Save for this bar" }).click();
  await expect(counts.getByRole("row", { name: /Rows with errors/ })).toHaveText(/\D0$/);
  await expect(counts.getByRole("row", { name: /New members/ })).toHaveText(/\D30$/);
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByTestId("upload-result")).toContainText("committed");

  // A full roster of 5 of those 30: held until the count is repeated.
  await upload(barExport(members.slice(0, 5)));
  await expect(page.getByTestId("brake")).toContainText(
    `This full roster lists 5 members where the roster of ${jurisdiction} lists 30 now`,
  );
  await page.getByLabel("Type 25 to confirm").fill("24");
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByRole("alert")).toContainText("confirm by repeating the count, 25. Nothing was changed.");
  await expect(counts.getByRole("row", { name: /Missing/ })).toContainText("25");
  await page.getByLabel("Type 25 to confirm").fill("25");
  await page.getByRole("button", { name: "Commit this upload" }).click();
  await expect(page.getByTestId("upload-result")).toContainText("committed");
});
