/** The `pgwarden` command line. */
// Each command's module is loaded when it runs (see ctl/register.ts): a CLI call pays only for
// what it uses.
import { Command, CommanderError } from 'commander';
import { PGWARDEN_VERSION } from '../cluster/report.ts';
import { ownShortOptions, registerCtlCommands } from './ctl/register.ts';
import { CliError } from './errors.ts';
import type { ReplayCommandOptions } from './replay-command.ts';
import type { SimOptions } from './sim-command.ts';
import type { VizOptions } from './viz-command.ts';

const program = new Command()
  .name('pgwarden')
  .description('High-availability manager for PostgreSQL, wire-compatible with Patroni 3.0')
  .version(PGWARDEN_VERSION)
  .exitOverride();

let exitCode = 0;

program
  .command('node')
  .description('run one agent for the PostgreSQL node described by a Patroni-style YAML file')
  .argument('<config>', 'path of the YAML configuration')
  .option(
    '--journal <file>',
    'append every machine event and state to this file (msgpackr frames; default: <name>.journal beside the data directory)',
  )
  .option('--no-journal', 'keep the journal in memory only')
  .option('--journal-size <MiB>', 'disk for the journal, rotated files included (default 64)')
  .action(async (file: string, opts: { journal?: string | false; journalSize?: string }) => {
    exitCode = await (await import('./node-command.ts')).runNode(file, opts);
  });

program
  .command('demo')
  .description('start etcd and a 3-node cluster on loopback (as the postgres OS user), until Ctrl-C')
  .option('--dir <path>', 'where data and logs go (default: a new temp dir)')
  .option('--nodes <n>', 'number of nodes', '3')
  .action(async (opts: { dir?: string; nodes: string }) => {
    exitCode = await (await import('./demo-command.ts')).runDemo(opts);
  });

program
  .command('sim')
  .description('play seeded fault schedules on a simulated cluster in virtual time and check invariants')
  .option('--seed <s>', 'first seed', '1')
  .option('--nodes <n>', 'number of nodes', '3')
  .option('--steps <k>', 'fault schedule steps', '60')
  .option('--seeds <m>', 'how many consecutive seeds', '1')
  .option('--step-ms <ms>', 'virtual ms per step', '5000')
  .option('--ttl <s>', 'leader key ttl, seconds', '30')
  .option('--sync', 'synchronous_mode on')
  .option('--failsafe', 'failsafe_mode on')
  .option('--watchdog', 'every node with a watchdog device (automatic mode)')
  .option(
    '--no-fast-failover',
    'every node without fast failover (gossip.fast_failover: false; on by default)',
  )
  .option(
    '--no-check-heal',
    'after healing, require only a writable leader, not every member streaming on its timeline',
  )
  .option('--coverage', 'report which states and transitions of every machine the runs reached')
  .option('--verbose', 'with --coverage: list every unreached state and transition, with why')
  .option(
    '--schedule <text>',
    "play this schedule (e.g. '3:kill:node1,5:restart:node1') instead of the seed's",
  )
  .option('--no-shrink', 'do not cut failing schedules down to the actions they need')
  .option('--jobs <n>', 'worker threads running seeds in parallel (default: available CPUs)')
  .option('--journal <dir>', "write each node's journal of each seed here (<seed>[-sync]-<node>.journal)")
  .action(async (opts: SimOptions) => {
    exitCode = await (await import('./sim-command.ts')).runSim(opts);
  });

program
  .command('replay')
  .description('replay decision journals on the machines and check every recorded transition happens again')
  .argument('<journal...>', 'journal files (rotated files beside each are read too, oldest first)')
  .option('--at <time>', 'print every machine state and context at this time (ISO, epoch ms, or +SECONDS)')
  .option('--timeline', "print all nodes' transitions in time order, with their events and guards")
  .option(
    '--actors <list>',
    "with --timeline or --at: these actors (comma-separated, e.g. node,node.election), or 'all'",
  )
  .option('--force', 'replay journals written by other machine definitions (with a warning)')
  .action(async (files: string[], opts: ReplayCommandOptions) => {
    exitCode = (await import('./replay-command.ts')).runReplay(files, opts);
  });

program
  .command('viz')
  .description('serve the statechart visualizer on recorded journals (the live view is GET /ui on any agent)')
  .option('--journal <files...>', 'journal files to show (rotated files beside each are read too)')
  .option('--port <n>', 'port to listen on (default 8300)')
  .option('--host <address>', 'address to listen on (default 127.0.0.1)')
  .action(async (opts: VizOptions) => {
    exitCode = await (await import('./viz-command.ts')).runViz(opts);
  });

// patronictl's commands: list, switchover, edit-config, ... (src/cli/ctl/).
registerCtlCommands(program);

// `pgwarden sim --seeds 1000 | head`: the reader went away; stop quietly, as other tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(exitCode);
  throw err;
});

try {
  await program.parseAsync(ownShortOptions(process.argv));
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`pgwarden: ${err.message}\n`);
    exitCode = err.exitCode;
  } else if (err instanceof CommanderError) {
    exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`pgwarden: ${(err as Error).stack ?? String(err)}\n`);
    exitCode = 1;
  }
}
process.exit(exitCode);
