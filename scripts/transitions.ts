/** Prints docs/transitions.md: the machines' transition tables (src/testing/transition-table.ts). */
import { coveredMachines } from '../src/testing/coverage.ts';
import { transitionsDocument } from '../src/testing/transition-table.ts';

process.stdout.write(`${transitionsDocument(coveredMachines)}\n`);
