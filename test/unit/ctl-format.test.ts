/** The ctl renderers (PrettyTable, tsv, json, yaml, diff) and argument validation, against patronictl 3.0.2's output. */
import { describe, expect, it } from 'vitest';
import { checkChoice, parseFormat, parseRole, parseSeconds, ROLES } from '../../src/cli/ctl/choices.ts';
import { loadCtlConfig, parseDcsUrl } from '../../src/cli/ctl/config.ts';
import { unifiedDiff } from '../../src/cli/ctl/diff.ts';
import { applyConfigChanges, patchConfig } from '../../src/cli/ctl/edit-config.ts';
import {
  formatOutput,
  formatPgVersion,
  pyDumps,
  renderTable,
  timestamp,
  yamlDump,
} from '../../src/cli/ctl/format.ts';
import { memberRows, topologySort } from '../../src/cli/ctl/list.ts';
import { membersWithRole } from '../../src/cli/ctl/members.ts';
import { restartBody } from '../../src/cli/ctl/restart.ts';
import { parseScheduled } from '../../src/cli/ctl/schedule.ts';
import { CliError } from '../../src/cli/errors.ts';
import { type ClusterView, emptyClusterView, type Member, type MemberData } from '../../src/cluster/view.ts';

const LIST_COLUMNS = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'Tags'];
const ALIGN = { 'Lag in MB': 'r', TL: 'r' } as const;

function member(name: string, data: Partial<MemberData>): Member {
  return {
    name,
    index: '1',
    session: '7',
    data: {
      conn_url: `postgres://127.0.0.1:${5432 + name.length}/postgres`,
      api_url: `http://127.0.0.1:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      ...data,
    } as MemberData,
  };
}

function view(over: Partial<ClusterView>): ClusterView {
  return { ...emptyClusterView, ...over };
}

describe('table renderer', () => {
  it('injects the title into the top rule, drops the Cluster column and right-aligns TL and lag', () => {
    const out = formatOutput(
      LIST_COLUMNS.slice(0, 7),
      [
        ['ctl', 'node1', '127.0.0.1:44293', 'Leader', 'running', 1, ''],
        ['ctl', 'node2', '127.0.0.1:46401', 'Replica', 'running', 1, 0],
      ],
      { fmt: 'pretty', align: ALIGN, header: ' Cluster: ctl ' },
    );
    expect(out).toBe(
      [
        '+ Cluster: ctl ------------+---------+---------+----+-----------+',
        '| Member | Host            | Role    | State   | TL | Lag in MB |',
        '+--------+-----------------+---------+---------+----+-----------+',
        '| node1  | 127.0.0.1:44293 | Leader  | running |  1 |           |',
        '| node2  | 127.0.0.1:46401 | Replica | running |  1 |         0 |',
        '+--------+-----------------+---------+---------+----+-----------+',
      ].join('\n'),
    );
  });

  it('spans multi-line tags over several lines and rules every row (PrettyTable hrules=ALL)', () => {
    const out = formatOutput(
      LIST_COLUMNS,
      [
        ['c', 'a', 'h', 'Leader', 'running', 1, '', { nofailover: true, zone: 'x' }],
        ['c', 'b', 'h2', 'Replica', 'streaming', 1, 0, ''],
      ],
      { fmt: 'pretty', align: ALIGN, header: ' Cluster: c ' },
    );
    expect(out).toBe(
      [
        '+ Cluster: c ---+---------+-----------+----+-----------+------------------+',
        '| Member | Host | Role    | State     | TL | Lag in MB | Tags             |',
        '+--------+------+---------+-----------+----+-----------+------------------+',
        '| a      | h    | Leader  | running   |  1 |           | nofailover: true |',
        '|        |      |         |           |    |           | zone: x          |',
        '+--------+------+---------+-----------+----+-----------+------------------+',
        '| b      | h2   | Replica | streaming |  1 |         0 |                  |',
        '+--------+------+---------+-----------+----+-----------+------------------+',
      ].join('\n'),
    );
  });

  it('prints only the header box for no rows', () => {
    expect(renderTable(['TL', 'LSN'], [], { TL: 'r' })).toBe(
      ['+----+-----+', '| TL | LSN |', '+----+-----+', '+----+-----+'].join('\n'),
    );
  });

  it('truncates a title longer than the table', () => {
    expect(renderTable(['A'], [['x']], {}, ' Cluster: long ').split('\n')[0]).toBe('+ Cl+');
  });
});

describe('tsv, json and yaml', () => {
  it('tsv keeps the Cluster column and writes tags as flow YAML', () => {
    const out = formatOutput(['Cluster', 'Member', 'Tags'], [['c', 'a', { nofailover: true, zone: 'x' }]], {
      fmt: 'tsv',
      header: ' Cluster: c ',
    });
    expect(out).toBe('Cluster\tMember\tTags\nc\ta\t{nofailover: true, zone: x}');
  });

  it('json is Python json.dumps; empty cells dropped only for titled tables', () => {
    expect(
      formatOutput(
        ['TL', 'LSN'],
        [
          [1, 100],
          [2, ''],
        ],
        { fmt: 'json' },
      ),
    ).toBe('[{"TL": 1, "LSN": 100}, {"TL": 2, "LSN": ""}]');
    expect(formatOutput(['Cluster', 'Lag in MB'], [['c', '']], { fmt: 'json', header: 'x' })).toBe(
      '[{"Cluster": "c"}]',
    );
    expect(pyDumps({ a: [1, 'é'], b: null, c: { d: true } })).toBe(
      '{"a": [1, "\\u00e9"], "b": null, "c": {"d": true}}',
    );
  });

  it('yaml is PyYAML safe_dump: sorted keys, unindented sequences, quoted look-alikes', () => {
    expect(
      yamlDump({ ttl: 10, postgresql: { parameters: { max_connections: 100 } }, b: ['x'], on: 'on' }),
    ).toBe("b:\n- x\n'on': 'on'\npostgresql:\n  parameters:\n    max_connections: 100\nttl: 10\n");
    expect(yamlDump({})).toBe('{}\n');
    expect(formatOutput(['Cluster', 'Member'], [['c', 'a']], { fmt: 'yaml', header: 'x' })).toBe(
      '- Cluster: c\n  Member: a\n',
    );
  });

  it('timestamps and versions look like patronictl', () => {
    const at = new Date(2026, 10, 25, 20, 57, 38, 475);
    expect(timestamp(0, at)).toBe('2026-11-25 20:57:38');
    expect(timestamp(6, at)).toBe('2026-11-25 20:57:38.47500');
    expect(formatPgVersion(150018)).toBe('15.18');
    expect(formatPgVersion(90624)).toBe('9.6.24');
  });
});

describe('member table rows', () => {
  const v = view({
    leader: { name: 'node1', index: '1', session: '7' },
    status: { optime: 3 * 1024 * 1024 },
    config: { index: '1', data: { pause: true } },
    failover: { index: '2', scheduled_at: '2030-01-01T12:00:00+00:00', leader: 'node1' },
    members: [
      member('node1', { role: 'master', timeline: 2, pending_restart: true }),
      member('node2', { timeline: 2, xlog_location: 1024 * 1024, replication_state: 'streaming' }),
      member('node3', { tags: { replicatefrom: 'node2' } }),
    ],
  });

  it('uses the member state (not replication_state), lag in MB, port when non-standard, optional columns', () => {
    const { columns, rows, doc } = memberRows(v, 'ctl');
    expect(columns).toEqual([...LIST_COLUMNS.slice(0, 7), 'Pending restart', 'Tags']);
    expect(rows[0]).toEqual(['ctl', 'node1', '127.0.0.1:5437', 'Leader', 'running', 2, '', '*', '']);
    expect(rows[1]).toEqual(['ctl', 'node2', '127.0.0.1:5437', 'Replica', 'running', 2, 2, '', '']);
    expect(rows[2]![6]).toBe('unknown');
    expect(doc['pause']).toBe(true);
  });

  it('orders the topology as a tree by replicatefrom', () => {
    const { rows } = memberRows(v, 'ctl', false, true);
    expect(rows.map((r) => r[1])).toEqual(['node1', '+ node2', '  + node3']);
    expect(topologySort([{ name: 'x', role: 'replica' }]).map((m) => m.name)).toEqual(['+ x']);
  });

  it('selects members by role', () => {
    expect(membersWithRole(v, 'leader').map((m) => m.name)).toEqual(['node1']);
    expect(membersWithRole(v, 'standby-leader')).toEqual([]);
    expect(membersWithRole(v, 'replica').map((m) => m.name)).toEqual(['node2', 'node3']);
    expect(membersWithRole(v, 'any')).toHaveLength(3);
  });
});

describe('edit-config helpers', () => {
  const base = { ttl: 10, postgresql: { parameters: { max_connections: 100 }, use_slots: true } };

  it('sets dotted paths with YAML values, GUC names with dots, removes on empty value', () => {
    const out = applyConfigChanges(base, [
      'ttl=20',
      'postgresql.parameters.auto_explain.log_min_duration=5s',
      'postgresql.use_slots=',
      'synchronous_mode=on',
    ]);
    expect(out).toEqual({
      ttl: 20,
      synchronous_mode: true,
      postgresql: { parameters: { max_connections: 100, 'auto_explain.log_min_duration': '5s' } },
    });
    expect(base.ttl).toBe(10);
  });

  it('rejects a pair without "="', () => {
    expect(() => applyConfigChanges(base, ['nonsense'])).toThrow('Invalid parameter setting nonsense');
    expect(() => applyConfigChanges(base, [''])).toThrow(CliError);
  });

  it('patches like Patroni: null deletes, mappings merge', () => {
    expect(patchConfig({ a: 1, b: { c: 1, d: 2 } }, { a: null, b: { d: 3 }, e: [1] })).toEqual({
      b: { c: 1, d: 3 },
      e: [1],
    });
  });

  it('diffs like difflib.unified_diff', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nc\nd\n')).toEqual([
      '--- ',
      '+++ ',
      '@@ -1,3 +1,3 @@',
      ' a',
      '-b',
      ' c',
      '+d',
    ]);
    expect(unifiedDiff('x\n', 'x\n')).toEqual([]);
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'ttl: 10'].join('\n');
    const after = ['a2', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'ttl: 20'].join('\n');
    expect(unifiedDiff(before, after)).toEqual([
      '--- ',
      '+++ ',
      '@@ -1,4 +1,4 @@',
      '-a',
      '+a2',
      ' b',
      ' c',
      ' d',
      '@@ -7,4 +7,4 @@',
      ' g',
      ' h',
      ' i',
      '-ttl: 10',
      '+ttl: 20',
    ]);
  });
});

describe('argument validation', () => {
  it('checks choices with click-like messages and exit 2', () => {
    expect(parseFormat('json')).toBe('json');
    expect(() => parseFormat('xml')).toThrow(/Invalid value for '--format': 'xml' is not one of/);
    expect(parseRole(undefined, 'any')).toBe('any');
    for (const r of ROLES) expect(parseRole(r)).toBe(r);
    try {
      checkChoice('boss', ROLES, '--role');
      expect.unreachable();
    } catch (err) {
      expect((err as CliError).exitCode).toBe(2);
    }
    expect(parseSeconds('0.5', '--watch')).toBe(0.5);
    expect(() => parseSeconds('abc', '--watch')).toThrow(CliError);
  });

  it('parses scheduled timestamps as Python isoformat, rejects garbage', () => {
    expect(parseScheduled('now')).toBeNull();
    expect(parseScheduled(undefined)).toBeNull();
    const s = parseScheduled('2030-01-01T12:00+02:00')!;
    expect(s.iso).toBe('2030-01-01T12:00:00+02:00');
    expect(s.at.toISOString()).toBe('2030-01-01T10:00:00.000Z');
    expect(parseScheduled('2030-01-01 12:00:05.5Z')!.iso).toBe('2030-01-01T12:00:05.500000+00:00');
    expect(() => parseScheduled('tomorrow')).toThrow(/Unable to parse scheduled timestamp \(tomorrow\)/);
    expect(() => parseScheduled('2030-02-30T10:00')).toThrow(CliError);
  });

  it('builds the restart body and validates --pg-version', () => {
    expect(restartBody({})).toEqual({});
    expect(restartBody({ pending: true, pgVersion: '15.4', schedule: 'x', timeout: '30' })).toEqual({
      restart_pending: true,
      postgres_version: '15.4',
      schedule: 'x',
      timeout: '30',
    });
    expect(() => restartBody({ pgVersion: '15' })).toThrow(/Invalid PostgreSQL version format/);
  });

  it('reads --dcs-url and the ctl config', () => {
    expect(parseDcsUrl('etcd3://10.0.0.1:2380')).toEqual({ etcd3: { host: '10.0.0.1:2380' } });
    expect(parseDcsUrl('localhost')).toEqual({ etcd3: { host: 'localhost:2379' } });
    expect(() => parseDcsUrl('consul://x:8500')).toThrow(/etcd3 only/);
    expect(() => parseDcsUrl('foo://x')).toThrow('Unknown dcs scheme: foo');
    const cfg = loadCtlConfig({
      dcsUrl: 'etcd3://127.0.0.1:1234',
      env: {
        HOME: '/nonexistent',
        PATRONI_SCOPE: 's',
        PATRONI_RESTAPI_USERNAME: 'u',
        PATRONI_RESTAPI_PASSWORD: 'p',
      },
    });
    expect(cfg).toMatchObject({
      scope: 's',
      namespace: '/service/',
      etcd: { hosts: ['127.0.0.1:1234'], protocol: 'http' },
      rest: { auth: { username: 'u', password: 'p' }, insecure: false },
    });
    expect(() => loadCtlConfig({ configFile: '/nonexistent.yml', env: {} })).toThrow(
      'Provided config file /nonexistent.yml not existing or no read rights. Check the -c/--config-file parameter',
    );
  });
});
