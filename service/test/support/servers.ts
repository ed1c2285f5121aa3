// The servers a test starts of its own (MariaDB, Redis, a Redis Cluster) live in the workspaces'
// test kit, which monitoring's tests start their Redis with too.
export { freePort } from '@sugang/testkit/ports'
export * from '@sugang/testkit/servers'
