declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0-16383) of a key: of its hash tag's content, when it has one. */
  function calculateSlot(key: string | Buffer): number
  export default calculateSlot
}
