import { describe, expect, it } from 'vitest';
import { deactivationConfirmation, isExternalContact, raisesPrivileges, roleChangeConfirmation } from './admin';

describe('confirmations before risky admin changes', () => {
  it.each([
    ['guest', 'owner', true],
    ['member', 'compliance', true],
    ['admin', 'member', false],
    ['compliance', 'guest', false],
  ] as const)('%s → %s raises privileges: %s', (from, to, raising) => {
    expect(raisesPrivileges(from, to)).toBe(raising);
  });

  it('says what a promotion gives', () => {
    const confirmation = roleChangeConfirmation('Gina Guest', 'guest', 'owner');
    expect(confirmation.title).toBe('Make Gina Guest an owner?');
    expect(confirmation.body).toContain('Gina Guest is a guest now.');
    expect(confirmation.body).toContain('full control of the workspace');
    expect(confirmation.confirmLabel).toBe('Make owner');
  });

  it('says what a demotion takes away', () => {
    const confirmation = roleChangeConfirmation('Dana Admin', 'admin', 'member');
    expect(confirmation.title).toBe('Make Dana Admin a member?');
    expect(confirmation.body).toContain('They lose what an admin may do.');
    expect(confirmation.confirmLabel).toBe('Change to member');
  });

  it('warns that deactivation signs the person out everywhere', () => {
    expect(deactivationConfirmation('Carol Clark').body).toContain('signed out everywhere at once');
  });

  it('tells WhatsApp customers from staff', () => {
    expect(isExternalContact({ email: 'wa-491701234567@whatsapp.invalid' })).toBe(true);
    expect(isExternalContact({ email: 'gina@example.com' })).toBe(false);
  });
});
