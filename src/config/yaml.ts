/** YAML text → plain data, read the way PyYAML (and so Patroni) reads it. */
import { parse as parseYamlText, type Tags, YAMLParseError } from 'yaml';
import { ConfigError } from './error.ts';
import { type Dict, describe, isDict } from './scalars.ts';

// PyYAML (YAML 1.1) is what Patroni reads with, so `on`/`yes` are booleans and 0700 is octal; dates
// and binaries stay strings because they would not survive a round-trip through `/config` JSON.
const DROPPED_TAGS = new Set(['tag:yaml.org,2002:timestamp', 'tag:yaml.org,2002:binary']);
// The yaml package's 1.1 resolvers are looser than PyYAML's: they read `n` as false, `e1` and `.`
// as floats, `0:30` as 30. Hostnames such as `e1` must stay strings, so PyYAML's patterns replace them.
const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const PYYAML_FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)$/;
const PYYAML_FLOAT_EXP = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)[eE][-+][0-9]+$/;
const PYYAML_INT_TIME = /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/;

function pyyamlPattern(tag: string, format: string | undefined, test: RegExp): RegExp {
  if (tag === 'tag:yaml.org,2002:bool') return test.test('true') ? PYYAML_TRUE : PYYAML_FALSE;
  if (tag === 'tag:yaml.org,2002:int' && format === 'TIME') return PYYAML_INT_TIME;
  if (tag === 'tag:yaml.org,2002:float' && format === 'EXP') return PYYAML_FLOAT_EXP;
  if (tag === 'tag:yaml.org,2002:float' && format === undefined && test.test('1.5')) return PYYAML_FLOAT;
  return test;
}

function pyyamlTags(tags: Tags): Tags {
  return tags
    .filter((t) => typeof t === 'string' || !DROPPED_TAGS.has(t.tag))
    .map((t) => {
      if (typeof t === 'string' || !('test' in t) || !t.test) return t;
      return { ...t, test: pyyamlPattern(t.tag, t.format, t.test) };
    });
}

const YAML_OPTIONS = { version: '1.1' as const, uniqueKeys: false, customTags: pyyamlTags };

export function parseYaml(text: string, origin: string): unknown {
  try {
    return parseYamlText(text, YAML_OPTIONS);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      const what = err.message.split(' at line ')[0]?.split('\n')[0];
      throw new ConfigError('config', `YAML syntax error in ${origin}${where}: ${what}`);
    }
    throw err;
  }
}

export function parseDocument(text: string, origin: string): Dict {
  const doc = parseYaml(text, origin);
  if (!isDict(doc) || Object.keys(doc).length === 0) {
    throw new ConfigError('config', `${origin} must contain a non-empty mapping, got ${describe(doc)}`);
  }
  return doc;
}
