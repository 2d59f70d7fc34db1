import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRecall } from '../../local/sandbox-recall.js';
import { doctor, runChecks } from '../../scripts/doctor.js';

/**
 * `npm run doctor`: every FAIL line driven by a misconfigured sandbox Recall (a real HTTP server), local mode through
 * its environment, a deployed stack through its config file and the AWS SDK mocked at its boundary.
 */
const APP_ID = '2d40abfe-c692-4723-b26f-869ebfbde4cf';
const KEY = 'doctor-test-recall-key-a1b2c3d4e5f6';
const ZOOM_CLIENT = 'doctor-zoom-client';
const WEBHOOK_TOKEN = 'doctor-webhook-secret-token-xyz789';
const TUNNEL = 'https://tunnel.example/zoom/callback';

type Fake = Awaited<ReturnType<typeof startFakeRecall>>;
const fakes: Fake[] = [];
async function fakeRecall(options: Parameters<typeof startFakeRecall>[0] = {}): Promise<Fake> {
  const fake = await startFakeRecall({ apiKey: KEY, oauthApp: { id: APP_ID, clientId: ZOOM_CLIENT, webhookSecret: WEBHOOK_TOKEN }, ...options });
  fakes.push(fake);
  return fake;
}
afterAll(async () => {
  await Promise.all(fakes.map((fake) => fake.close()));
});

/** Runs the command in-process; local mode's variables only as given (a free PORT, so no running server is used). */
async function run(argv: string[], env: Record<string, string> = {}, extra: Partial<Parameters<typeof doctor>[1]> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await doctor(argv, { env: { PORT: '4399', ...env }, cwd: process.cwd(), out: (l) => out.push(l), err: (l) => err.push(l), ...extra });
  const lines = out.join('\n').split('\n');
  return { code, lines, text: [...out, ...err].join('\n'), line: (name: string) => lines.find((l) => l.slice(5).startsWith(`${name}:`)) ?? '' };
}

/** Local mode pointed at a Recall other than the sandbox, set up correctly (the redirect URI on a tunnel). */
const external = (fake: Fake, overrides: Record<string, string> = {}) => ({
  RECALL_API_BASE_URL: fake.url,
  RECALL_API_KEY: KEY,
  RECALL_ZOOM_OAUTH_APP_ID: APP_ID,
  ZOOM_CLIENT_ID: ZOOM_CLIENT,
  ZOOM_WEBHOOK_SECRET_TOKEN: WEBHOOK_TOKEN,
  ZOOM_REDIRECT_URI: TUNNEL,
  ...overrides,
});

describe('npm run doctor -- --local', () => {
  it('passes on a fresh clone: local mode\'s defaults and the sandbox Recall (GET /api/v2/zoom-oauth-apps/{id}/)', async () => {
    const result = await run(['--local']);
    expect(result.code, result.text).toBe(0);
    expect(result.lines.filter((l) => l.startsWith('OK   '))).toHaveLength(8);
    expect(result.line('redirect URI')).toContain('"http://localhost:4399/zoom/callback"');
    expect(result.line('webhook URL')).toContain('"http://localhost:4399/zoom/webhook"');
    expect(result.lines.at(-1)).toBe('All 8 checks passed.');
  });

  it('passes against a correctly set up Recall, and never prints a secret', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake));
    expect(result.code, result.text).toBe(0);
    expect(result.line('Recall app kind')).toMatch(/^OK {3}Recall app kind: user_level/);
    for (const secret of [KEY, WEBHOOK_TOKEN]) expect(result.text).not.toContain(secret);
  });

  it('FAIL secrets: a placeholder or an empty value', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake, { RECALL_API_KEY: 'REPLACE_ME', ZOOM_WEBHOOK_SECRET_TOKEN: 'REPLACE_ME' }));
    expect(result.code).toBe(1);
    expect(result.line('secrets')).toMatch(/^FAIL secrets: recallApiKey, zoomWebhookSecretToken are empty or still REPLACE_ME/);
    expect(result.line('Recall API key')).toMatch(/^FAIL .*not checked: recallApiKey is not set/);
    expect(fake.state.requests).toHaveLength(0);
  });

  it('FAIL Recall API key: 401 means a bad key (and the key is not printed)', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake, { RECALL_API_KEY: 'wrong-key-0123456789' }));
    expect(result.code).toBe(1);
    expect(result.line('Recall API key')).toMatch(/^FAIL Recall API key: Recall at .* refused the API key \(HTTP 401\)/);
    expect(result.line('Zoom client id')).toMatch(/^FAIL .*not checked/);
    expect(result.text).not.toContain('wrong-key-0123456789');
  });

  it('FAIL Recall API key: 404 means the wrong region or app id', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake, { RECALL_ZOOM_OAUTH_APP_ID: '0b9f6a3e-1c2d-4e5f-8a7b-6c5d4e3f2a1b' }));
    expect(result.code).toBe(1);
    expect(result.line('Recall API key')).toMatch(/no Zoom OAuth App 0b9f6a3e-1c2d-4e5f-8a7b-6c5d4e3f2a1b \(HTTP 404\): the region .* or the app id is wrong/);
  });

  it('FAIL Recall API key: Recall cannot be reached', async () => {
    const fake = await fakeRecall();
    const url = fake.url;
    await fake.close();
    const result = await run(['--local'], external(fake, { RECALL_API_BASE_URL: url }));
    expect(result.line('Recall API key')).toMatch(/^FAIL Recall API key: could not reach Recall at .*\(ECONNREFUSED\)/);
  });

  it('FAIL Zoom client id: the Recall app holds another Zoom app\'s client id', async () => {
    const fake = await fakeRecall({ oauthApp: { id: APP_ID, clientId: 'another-zoom-app', webhookSecret: WEBHOOK_TOKEN } });
    const result = await run(['--local'], external(fake));
    expect(result.code).toBe(1);
    expect(result.line('Zoom client id')).toMatch(/^FAIL Zoom client id: the Recall app holds Zoom client id another-zoom-app, which is not the zoomClientId/);
  });

  it('reports the app kind: account_level', async () => {
    const fake = await fakeRecall({ appKind: 'account_level' });
    const result = await run(['--local'], external(fake));
    expect(result.line('Recall app kind')).toMatch(/^OK {3}Recall app kind: account_level/);
  });

  it('FAIL Zoom endpoint validation until Recall has seen one, which arrives through the webhook', async () => {
    const fake = await fakeRecall({ oauthApp: { id: APP_ID, clientId: ZOOM_CLIENT, webhookSecret: WEBHOOK_TOKEN, webhookLastValidation: null } });
    const before = await run(['--local'], external(fake));
    expect(before.code).toBe(1);
    expect(before.line('Zoom endpoint validation')).toMatch(/^FAIL .*never seen Zoom validate.*"?https:\/\/tunnel\.example\/zoom\/webhook/);

    // Zoom's validation, forwarded to Recall as the service's webhook does
    const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'plain-token-1' }, event_ts: Date.now() });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac('sha256', WEBHOOK_TOKEN).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    const forwarded = await fetch(`${fake.url}/api/v2/zoom-oauth-apps/${APP_ID}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-zm-request-timestamp': timestamp, 'x-zm-signature': signature },
      body,
    });
    expect(forwarded.status).toBe(200);

    const after = await run(['--local'], external(fake));
    expect(after.code, after.text).toBe(0);
    expect(after.line('Zoom endpoint validation')).toMatch(/^OK {3}Zoom endpoint validation: Recall last saw Zoom validate/);
  });

  it('FAIL redirect URI: a localhost redirect URI with a real Recall (its firewall refuses it)', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake, { ZOOM_REDIRECT_URI: 'http://localhost:4399/zoom/callback' }));
    expect(result.code).toBe(1);
    expect(result.line('redirect URI')).toMatch(/^FAIL redirect URI: "http:\/\/localhost:4399\/zoom\/callback" is a localhost URL/);
  });

  it('shows the redirect URI exactly, a trailing slash included', async () => {
    const fake = await fakeRecall();
    const result = await run(['--local'], external(fake, { ZOOM_REDIRECT_URI: `${TUNNEL}/` }));
    expect(result.line('redirect URI')).toContain(`register exactly "${TUNNEL}/"`);
    expect(result.line('redirect URI')).toContain('with a trailing slash');
  });

  it('FAIL return URLs: entries that are not https URLs', async () => {
    const result = await run(['--local'], { RETURN_URL_ALLOWLIST: 'http://app.example/,not a url,https://ok.example/x/' });
    expect(result.code).toBe(1);
    expect(result.line('return URLs')).toBe('FAIL return URLs: "http://app.example/", "not a url" are not https URLs (or http on localhost): write each entry as https://host/path/.');
  });

  it('exits 2 on usage errors: nothing, both modes, an unknown option, a malformed local variable', async () => {
    for (const argv of [[], ['--local', '--config', 'x.json'], ['--local', '--verbose']]) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.text).toContain('Usage: npm run doctor');
    }
    expect((await run(['--local'], { PORT: 'not-a-port' })).code).toBe(2);
    expect((await run(['--config', '/nonexistent/deploy.json'])).code).toBe(2);
  });
});

describe('npm run doctor -- --config <file> (a deployed stack)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const configFile = join(dir, 'prod.json');
  const cloudFormation = mockClient(CloudFormationClient);
  const secretsManager = mockClient(SecretsManagerClient);
  let fake: Fake;

  beforeAll(async () => {
    fake = await fakeRecall();
    writeFileSync(
      configFile,
      JSON.stringify({ stackName: 'RecallZoomConnect-doctor', awsRegion: 'eu-central-1', recallRegion: 'eu-central-1', recallZoomOAuthAppId: APP_ID, returnUrlAllowlist: ['https://app.example.com/settings/'], secretNamePrefix: 'recall-zoom-connect/doctor' }),
    );
  });
  afterEach(() => {
    cloudFormation.reset();
    secretsManager.reset();
  });
  afterAll(() => {
    cloudFormation.restore();
    secretsManager.restore();
    rmSync(dir, { recursive: true, force: true });
  });

  const outputs = [
    { OutputKey: 'ZoomRedirectUri', OutputValue: 'https://abc.execute-api.eu-central-1.amazonaws.com/zoom/callback' },
    { OutputKey: 'ZoomWebhookUrl', OutputValue: 'https://abc.execute-api.eu-central-1.amazonaws.com/zoom/webhook' },
    { OutputKey: 'RecallApiKeySecretName', OutputValue: 'recall-zoom-connect/doctor/recall-api-key' },
    { OutputKey: 'ZoomClientIdSecretName', OutputValue: 'recall-zoom-connect/doctor/zoom-client-id' },
    { OutputKey: 'ZoomWebhookSecretTokenSecretName', OutputValue: 'recall-zoom-connect/doctor/zoom-webhook-secret-token' },
  ];
  const deployed = () => run(['--config', configFile], {}, { recallBaseUrl: fake.url });

  it('passes with the stack\'s outputs and its three filled secrets, reading exactly those', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'RecallZoomConnect-doctor' }).resolves({ Stacks: [{ StackName: 'RecallZoomConnect-doctor', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    secretsManager
      .on(GetSecretValueCommand, { SecretId: 'recall-zoom-connect/doctor/recall-api-key' })
      .resolves({ SecretString: KEY })
      .on(GetSecretValueCommand, { SecretId: 'recall-zoom-connect/doctor/zoom-client-id' })
      .resolves({ SecretString: ZOOM_CLIENT })
      .on(GetSecretValueCommand, { SecretId: 'recall-zoom-connect/doctor/zoom-webhook-secret-token' })
      .resolves({ SecretString: WEBHOOK_TOKEN });

    const result = await deployed();

    expect(result.code, result.text).toBe(0);
    expect(result.line('redirect URI')).toContain('register exactly "https://abc.execute-api.eu-central-1.amazonaws.com/zoom/callback"');
    expect(result.line('secrets')).toBe('OK   secrets: no placeholders in the secrets recall-zoom-connect/doctor/*');
    for (const secret of [KEY, WEBHOOK_TOKEN]) expect(result.text).not.toContain(secret);
  });

  it('FAIL secrets: the secrets as the stack created them', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'x', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'REPLACE_ME' });

    const result = await deployed();

    expect(result.code).toBe(1);
    expect(result.line('secrets')).toMatch(/^FAIL secrets: recallApiKey, zoomClientId, zoomWebhookSecretToken are empty or still REPLACE_ME in the secrets recall-zoom-connect\/doctor\/\*/);
  });

  it('FAIL stack and secrets when none can be read; the redirect URI is then not known', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id RecallZoomConnect-doctor does not exist'), { name: 'ValidationError' }));
    secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('Secrets Manager can\'t find the specified secret.'), { name: 'ResourceNotFoundException' }));

    const result = await deployed();

    expect(result.code).toBe(1);
    expect(result.line('stack')).toMatch(/^FAIL stack: no stack RecallZoomConnect-doctor in this account and region/);
    expect(result.line('secret recallApiKey')).toMatch(/^FAIL secret recallApiKey: could not read recall-zoom-connect\/doctor\/recall-api-key .*\(ResourceNotFoundException\)/);
    expect(result.line('secret zoomWebhookSecretToken')).toMatch(/^FAIL secret zoomWebhookSecretToken: could not read recall-zoom-connect\/doctor\/zoom-webhook-secret-token /);
    expect(result.line('redirect URI')).toMatch(/^FAIL redirect URI: not known/);
  });

  it('FAIL deploy config: a config file the deploy would refuse', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ recallZoomOAuthAppId: 'not-a-uuid', returnUrlAllowlist: ['https://app.example.com/'] }));
    const result = await run(['--config', bad]);
    expect(result.code).toBe(1);
    expect(result.lines[0]).toMatch(/^FAIL deploy config: .*recallZoomOAuthAppId/);
  });
});

describe('runChecks', () => {
  it('FAIL Recall app kind for a kind it does not know', async () => {
    const app = { id: APP_ID, kind: 'team_level', client_id: ZOOM_CLIENT, webhook_last_validation: null };
    const results = await runChecks(
      {
        secretSource: 'test',
        secrets: { recallApiKey: KEY, zoomClientId: ZOOM_CLIENT, zoomWebhookSecretToken: WEBHOOK_TOKEN },
        recallBaseUrl: 'https://recall.invalid',
        recallChosenBy: 'test',
        recallAppId: APP_ID,
        redirectUri: TUNNEL,
        webhookUrl: 'https://tunnel.example/zoom/webhook',
        returnUrlAllowlist: ['https://app.example.com/'],
        allowLoopbackHttp: false,
        externalRecall: true,
        gatherFailures: [],
        notes: [],
      },
      async () => new Response(JSON.stringify(app), { status: 200, headers: { 'content-type': 'application/json' } }),
    );
    expect(results.find((r) => r.name === 'Recall app kind')).toEqual({ ok: false, name: 'Recall app kind', text: 'unknown kind "team_level": expected user_level or account_level.' });
  });
});
