// A real, standards-compliant OpenID Provider (panva/oidc-provider, pinned in package-lock.json) for
// Årshjul's single sign-on tests. The tests start it with node and talk to it over HTTP like Entra ID.
//
//   node op.js   env: OP_PORT (required), CLIENT_ID, CLIENT_SECRET,
//                     REDIRECT_URIS and POST_LOGOUT_REDIRECT_URIS (comma separated)
//
// * one confidential client (client_secret_basic) with exactly the redirect URIs given
// * authorization code flow; PKCE (S256) required of every client; nonce; RFC 9207 `iss`
// * the ID token carries sub, email, email_verified, name and groups (conformIdTokenClaims: false)
// * no UI: /interaction/:uid signs in the user named by login_hint (else the one set by
//   /__test/next-login, else "hr") and consents at once,
//   so a browser or plain HTTP completes the flow without clicks
// * test controls, on the loopback address only (this process never listens elsewhere):
//     POST /__test/users        {"id": "emp", "email": "...", "groups": ["..."]}   add or replace a user
//     POST /__test/next-login   {"id": "emp"}   who signs in when the request names nobody (login_hint)
//     POST /__test/tamper-next  {"aud": "other"} | {"exp": -600, "iat": -1200} | {"nonce": "x"}
//        the NEXT token response's ID token gets these claims (exp/iat in seconds relative to now)
//        and is signed again with the provider's own key, so only the claim itself is wrong
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';

const OP_PORT = Number(process.env.OP_PORT);
const ISSUER = `http://127.0.0.1:${OP_PORT}`;
const list = (value) => (value || '').split(',').filter(Boolean);

const users = new Map();

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(jwk, 'RS256');
let tamperNext = null;
let nextLogin = 'hr';

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: process.env.CLIENT_ID || 'aarshjul',
    client_secret: process.env.CLIENT_SECRET || 'test-client-secret',
    redirect_uris: list(process.env.REDIRECT_URIS),
    post_logout_redirect_uris: list(process.env.POST_LOGOUT_REDIRECT_URIS),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  // The provider's cookies share the browser's jar with Årshjul's (same host, other port): own names.
  cookies: { keys: ['test-cookie-key-not-secret'], names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_resume' } },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = users.get(id);
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: true, name: user.name || id, groups: user.groups || [] };
      },
    };
  },
});

function readJson(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => { try { resolve(data ? JSON.parse(data) : {}); } catch (e) { reject(e); } });
  });
}

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__test/') && ctx.method === 'POST') {
    const body = await readJson(ctx.req);
    if (ctx.path === '/__test/users') users.set(body.id, body);
    else if (ctx.path === '/__test/tamper-next') tamperNext = body;
    else if (ctx.path === '/__test/next-login') nextLogin = body.id;
    else ctx.throw(404);
    ctx.body = { ok: true };
    return;
  }
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (m && ctx.method === 'GET') {
    const { prompt, params, session, grantId } = await provider.interactionDetails(ctx.req, ctx.res);
    if (prompt.name === 'login') {
      const accountId = users.has(params.login_hint) ? params.login_hint : nextLogin;
      return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId } }, { mergeWithLastSubmission: false });
    }
    if (prompt.name === 'consent') {
      const grant = grantId ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    }
    ctx.throw(501, `prompt ${prompt.name} not implemented`);
  }
  await next();
  if (tamperNext && ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const changes = tamperNext;
    tamperNext = null;
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...decodeJwt(ctx.body.id_token) };
    for (const [key, value] of Object.entries(changes)) {
      claims[key] = key === 'exp' || key === 'iat' ? now + value : value;
    }
    const header = decodeProtectedHeader(ctx.body.id_token);
    ctx.body = { ...ctx.body, id_token: await new SignJWT(claims).setProtectedHeader(header).sign(signingKey) };
  }
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(OP_PORT, '127.0.0.1', () => console.log(`OP listening on ${ISSUER}`));
