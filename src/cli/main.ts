/**
 * Entry point for running the CLI from source (`node --import tsx src/cli/main.ts`), as the
 * compiled `bin/kairos.js` does from dist/.
 */
import { main } from './index.js';

await main(process.argv);
