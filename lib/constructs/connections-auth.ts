import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type { DeployConfig } from '../config.js';

/** What a `/connections` route does: `read` is `GET`, `write` is `DELETE`. */
export type ConnectionsAccess = 'read' | 'write';

/** The authorization options of one `/connections` route (`addRoutes` takes them as they are). */
export interface ConnectionsRouteAuth {
  readonly authorizer: apigwv2.IHttpRouteAuthorizer;
  readonly authorizationScopes?: string[];
}

/**
 * How the product backend proves who it is on `GET|DELETE /connections/{userId}`:
 * - `iam` (the default): a SigV4 signature of a principal allowed `execute-api:Invoke` on the routes;
 * - `jwt`: a bearer token from the product's own OpenID Connect provider, checked by API Gateway's JWT authorizer
 *   (signature against the issuer's published keys, `iss`, `aud` or `client_id`, `exp`), with the configured scope
 *   required per route. No code of ours runs for it, and a request it refuses never reaches the function.
 * @param auth - the validated `connectionsAuth` of the deploy config
 * @returns the options for the route of each access: one authorizer shared by both routes
 */
export function connectionsRouteAuth(auth: DeployConfig['connectionsAuth']): (access: ConnectionsAccess) => ConnectionsRouteAuth {
  if (auth.type === 'iam') {
    const authorizer = new HttpIamAuthorizer();
    return () => ({ authorizer });
  }
  const authorizer = new HttpJwtAuthorizer('ConnectionsJwtAuthorizer', auth.issuer, {
    authorizerName: 'connections-jwt',
    jwtAudience: auth.audience,
    identitySource: ['$request.header.Authorization'],
  });
  const { scopes } = auth;
  return (access) => ({ authorizer, ...(scopes ? { authorizationScopes: [scopes[access]] } : {}) });
}

/** One line for descriptions and outputs: how a caller authenticates to `/connections`. */
export function describeConnectionsAuth(auth: DeployConfig['connectionsAuth']): string {
  if (auth.type === 'iam') {
    return 'IAM-authorized: sign requests with SigV4 (service execute-api) using a principal allowed execute-api:Invoke on this API';
  }
  const scopes = auth.scopes ? `, with scope ${auth.scopes.read} for GET and ${auth.scopes.write} for DELETE` : '';
  return `JWT-authorized: send Authorization: Bearer <token> from ${auth.issuer} for audience ${auth.audience.join(' or ')}${scopes}`;
}
