// loopback.ts: whether a socket's remote address is this host's loopback, for endpoints that
// answer local callers only (the emulator's admin API, the driver's debug endpoints).
export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
