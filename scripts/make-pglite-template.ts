// `npm run make:pglite-template`: writes packages/update-server/assets/pglite-template.tar.gz (a
// fresh PGlite data directory) with the installed PGlite. Run it after upgrading @electric-sql/pglite;
// the test db/pglite.test.ts fails until it is done.
import { makeTemplate } from '../packages/update-server/src/db/pglite-template.js';

const made = await makeTemplate();
console.log(`wrote ${made.file} (${made.bytes} bytes) with PGlite ${made.pglite}`);
