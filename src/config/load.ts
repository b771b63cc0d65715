/**
 * Config loader: Patroni-style YAML (+ PATRONI_* environment overrides) → validated NodeConfig,
 * and `/config` data → DynamicConfig. Reference: patroni-behaviour.md §6.
 * This module owns file reading and precedence; importers use it as the one public entry point.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { environmentConfig } from './env.ts';
import { ConfigError } from './error.ts';
import { type Dict, isDict } from './scalars.ts';
import { buildNodeConfig } from './sections.ts';
import type { NodeConfig } from './types.ts';
import { parseDocument } from './yaml.ts';

export { dynamicConfigFrom, RESTART_ONLY_PARAMETERS } from './dynamic.ts';
export { environmentConfig } from './env.ts';
export { ConfigError } from './error.ts';
export { normaliseNamespace, parseBool } from './scalars.ts';

/** Deep merge, `patch` wins; mappings merge key by key, anything else replaces. */
function patchConfig(target: Dict, patch: Dict): Dict {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    target[key] = isDict(value) && isDict(current) ? patchConfig({ ...current }, value) : value;
  }
  return target;
}

/** Parses one YAML document, patches the PATRONI_* overrides from `env` over it and validates. */
export function parseConfigText(
  yamlText: string,
  env: NodeJS.ProcessEnv = {},
  source: string | null = null,
): NodeConfig {
  const doc = parseDocument(yamlText, source ?? 'configuration');
  return buildNodeConfig(patchConfig(doc, environmentConfig(env)), source);
}

/**
 * Precedence follows Patroni: a config file (or directory of *.yml/*.yaml, merged alphabetically)
 * patched with PATRONI_* variables; without a file, PATRONI_CONFIGURATION alone; else the variables alone.
 */
export function loadConfig(opts: { file?: string | null; env?: NodeJS.ProcessEnv }): NodeConfig {
  const env = opts.env ?? process.env;
  if (opts.file) {
    const doc = readConfigPath(opts.file);
    return buildNodeConfig(patchConfig(doc, environmentConfig(env)), opts.file);
  }
  const whole = env['PATRONI_CONFIGURATION'];
  if (whole) return buildNodeConfig(parseDocument(whole, 'PATRONI_CONFIGURATION'), null);
  const fromEnv = environmentConfig(env);
  if (Object.keys(fromEnv).length === 0) {
    throw new ConfigError('config', 'no configuration file given and no PATRONI_* variables set');
  }
  return buildNodeConfig(fromEnv, null);
}

function readConfigPath(path: string): Dict {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
          .sort()
          .map((f) => join(path, f))
          .filter((f) => statSync(f).isFile())
      : [path];
  } catch (err) {
    throw new ConfigError(
      'config',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (files.length === 0) throw new ConfigError('config', `no *.yml or *.yaml files in ${path}`);
  const merged: Dict = {};
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        'config',
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    patchConfig(merged, parseDocument(text, file));
  }
  return merged;
}
