import { defineConfig } from "@playwright/test";

// One release-built server per engine; each engine is tested with
// JavaScript on (hydrated) and off (server-rendered forms and links).
// The test command (.ci/test) creates the databases and passes their URLs.
const sqliteUrl = process.env.E2E_SQLITE_URL;
const outboxRoot = process.env.E2E_OUTBOX_ROOT;
const postgresUrl = process.env.E2E_POSTGRES_URL;
if (!sqliteUrl || !outboxRoot) {
  throw new Error("E2E_SQLITE_URL and E2E_OUTBOX_ROOT are not set: run the browser tests through `make test`");
}

const engines = [
  { name: "sqlite", port: 3100, databaseUrl: sqliteUrl },
  ...(postgresUrl ? [{ name: "postgres", port: 3101, databaseUrl: postgresUrl }] : []),
];

const chromium = {
  browserName: "chromium" as const,
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  },
};

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: { trace: "retain-on-failure" },
  projects: engines.flatMap((engine) => [
    {
      name: `${engine.name}-js`,
      use: { ...chromium, baseURL: `http://127.0.0.1:${engine.port}`, javaScriptEnabled: true },
    },
    {
      name: `${engine.name}-nojs`,
      use: { ...chromium, baseURL: `http://127.0.0.1:${engine.port}`, javaScriptEnabled: false },
    },
  ]),
  webServer: engines.map((engine) => ({
    command: "../target/release/server",
    url: `http://127.0.0.1:${engine.port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      BIND_ADDRESS: `127.0.0.1:${engine.port}`,
      DATABASE_URL: engine.databaseUrl,
      LEPTOS_SITE_ROOT: "../target/site",
      MAIL_OUTBOX_DIR: `${outboxRoot}/${engine.name}`,
      CODE_OUTBOX_DIR: `${outboxRoot}/${engine.name}`,
      RUST_LOG: "warn",
      // Every test signs in from 127.0.0.1: the per-address limit (tested
      // in the integration tests) would otherwise throttle the suite.
      AUTH_ATTEMPTS_PER_MINUTE: "1000",
    },
  })),
});
