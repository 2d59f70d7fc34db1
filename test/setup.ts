// Handlers log through Powertools; tests that assert on logs capture them explicitly.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_DEV ??= 'false';
