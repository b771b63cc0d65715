import { describe, it } from 'vitest';
import { scenarios } from '../../src/testing/scenarios/index.ts';

// Each scenario checks its own outcome and throws with the cluster's summary and last log lines.
describe('targeted simulated scenarios', () => {
  for (const s of scenarios) it(s.name, () => s.run());
});
