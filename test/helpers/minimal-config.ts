/** The smallest valid Patroni YAML: what the configuration tests start from and vary. */
export const MINIMAL_CONFIG = `
scope: s
name: n
restapi: {listen: ':8008', connect_address: '10.0.0.1:8008'}
etcd3: {host: e1}
postgresql:
  listen: '*:5432'
  connect_address: 10.0.0.1:5432
  data_dir: /d
  authentication: {superuser: {username: su}, replication: {username: rep}}
`;
