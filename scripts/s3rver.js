// Starts s3rver (npm), a second S3 implementation to test against, with the key pair the
// tests sign with registered (s3rver knows only its own S3RVER key otherwise).
// Usage: node scripts/s3rver.js PORT DIRECTORY   (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set)
'use strict';
const path = require('path');
const modules = path.join(process.env.AWCOPY_TOOLS_DIR, 'node', 'node_modules');
const S3rver = require(path.join(modules, 's3rver'));
const { DUMMY_ACCOUNT } = require(path.join(modules, 's3rver', 'lib', 'models', 'account'));

const [port, directory] = process.argv.slice(2);
DUMMY_ACCOUNT.createKeyPair(process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY);
new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true })
  .run()
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
