import { describe, expect, it } from 'vitest';
import { zoomIdentityOf, zoomIdentityOfConflict } from '../../../functions/adapters/zoom-identity.js';

describe('zoomIdentityOf', () => {
  it('keys a user-level credential by its Zoom user id, even when it also carries an account id', () => {
    expect(zoomIdentityOf({ id: 'cred-1', user_id: 'u1', account_id: 'a1' })).toBe('user#u1');
  });

  it('keys an account-level credential by its Zoom account id', () => {
    expect(zoomIdentityOf({ id: 'cred-1', user_id: null, account_id: 'a1' })).toBe('account#a1');
  });

  it('falls back to the Recall credential id when Recall names no Zoom identity', () => {
    expect(zoomIdentityOf({ id: 'cred-1', user_id: null, account_id: null })).toBe('credential#cred-1');
    expect(zoomIdentityOf({ id: 'cred-2' })).toBe('credential#cred-2');
  });
});

describe('zoomIdentityOfConflict', () => {
  it('gives the same key as the credential it conflicts with', () => {
    expect(zoomIdentityOfConflict({ user_id: 'u1' })).toBe(zoomIdentityOf({ id: 'x', user_id: 'u1', account_id: 'a1' }));
    expect(zoomIdentityOfConflict({ account_id: 'a1' })).toBe(zoomIdentityOf({ id: 'x', account_id: 'a1' }));
  });
});
