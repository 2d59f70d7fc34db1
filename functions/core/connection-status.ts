/** The statuses of a connection record (its own module: the repository, events and the outbox all read it). */
export const CONNECTION_STATUSES = ['connected', 'revoked', 'unhealthy', 'disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Statuses in which a record still relies on its Recall credential. */
export const RELYING: ReadonlySet<ConnectionStatus> = new Set(['connected', 'unhealthy']);
