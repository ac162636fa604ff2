/*
 * Headless Chromium from the system package (/usr/bin/chromium) driven by
 * playwright-core, for the dashboard's end-to-end tests. Never downloads a
 * browser. Skips locally when it is missing, fails in CI.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function skipChromium(): boolean {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true')
    throw new Error(`browser tests cannot run in CI: ${CHROMIUM} is not installed`);
  return true;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
    ],
    timeout: 20_000,
  });
}
