"""Patroni 3.0.2's own create_replica (patroni/postgresql/bootstrap.py), run on a spec from stdin.

Everything around it is a stand-in (no PostgreSQL, no DCS): the commands it would run are
recorded instead, each answered with the next exit code of the spec. Prints the result and the
calls as JSON, so that test/unit/replica-methods.test.ts compares pgwarden's choices with them.
"""
import copy
import json
import sys
import time

from patroni.dcs import Member
from patroni.postgresql.bootstrap import Bootstrap
from patroni.postgresql.config import ConfigHandler

spec = json.load(sys.stdin)
calls = []
time.sleep = lambda _seconds: None  # pg_basebackup's retry pause


class Cancellable:
    is_cancelled = False

    def call(self, args, env=None):
        calls.append({'argv': args, 'pgpass': bool(env and env.get('PGPASSFILE'))})
        return spec['codes'].pop(0) if spec['codes'] else 1


class Config:
    replication = spec['replication']

    def write_pgpass(self, _params):
        return {'PGPASSFILE': 'pgpass'}

    def format_dsn(self, params, include_dbname=False):
        owner = type('Owner', (), {'_postgresql': type('Pg', (), {'database': 'postgres'})()})()
        return ConfigHandler.format_dsn(owner, params, include_dbname)


class Postgresql:
    scope = spec['scope']
    data_dir = spec['data_dir']
    config = Config()
    cancellable = Cancellable()
    options = spec['postgresql']

    @property
    def create_replica_methods(self):
        return self.options.get('create_replica_methods', []) or self.options.get('create_replica_method', [])

    def replica_method_options(self, method):
        return copy.deepcopy(self.options.get(method, {}))

    def replica_method_can_work_without_replication_connection(self, method):
        opts = self.replica_method_options(method)
        return method != 'basebackup' and (opts.get('no_master') or opts.get('no_leader'))

    def set_state(self, _state):
        pass

    def schedule_sanity_checks_after_pause(self):
        pass

    def data_directory_empty(self):
        return True

    def remove_data_directory(self):
        pass

    def pgcommand(self, name):
        return name


member = Member(0, 'leader', None, {'conn_url': spec['conn_url']}) if spec['conn_url'] else None
ret = Bootstrap(Postgresql()).create_replica(member)
print(json.dumps({'ret': ret, 'calls': calls}))
