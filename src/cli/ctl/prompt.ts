/**
 * click-style prompts: the question on stdout, one line from stdin per answer. End of input
 * (no TTY, nothing piped) aborts the command with "Aborted!" and exit 1, as click does.
 */
import { CliError } from '../errors.ts';

export interface LineSource {
  /** The next line without its newline, or null at end of input. */
  next(): Promise<string | null>;
}

/** Buffers stdin into lines; reading starts at the first question only. */
export class StdinLines implements LineSource {
  private readonly lines: string[] = [];
  private partial = '';
  private ended = false;
  private started = false;
  private waiter: (() => void) | null = null;

  constructor(private readonly input: NodeJS.ReadStream = process.stdin) {}

  private start(): void {
    this.started = true;
    this.input.setEncoding('utf8');
    this.input.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split(/\r?\n/);
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    const end = () => {
      if (this.partial) this.lines.push(this.partial);
      this.partial = '';
      this.ended = true;
      this.wake();
    };
    this.input.on('end', end);
    this.input.on('error', end);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async next(): Promise<string | null> {
    if (!this.started) this.start();
    while (this.lines.length === 0 && !this.ended) {
      this.input.resume();
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
    const line = this.lines.shift();
    if (this.lines.length === 0) this.input.pause();
    return line ?? null;
  }
}

export const aborted = () => new CliError('Aborted!', 1);

export class Prompter {
  constructor(
    private readonly lines: LineSource,
    private readonly write: (text: string) => void,
  ) {}

  /** `click.prompt(text, default=...)`: `text [default]: `; empty answer → the default. */
  async prompt(text: string, defaultValue?: string): Promise<string> {
    for (;;) {
      const suffix = defaultValue !== undefined ? ` [${defaultValue}]` : '';
      this.write(`${text}${suffix}: `);
      const line = await this.lines.next();
      if (line === null) {
        this.write('\n');
        throw aborted();
      }
      const answer = line.trim();
      if (answer !== '') return answer;
      if (defaultValue !== undefined) return defaultValue;
    }
  }

  /** `click.confirm(text)`: `[y/N]`, y/yes true, n/no/empty false, anything else asks again. */
  async confirm(text: string): Promise<boolean> {
    for (;;) {
      this.write(`${text} [y/N]: `);
      const line = await this.lines.next();
      if (line === null) {
        this.write('\n');
        throw aborted();
      }
      const answer = line.trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') return true;
      if (answer === '' || answer === 'n' || answer === 'no') return false;
      this.write('Error: invalid input\n');
    }
  }
}
