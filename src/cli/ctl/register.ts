/**
 * patronictl's commands and options on the `pgwarden` program. Each action loads its command's
 * module when it runs: parsing the command line costs only commander and this file, so that
 * `pgwarden --version` does not load etcd's client, fastify or the machines.
 */
import { type Command, Option } from 'commander';
import { checkChoice, FLUSH_TARGETS, parseFormat, parseRole, parseSeconds } from './choices.ts';
import type { CtlContext, GlobalOptions } from './context.ts';

type Opts = Record<string, unknown>;

const collect = (v: string, prev: string[]) => [...prev, v];

/** The leader named by --leader, --primary or --master (aliases, as in patronictl). */
function leaderOption(o: Opts): string | undefined {
  return (o['leader'] ?? o['primary'] ?? o['master']) as string | undefined;
}

/** Runs `fn` with a context built from the global options; always closes the DCS clients. */
async function withContext(cmd: Command, fn: (ctx: CtlContext, o: Opts) => Promise<void>): Promise<void> {
  const o = cmd.optsWithGlobals() as Opts & GlobalOptions & { dcs?: string };
  const { CtlContext } = await import('./context.ts');
  const ctx = CtlContext.load({
    configFile: o.configFile,
    dcsUrl: o.dcsUrl ?? o.dcs,
    insecure: !!o.insecure,
  });
  try {
    await fn(ctx, o);
  } finally {
    await ctx.close();
  }
}

function leaderOptions(cmd: Command): Command {
  return cmd
    .option('--leader <name>', 'the name of the current leader')
    .addOption(new Option('--primary <name>', 'alias of --leader'))
    .addOption(new Option('--master <name>', 'alias of --leader').hideHelp());
}

/** Short options of a command that the program's own options use too: patronictl's query -c and -d. */
const SHADOWED: Record<string, Record<string, string>> = { query: { '-c': '--command', '-d': '--dbname' } };

/**
 * The command line with a command's own short options written long when the program has the
 * same letter: after `query`, `-c` is its SQL and `-d` its database, as in patronictl (whose
 * global options come before the command); before it, they stay the configuration file and DCS.
 */
export function ownShortOptions(argv: readonly string[]): string[] {
  const out = [...argv];
  let own: Record<string, string> | undefined;
  for (let i = 2; i < out.length; i++) {
    const arg = out[i]!;
    if (arg === '--') break;
    if (own) out[i] = own[arg] ?? arg;
    else if (!arg.startsWith('-') && SHADOWED[arg]) own = SHADOWED[arg];
    else if (!arg.startsWith('-') && !isOptionValue(out, i)) break;
  }
  return out;
}

/** Whether argv[i] is the value of the program option just before it (-c FILE, -d URL). */
function isOptionValue(argv: readonly string[], i: number): boolean {
  return ['-c', '--config-file', '-d', '--dcs-url', '--dcs'].includes(argv[i - 1] ?? '');
}

export function registerCtlCommands(program: Command): void {
  program
    .option('-c, --config-file <file>', 'configuration file (env PATRONICTL_CONFIG_FILE)')
    .option('-d, --dcs-url <url>', 'the DCS connect url, e.g. etcd3://127.0.0.1:2379 (env DCS_URL)')
    .addOption(new Option('--dcs <url>', 'alias of --dcs-url').hideHelp())
    .option('-k, --insecure', 'allow connections to SSL sites without certs');

  const listLike = (name: string, description: string, topology: boolean) => {
    const cmd = program
      .command(name)
      .description(description)
      .argument('[clusters...]', 'cluster names (default: scope)');
    if (!topology) {
      cmd
        .option('-e, --extended', 'show some extra information')
        .option('-t, --timestamp', 'print timestamp')
        .option('-f, --format <fmt>', 'output format (pretty, tsv, json, yaml)', 'pretty');
    }
    cmd
      .option('-W', 'auto update the screen every 2 seconds')
      .option('-w, --watch <seconds>', 'auto update the screen every X seconds')
      .action((clusters: string[], _o: Opts, c: Command) =>
        withContext(c, async (ctx, o) =>
          (await import('./list.ts')).runList(ctx, clusters, {
            format: topology ? 'topology' : parseFormat(o['format']),
            extended: !!o['extended'],
            timestamp: !!o['timestamp'],
            W: !!o['W'],
            ...(o['watch'] !== undefined ? { watch: parseSeconds(o['watch'], '--watch')! } : {}),
          }),
        ),
      );
  };
  listLike('list', 'list the Patroni members of a cluster', false);
  listLike('topology', 'print the ASCII topology of a cluster', true);

  program
    .command('remove')
    .description('remove cluster from DCS')
    .argument('<cluster_name>')
    .option('-f, --format <fmt>', 'output format (pretty, tsv, json, yaml)', 'pretty')
    .action((cluster: string, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./remove.ts')).runRemove(ctx, cluster, parseFormat(o['format'])),
      ),
    );

  program
    .command('history')
    .description('show the history of failovers/switchovers')
    .argument('[cluster]')
    .option('-f, --format <fmt>', 'output format (pretty, tsv, json, yaml)', 'pretty')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./info.ts')).runHistory(ctx, ctx.clusterName(cluster), parseFormat(o['format'])),
      ),
    );

  program
    .command('plan')
    .description('show who would take over if the leader died now, and why the others would not')
    .argument('[cluster]')
    .option('-f, --format <fmt>', 'output format (pretty, tsv, json, yaml)', 'pretty')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./plan.ts')).runPlan(ctx, ctx.clusterName(cluster), parseFormat(o['format'])),
      ),
    );

  program
    .command('show-config')
    .description('show cluster configuration')
    .argument('[cluster]')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx) =>
        (await import('./edit-config.ts')).runShowConfig(ctx, ctx.clusterName(cluster)),
      ),
    );

  program
    .command('edit-config')
    .description('edit cluster configuration')
    .argument('[cluster]')
    .option('-q, --quiet', 'do not show changes')
    .option('-s, --set <key=value>', 'set a configuration value (repeatable)', collect, [])
    .option('-p, --pg <guc=value>', 'set a PostgreSQL parameter (repeatable)', collect, [])
    .option('--apply <file>', 'apply configuration from file, - for stdin')
    .option('--replace <file>', 'replace the configuration with a file, - for stdin')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./edit-config.ts')).runEditConfig(ctx, ctx.clusterName(cluster), {
          set: o['set'] as string[],
          pg: o['pg'] as string[],
          ...(o['apply'] !== undefined ? { apply: o['apply'] as string } : {}),
          ...(o['replace'] !== undefined ? { replace: o['replace'] as string } : {}),
          force: !!o['force'],
          quiet: !!o['quiet'],
          interactive: !!process.stdin.isTTY && !!process.stdout.isTTY,
        }),
      ),
    );

  leaderOptions(program.command('switchover').description('switchover to a replica').argument('[cluster]'))
    .option('--candidate <name>', 'the name of the candidate')
    .option('--scheduled <when>', 'timestamp of a scheduled switchover (ISO 8601)')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./failover.ts')).runFailover(ctx, 'switchover', ctx.clusterName(cluster), {
          leader: leaderOption(o),
          candidate: o['candidate'] as string | undefined,
          scheduled: o['scheduled'] as string | undefined,
          force: !!o['force'],
        }),
      ),
    );

  leaderOptions(program.command('failover').description('failover to a replica').argument('[cluster]'))
    .option('--candidate <name>', 'the name of the candidate')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) => {
        const leader = leaderOption(o);
        const { runFailover } = await import('./failover.ts');
        return runFailover(ctx, leader ? 'switchover' : 'failover', ctx.clusterName(cluster), {
          leader,
          candidate: o['candidate'] as string | undefined,
          force: !!o['force'],
        });
      }),
    );

  program
    .command('restart')
    .description('restart cluster members')
    .argument('<cluster>')
    .argument('[members...]')
    .option('-r, --role <role>', 'restart only members with this role', 'any')
    .option('--any', 'restart a single member only')
    .option('--scheduled <when>', 'timestamp of a scheduled restart (ISO 8601)')
    .option('--pg-version <version>', 'restart if the PostgreSQL version is less than provided')
    .option('--pending', 'restart if pending')
    .option('--timeout <seconds>', 'fail (and fail over if necessary) when restarting takes longer')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string, members: string[], _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./restart.ts')).runRestart(ctx, cluster, members, {
          role: parseRole(o['role'], 'any')!,
          any: !!o['any'],
          scheduled: o['scheduled'] as string | undefined,
          pgVersion: o['pgVersion'] as string | undefined,
          pending: !!o['pending'],
          timeout: o['timeout'] as string | undefined,
          force: !!o['force'],
        }),
      ),
    );

  program
    .command('reload')
    .description('reload cluster member configuration')
    .argument('<cluster>')
    .argument('[members...]')
    .option('-r, --role <role>', 'reload only members with this role', 'any')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string, members: string[], _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./restart.ts')).runReload(ctx, cluster, members, {
          role: parseRole(o['role'], 'any')!,
          force: !!o['force'],
        }),
      ),
    );

  program
    .command('reinit')
    .description('reinitialize cluster members')
    .argument('<cluster>')
    .argument('[members...]')
    .option('--force', 'do not ask for confirmation')
    .option('--wait', 'wait until reinitialization completes')
    .action((cluster: string, members: string[], _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./reinit.ts')).runReinit(ctx, cluster, members, {
          force: !!o['force'],
          wait: !!o['wait'],
        }),
      ),
    );

  program
    .command('flush')
    .description('discard scheduled events: flush <cluster> [members...] restart|switchover')
    .argument('<cluster>')
    .argument('<args...>', '[members...] restart|switchover')
    .option('-r, --role <role>', 'flush only members with this role', 'any')
    .option('--force', 'do not ask for confirmation')
    .action((cluster: string, args: string[], _o: Opts, c: Command) => {
      const target = checkChoice(args[args.length - 1]!, FLUSH_TARGETS, 'TARGET');
      return withContext(c, async (ctx, o) =>
        (await import('./flush.ts')).runFlush(ctx, cluster, args.slice(0, -1), target, {
          role: parseRole(o['role'], 'any')!,
          force: !!o['force'],
        }),
      );
    });

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    program
      .command(name)
      .description(paused ? 'disable auto failover' : 'resume auto failover')
      .argument('[cluster]')
      .option('--wait', `wait until ${paused ? 'pause is applied' : 'pause is cleared'} on all nodes`)
      .action((cluster: string | undefined, _o: Opts, c: Command) =>
        withContext(c, async (ctx, o) =>
          (await import('./pause.ts')).runTogglePause(ctx, ctx.clusterName(cluster), paused, {
            wait: !!o['wait'],
          }),
        ),
      );
  }

  program
    .command('version')
    .description('output the version of pgwarden or of the members of a running cluster')
    .argument('[cluster]')
    .argument('[members...]')
    .action((cluster: string | undefined, members: string[], _o: Opts, c: Command) =>
      withContext(c, async (ctx) => (await import('./info.ts')).runVersion(ctx, cluster, members)),
    );

  program
    .command('query')
    .description('query a Patroni PostgreSQL member')
    .argument('[cluster]')
    .option('--format <fmt>', 'output format (pretty, tsv, json, yaml)', 'tsv')
    .option('-f, --file <file>', 'execute the SQL commands from this file (- for stdin)')
    .option('--password', 'force password prompt')
    .option('-U, --username <name>', 'database user name')
    .option('-W', 'auto update the screen every 2 seconds')
    .option('-w, --watch <seconds>', 'auto update the screen every X seconds')
    .option('-r, --role <role>', 'the role of the query')
    .option('-m, --member <name>', 'query a specific member')
    .option('--delimiter <text>', 'the column delimiter', '\t')
    .option('-c, --command <sql>', 'the SQL commands to execute')
    .option('-d, --dbname <name>', 'database name to connect to')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, _o) => {
        const own = c.opts() as Opts;
        await (await import('./query.ts')).runQuery(ctx, ctx.clusterName(cluster), {
          format: parseFormat(own['format']),
          password: !!own['password'],
          delimiter: String(own['delimiter']),
          W: !!own['W'],
          ...(own['role'] !== undefined ? { role: parseRole(own['role'])! } : {}),
          ...(own['member'] !== undefined ? { member: own['member'] as string } : {}),
          ...(own['command'] !== undefined ? { command: own['command'] as string } : {}),
          ...(own['file'] !== undefined ? { file: own['file'] as string } : {}),
          ...(own['username'] !== undefined ? { username: own['username'] as string } : {}),
          ...(own['dbname'] !== undefined ? { dbname: own['dbname'] as string } : {}),
          ...(own['watch'] !== undefined ? { watch: parseSeconds(own['watch'], '--watch')! } : {}),
        });
      }),
    );

  program
    .command('dsn')
    .description('generate a dsn for a member, the leader by default')
    .argument('[cluster]')
    .option('-r, --role <role>', 'give a dsn of any member with this role')
    .option('-m, --member <name>', 'generate a dsn for this member')
    .action((cluster: string | undefined, _o: Opts, c: Command) =>
      withContext(c, async (ctx, o) =>
        (await import('./info.ts')).runDsn(ctx, ctx.clusterName(cluster), {
          ...(o['role'] !== undefined ? { role: parseRole(o['role'])! } : {}),
          ...(o['member'] !== undefined ? { member: o['member'] as string } : {}),
        }),
      ),
    );
}
