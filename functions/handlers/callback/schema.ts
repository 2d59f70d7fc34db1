import * as z from 'zod/mini';

const param = (max: number) => z.optional(z.string().check(z.maxLength(max)));

/** `GET /zoom/callback?code&state` on consent, `?error=access_denied&state` on refusal. */
export const CallbackQuerySchema = z.object({
  state: param(512),
  code: param(2048),
  error: param(256),
});
