// connect-errors.ts: what a failed connection to the RDS means, in words an operator can act on.
// The socket and ssh2 report `connect ECONNREFUSED 127.0.0.1:1` or `Timed out while waiting for
// handshake`; the readiness reason and every RPC answered meanwhile say instead what happened,
// what it usually means and what to check. The caller prefixes what was tried (`host:port`).

/** Where to look on a RouterOS device when its SSH service does not answer as expected. */
const CHECK_SERVICE =
  'check that --rds-address names the RDS management address and its SSH port, that the RouterOS SSH service is enabled on that port and allows this address (/ip service print on the RDS), and that no firewall between here and the RDS blocks it';

const LOST_MEANING = `something other than the RouterOS SSH service may listen on that port, or the RDS refuses this address (the service's allowed addresses, a firewall rule, or too many sessions); ${CHECK_SERVICE}`;

/**
 * The operator's reading of a connection failure that happened before SSH was up, or undefined
 * when `error` is not one (the caller then reports the error as it is).
 */
export function explainConnectFailure(
  error: Error & { readonly code?: unknown; readonly level?: unknown },
  connectTimeoutMs: number,
): string | undefined {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `the connection was refused (ECONNREFUSED): nothing accepts connections on that port; ${CHECK_SERVICE}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `the host name does not resolve (${error.code}): check --rds-address for a typo, and that this host's DNS knows the name, or give the RDS's IP address`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `there is no route to the RDS (${error.code}): check the address and this host's network path to the RDS management network`;
    case 'ETIMEDOUT':
      return `the connection attempt timed out (ETIMEDOUT): nothing answered, so a firewall may drop the packets or the address is not the RDS's; ${CHECK_SERVICE}`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the connection was reset before SSH began (${error.code}): ${LOST_MEANING}`;
  }
  if (/Connection lost before handshake/.test(error.message))
    return `the connection was accepted, then closed before SSH began: ${LOST_MEANING}`;
  if (error.level === 'client-timeout' && /handshake/.test(error.message)) {
    return `no SSH handshake within ${connectTimeoutMs} ms: the port accepts connections but does not answer as an SSH server, or the RDS is overloaded; ${CHECK_SERVICE}; raise --rds-connect-timeout only if the RDS is merely slow`;
  }
  return undefined;
}
