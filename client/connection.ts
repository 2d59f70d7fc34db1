import * as z from 'zod/mini';

/** The statuses `GET /connections/{userId}` reports (kept equal to the service's own list by a unit test). */
export const CONNECTION_STATUSES = ['connected', 'revoked', 'unhealthy', 'disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Absent and `null` mean the same: no value (e.g. the Zoom ids after a deauthorization erased them). */
const nullableString = () =>
  z.pipe(
    z.optional(z.nullable(z.string())),
    z.transform((value) => value ?? null),
  );

/**
 * A user's connection as `GET` and `DELETE /connections/{userId}` return it. Fields the service may add later
 * are dropped, so a newer service never breaks an older client.
 */
export const ConnectionSchema = z.object({
  userId: z.string(),
  status: z.enum(CONNECTION_STATUSES),
  /** The Recall Zoom OAuth credential id: what bots are created with (`zoom_oauth_credential`). */
  recallCredentialId: z.string(),
  zoomAccountId: nullableString(),
  zoomUserId: nullableString(),
  oauthAppId: z.string(),
  connectedAt: z.string(),
  updatedAt: z.string(),
});
export type Connection = z.infer<typeof ConnectionSchema>;

/** The service's error body (`{error}`); its messages are written to be shown and carry no secret. */
export const ErrorBodySchema = z.object({ error: z.string() });
