// Handlers log through Powertools; tests that assert on logs capture them explicitly.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_DEV ??= 'false';
// The functions run on Node.js 24 in Lambda; the SDK's notice about this machine's Node.js 20 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics are JSON lines on stdout (CloudWatch EMF); tests that assert on them turn them on and capture stdout.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
