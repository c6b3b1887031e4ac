// A real OpenID Connect provider for Conclave's single sign-on tests
// (crates/server/tests/api/identity/sso.rs starts it as a child process).
//
// Environment: PORT (to listen on 127.0.0.1), REDIRECT_URI (the one client's
// callback), optionally CLIENT_SECRET. The signing key is a fresh RSA key
// per run, published at the JWKS endpoint.
//
// Interactions are automated: GET /interaction/UID?account=ID signs in as
// that account (no password form), and consent is granted automatically
// for the one first-party client. Everything else is stock oidc-provider:
// discovery, authorization code flow with PKCE (required, S256), the token
// endpoint and RS256 ID tokens.

import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const redirectUri = process.env.REDIRECT_URI;
if (!port || !redirectUri) {
  console.error('set PORT and REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const accounts = {
  ann: { sub: 'ann', email: 'ann@example.com', email_verified: true, name: 'Ann Example', groups: ['sales'] },
  newcomer: { sub: 'newcomer', email: 'newcomer@example.com', email_verified: true, name: 'New Comer', groups: ['engineering', 'emea'] },
  leaver: { sub: 'leaver', email: 'leaver@example.com', email_verified: true, name: 'Lee Leaver', groups: [] },
  unverified: { sub: 'unverified', email: 'unverified@example.com', email_verified: false, name: 'Un Verified', groups: [] },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'conclave',
      client_secret: process.env.CLIENT_SECRET || 'conclave-test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  jwks: { keys: [signingKey] },
  cookies: { keys: ['conclave-test-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // Put the scope's claims in the ID token itself, as most enterprise
  // providers do, rather than only at the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => claims };
  },
  // First-party client: consent is implied.
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const account = String(ctx.query.account || '');
  if (details.prompt.name !== 'login' || !accounts[account]) {
    ctx.status = 400;
    ctx.body = { error: 'unexpected interaction', prompt: details.prompt.name, account };
    return undefined;
  }
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
  return undefined;
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
