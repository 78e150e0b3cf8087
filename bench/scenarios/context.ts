/** What every scenario receives from the harness besides its sizes. */
import type { BenchOptions } from '../options.ts';

export interface ScenarioContext {
  readonly options: BenchOptions;
  /** Where the server under test writes its log. */
  readonly logPath: string;
  /** Epoch ms after which load workers exit by themselves. */
  readonly workerDeadlineMs: number;
  /** Progress lines, for a human watching the run. */
  readonly progress: (line: string) => void;
}
