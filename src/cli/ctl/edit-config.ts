/** `show-config` and `edit-config`: YAML of /config, changes from -s/-p/--apply/--replace/$EDITOR, CAS write. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../../config/error.ts';
import { isDict } from '../../config/scalars.ts';
import { parseYaml } from '../../config/yaml.ts';
import { CliError } from '../errors.ts';
import type { CtlContext } from './context.ts';
import { unifiedDiff } from './diff.ts';
import { yamlDump } from './format.ts';

type Dict = Record<string, unknown>;

function loadYaml(text: string, origin: string): unknown {
  try {
    return parseYaml(text, origin);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 1);
    throw err;
  }
}

/**
 * `-s a.b=v` pairs over a copy of `data`: dotted paths (the rest of a `postgresql.parameters.` path is one
 * GUC name), YAML values, an empty value removes the key. Throws before anything is written.
 */
export function applyConfigChanges(data: Dict, pairs: readonly string[]): Dict {
  const changed = structuredClone(data);
  const setPath = (config: Dict, path: string[], value: unknown, prefix: string[]) => {
    const p = prefix.join('.') === 'postgresql.parameters' ? [path.join('.')] : path;
    const key = p[0]!;
    if (p.length === 1) {
      if (value === null || value === undefined) delete config[key];
      else config[key] = value;
      return;
    }
    if (!isDict(config[key])) config[key] = {};
    const child = config[key] as Dict;
    setPath(child, p.slice(1), value, [...prefix, key]);
    if (Object.keys(child).length === 0) delete config[key];
  };
  for (const pair of pairs) {
    if (!pair.includes('=')) throw new CliError(`Invalid parameter setting ${pair}`, 1);
    const at = pair.indexOf('=');
    const path = pair.slice(0, at).trim().split('.');
    setPath(changed, path, loadYaml(pair.slice(at + 1), `value of ${pair.slice(0, at)}`), []);
  }
  return changed;
}

/** Patroni's patch_config: mappings merge key by key, null deletes, anything else replaces. */
export function patchConfig(config: Dict, patch: Dict): Dict {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined) delete config[k];
    else if (isDict(v) && isDict(config[k])) patchConfig(config[k] as Dict, v);
    else config[k] = v;
  }
  return config;
}

function readYamlSource(file: string): Dict {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 1);
  }
  const doc = loadYaml(text, file === '-' ? 'stdin' : file);
  if (doc === null || doc === undefined) return {};
  if (!isDict(doc)) throw new CliError(`${file} must contain a YAML mapping`, 1);
  return doc;
}

function invokeEditor(before: string, cluster: string): Dict {
  const editor =
    process.env['EDITOR'] ||
    ['editor', 'vi'].find((e) => spawnSync('sh', ['-c', `command -v ${e}`]).status === 0);
  if (!editor)
    throw new CliError('EDITOR environment variable is not set. editor or vi are not available', 1);
  const dir = mkdtempSync(join(tmpdir(), `${cluster}-config-`));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, before);
    // spawns: - the operator's editor; none found is a clear error above
    const r = spawnSync(editor, [file], { stdio: 'inherit' });
    if (r.status !== 0) throw new CliError(`Editor exited with return code ${r.status ?? r.signal}`, 1);
    const doc = loadYaml(readFileSync(file, 'utf8'), file);
    return isDict(doc) ? doc : {};
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface EditConfigOptions {
  set?: string[];
  pg?: string[];
  apply?: string;
  replace?: string;
  force?: boolean;
  quiet?: boolean;
  /** Whether an editor may be started (stdin and stdout are terminals). */
  interactive?: boolean;
}

export function hasChangeOptions(o: EditConfigOptions): boolean {
  return !!(o.set?.length || o.pg?.length || o.apply || o.replace);
}

export async function runEditConfig(ctx: CtlContext, cluster: string, o: EditConfigOptions): Promise<void> {
  if (!hasChangeOptions(o) && !o.interactive) {
    throw new CliError(
      'No changes given (-s, -p, --apply or --replace) and no terminal to run an editor on',
      1,
    );
  }
  const pairs = [...(o.set ?? []), ...(o.pg ?? []).map((p) => `postgresql.parameters.${p.trimStart()}`)];
  applyConfigChanges({}, pairs); // bad pairs fail before the DCS is even read
  const view = await ctx.cluster(cluster);
  const current = view.config?.data ?? {};
  const before = yamlDump(current);
  let changed: Dict = current;
  if (o.replace) changed = patchConfig({}, readYamlSource(o.replace));
  if (o.apply) changed = patchConfig(structuredClone(changed), readYamlSource(o.apply));
  if (pairs.length > 0) changed = applyConfigChanges(changed, pairs);
  if (!hasChangeOptions(o)) changed = invokeEditor(before, cluster);

  if (isDeepStrictEqual(current, changed)) {
    if (!o.quiet) ctx.echo('Not changed');
    return;
  }
  if (!o.quiet) for (const line of unifiedDiff(before, yamlDump(changed))) ctx.echo(line);
  if ((o.apply === '-' || o.replace === '-') && !o.force) {
    ctx.echo('Use --force option to apply changes');
    return;
  }
  if (o.force || (await ctx.prompter.confirm('Apply these changes?'))) {
    // Absent /config: mod_revision 0 makes the write a create-if-absent.
    if (!(await (await ctx.dcs(cluster)).setConfig(changed, view.config?.index ?? '0'))) {
      throw new CliError('Config modification aborted due to concurrent changes', 1);
    }
    ctx.echo('Configuration changed');
  }
}

export async function runShowConfig(ctx: CtlContext, cluster: string): Promise<void> {
  const view = await ctx.cluster(cluster);
  ctx.echo(yamlDump(view.config?.data ?? {}));
}
