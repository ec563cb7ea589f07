// Headless Chromium for the dashboard's browser scripts: Debian's Chromium through
// playwright-core, both found where scripts/test.sh installed them.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.AWCOPY_PLAYWRIGHT);

/// A headless Chromium with nothing of its own going to the network.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
