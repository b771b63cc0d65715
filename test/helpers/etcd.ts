export { type EtcdHandle, freePort, type StartEtcdOptions, startEtcd } from '../../src/local/etcd-server.ts';
