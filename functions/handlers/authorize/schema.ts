import * as z from 'zod/mini';

/** `GET /zoom/authorize?connect_token=<JWT>`: the product's "Connect Zoom" link. */
export const AuthorizeQuerySchema = z.object({
  connect_token: z.string().check(z.minLength(1), z.maxLength(4096)),
});
export type AuthorizeQuery = z.infer<typeof AuthorizeQuerySchema>;
