import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface EventInput {
  method?: string;
  path: string;
  routeKey?: string;
  query?: Record<string, string>;
  cookies?: string[];
  pathParameters?: Record<string, string>;
}

/** An API Gateway HTTP API (payload 2.0) event, shaped as AWS sends it: cookies in `cookies`, not in headers. */
export function httpEvent({ method = 'GET', path, routeKey, query, cookies, pathParameters }: EventInput): APIGatewayProxyEventV2 {
  const rawQueryString = query ? new URLSearchParams(query).toString() : '';
  return {
    version: '2.0',
    routeKey: routeKey ?? `${method} ${path}`,
    rawPath: path,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers: { host: 'api.example.com', 'user-agent': 'vitest' },
    ...(query ? { queryStringParameters: query } : {}),
    ...(pathParameters ? { pathParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'vitest' },
      requestId: 'req-1',
      routeKey: routeKey ?? `${method} ${path}`,
      stage: '$default',
      time: '30/Nov/2026:18:00:00 +0000',
      timeEpoch: 1_796_061_600_000,
    },
    isBase64Encoded: false,
  };
}
