import * as z from 'zod/mini';

/** `/connections/{userId}`: the product's own user id, as it put it in the connect token's `sub`. */
export const ConnectionPathSchema = z.object({
  userId: z.string().check(z.minLength(1), z.maxLength(256)),
});
