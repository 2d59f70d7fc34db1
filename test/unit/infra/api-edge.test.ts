import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEPLOYABLE,
  flatten,
  functionIds,
  functionProperties,
  logicalId,
  nagViolations,
  SYNTH_TIMEOUT_MS,
  synthesize,
  type Synthesized,
} from './helpers.js';

/** The value of an output with intrinsics as placeholders, e.g. `<HttpApiF5A9A8A7.ApiEndpoint>/zoom/callback`. */
const output = (template: Template, name: string): string => flatten(template.toJSON().Outputs[name]?.Value);

/** The one redirect URI every function is configured with. */
function redirectUriOfEveryFunction(synthesized: Synthesized): string {
  const uris = new Set(
    Object.values(functionIds(synthesized.stack)).map((id) =>
      flatten(functionProperties(synthesized.template, id).Environment.Variables.ZOOM_REDIRECT_URI),
    ),
  );
  expect(uris.size).toBe(1);
  return [...uris][0] as string;
}

describe('API edge with a custom domain and tuned limits', () => {
  const customDomain = {
    domainName: 'connect.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
  };
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({
      ...DEPLOYABLE,
      customDomain,
      throttleRateLimit: '20',
      throttleBurstLimit: 40,
      // As `-c routeThrottling=...` passes it: a JSON string. Routes left out keep their defaults.
      routeThrottling: '{"authorize": {"rateLimit": 5, "burstLimit": 10}, "webhook": {"burstLimit": 300}}',
      logRetentionDays: 90,
      healthSyncMinutes: '5',
    });
  }, SYNTH_TIMEOUT_MS);

  it('serves the API on the domain with the imported certificate, mapped at its root', () => {
    const { template } = synthesized;
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: customDomain.domainName,
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: customDomain.certificateArn, EndpointType: 'REGIONAL' })],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      DomainName: { Ref: logicalId(synthesized.stack.api.customDomain!) },
      ApiId: { Ref: logicalId(synthesized.stack.api.httpApi) },
      ApiMappingKey: Match.absent(),
    });
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.hasOutput('CustomDomainTarget', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] } });
  });

  it('uses the domain in the redirect URI, the connect URL and the webhook URL', () => {
    const { template } = synthesized;
    expect(output(template, 'ZoomRedirectUri')).toBe('https://connect.example.com/zoom/callback');
    expect(redirectUriOfEveryFunction(synthesized)).toBe('https://connect.example.com/zoom/callback');
    expect(output(template, 'ConnectUrl')).toBe('https://connect.example.com/zoom/authorize');
    expect(output(template, 'ZoomWebhookUrl')).toBe('https://connect.example.com/zoom/webhook');
    expect(output(template, 'ApiUrl')).toBe('https://connect.example.com');
  });

  it('throttles each route as configured, the others at their defaults, and keeps logs as configured', () => {
    const { template } = synthesized;
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      RouteSettings: {
        'GET /zoom/authorize': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
        'GET /zoom/callback': { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 },
        'POST /zoom/webhook': { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 300 },
        'GET /connections/{userId}': { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 },
        'DELETE /connections/{userId}': { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 },
      },
    });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(90);
    }
  });

  it('disables the execute-api endpoint: the domain is the only way in', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
  });

  it('runs the health sync at the configured interval', () => {
    synthesized.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ RetryPolicy: Match.objectLike({ MaximumEventAgeInSeconds: 5 * 60 }) })],
    });
  });

  it('warns about no placeholder once the app id and return URLs are set, and passes both cdk-nag packs', () => {
    Annotations.fromStack(synthesized.stack).hasNoWarning('/Test', Match.stringLikeRegexp('placeholder|example'));
    expect(nagViolations(synthesized.app)).toEqual([]);
  });
});

describe('API edge behind another host (explicit zoomRedirectUri), with a custom domain for the API itself', () => {
  const zoomRedirectUri = 'https://www.acme.test/integrations/zoom/callback';
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({
      ...DEPLOYABLE,
      customDomain: { domainName: 'connect.acme.test', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc-123' },
      zoomRedirectUri,
      keepExecuteApiEndpoint: 'true',
    });
  }, SYNTH_TIMEOUT_MS);

  it('keeps the execute-api endpoint reachable when the config opts out', () => {
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
  });

  it('makes it THE redirect URI, over the custom domain: the output and every function\'s configuration, byte for byte', () => {
    expect(output(synthesized.template, 'ZoomRedirectUri')).toBe(zoomRedirectUri);
    expect(redirectUriOfEveryFunction(synthesized)).toBe(zoomRedirectUri);
  });

  it('sends connect links through the same host and path prefix, where the binding cookie comes back', () => {
    expect(output(synthesized.template, 'ConnectUrl')).toBe('https://www.acme.test/integrations/zoom/authorize');
  });

  it('keeps the webhook and the IAM-authorized API on the API\'s own URL, which Zoom and SigV4 reach directly', () => {
    expect(output(synthesized.template, 'ZoomWebhookUrl')).toBe('https://connect.acme.test/zoom/webhook');
    expect(output(synthesized.template, 'ApiUrl')).toBe('https://connect.acme.test');
    expect(output(synthesized.template, 'ConnectionsEndpoint')).toBe('https://connect.acme.test/connections');
    expect(synthesized.template.toJSON().Outputs.ApiUrl.Description).toMatch(/see ConnectUrl/);
  });
});
