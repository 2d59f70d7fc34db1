import { AWS_FUNCTION_ENV } from '../env.js';

/** The Recall Zoom OAuth app the fakes' records and credentials belong to unless a test says otherwise (the handlers' own). */
export const TEST_OAUTH_APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
/** The Zoom user and account the fakes' records and credentials belong to unless a test says otherwise. */
export const TEST_ZOOM_USER = 'zu-1';
export const TEST_ZOOM_ACCOUNT = 'za-1';
