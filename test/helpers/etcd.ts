export { type EtcdHandle, type StartEtcdOptions, startEtcd } from '../../src/local/etcd-server.ts';
