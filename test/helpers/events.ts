import type { APIGatewayProxyEventV2, ScheduledEvent } from 'aws-lambda';

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

/** An EventBridge Scheduler invocation of a scheduled function (`rule` names its schedule). */
export function scheduledEvent(rule: string, time = '2026-11-30T18:00:00Z'): ScheduledEvent {
  return {
    version: '0',
    id: `c2f3b9a0-0000-4000-8000-${rule.padStart(12, '0').slice(-12)}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time,
    region: 'us-west-2',
    resources: [`arn:aws:events:us-west-2:123456789012:rule/${rule}`],
    detail: {},
  };
}
