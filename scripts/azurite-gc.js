// Preloaded into Azurite (node --require, see emulators.sh): moves its blob garbage collection
// past the emulator's life. In memory, Azurite's collection (every 10 minutes) walks every
// extent and blob record without yielding; once tens of thousands of blobs exist it stops
// answering for many minutes (seen in bench/ runs, which then hung). Test and bench emulators
// live minutes and are thrown away, so there is nothing worth collecting.
"use strict";
const path = require("path");
const constants = require(
  path.join(process.env.AWCOPY_AZURITE_DIR, "dist/src/blob/utils/constants.js"),
);
constants.DEFAULT_GC_INTERVAL_MS = 7 * 24 * 3600 * 1000;
