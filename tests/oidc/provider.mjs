// A real OpenID Connect provider for the console's single sign-on tests: the certified npm
// package `oidc-provider`, on 127.0.0.1 on a free port, with its own login page.
//
//   node provider.mjs CONFIG.json        (or the JSON itself as the argument)
//
// CONFIG: {
//   "clients":  [{ "client_id", "client_secret", "redirect_uris": [..], "post_logout_redirect_uris": [..] }],
//   "accounts": [{ "sub", "email", "email_verified", "name", "groups": [..], "amr": [..], "acr" }],
//   "id_token_claims": true,  // false: the ID token names only `sub` (and amr/acr), the rest is
//                             // in UserInfo — as providers that conform to Core 5.4 do
//   "id_token_ttl": 3600      // seconds an ID token is good for
// }
//
// Prints one JSON line {"issuer": "http://127.0.0.1:<port>"} on stdout once it answers, and
// stops on SIGTERM, SIGINT or when its standard input closes (the test that started it is gone).
// `PUT /test/accounts` replaces the accounts (a test changing what the provider says).
// The login page (GET /interaction/<uid>) takes a login name (an account's `sub` or e-mail)
// and any password; the account's `amr` and `acr` become the session's. Every client must use
// PKCE; consent is implied (first-party test clients).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The package is installed outside the clone (scripts/test: `npm ci --prefix` into
// $CAREPATH_OIDC_PROVIDER); beside this file otherwise.
const installed = process.env.CAREPATH_OIDC_PROVIDER;
const { default: Provider } = await import(installed
  ? pathToFileURL(createRequire(join(installed, 'package.json')).resolve('oidc-provider')).href
  : 'oidc-provider');

const arg = process.argv[2];
if (!arg) {
  console.error('usage: node provider.mjs CONFIG.json | \'{"clients": [...], "accounts": [...]}\'');
  process.exit(2);
}
const config = JSON.parse(arg.trimStart().startsWith('{') ? arg : readFileSync(arg, 'utf8'));
let accounts = config.accounts ?? [];
const idTokenClaims = config.id_token_claims ?? true;

const findAccount = (login) => accounts.find((a) => a.sub === login || (a.email && a.email === login));

// A signing key of this run's own.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'test-key' };

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const loginPage = (uid, problem) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test identity provider: sign in</title></head>
<body>
<h1>Test identity provider</h1>
${problem ? `<p role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <label>Login <input type="text" name="login" id="login" required autofocus></label>
  <label>Password <input type="password" name="password" id="password"></label>
  <button type="submit" id="sign-in">Sign in</button>
</form>
</body></html>`;

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; if (body.length > 65536) req.destroy(); });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris ?? [],
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['carepath-test-provider-cookie-key'] },
    pkce: { required: () => true },
    ttl: { IdToken: config.id_token_ttl ?? 3600 },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    claims: {
      sid: null,
      iss: null,
      // The session's `amr`, `acr` and `auth_time` in every ID token, as Entra ID and Okta do.
      openid: ['sub', 'groups', 'amr', 'acr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    conformIdTokenClaims: idTokenClaims === false,
    async findAccount(_ctx, id) {
      const account = findAccount(id);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        async claims() {
          const claims = { sub: account.sub };
          if (account.email !== undefined) claims.email = account.email;
          if (account.email_verified !== undefined) claims.email_verified = account.email_verified;
          if (account.name !== undefined) claims.name = account.name;
          if (account.groups !== undefined) claims.groups = account.groups;
          return claims;
        },
      };
    },
    // Consent is implied: every scope and claim asked for is granted.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
      grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'groups']);
      await grant.save();
      return grant;
    },
  });
  // Loopback over plain HTTP is what the tests use.
  provider.proxy = true;
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      // The test changes what the provider says of its people (`PUT /test/accounts`, the
      // accounts as JSON): a test harness's door, on loopback only.
      if (url.pathname === '/test/accounts' && req.method === 'PUT') {
        let body = '';
        for await (const chunk of req) body += chunk;
        accounts = JSON.parse(body);
        res.writeHead(204);
        return res.end();
      }
      const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (!m) return callback(req, res);
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1] || details.prompt.name !== 'login') {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end('unexpected interaction');
      }
      if (req.method === 'GET' && !m[2]) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(loginPage(details.uid));
      }
      if (req.method === 'POST' && m[2]) {
        const form = await readForm(req);
        const account = findAccount(form.get('login') ?? '');
        if (!account) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          return res.end(loginPage(details.uid, 'No such login.'));
        }
        const login = { accountId: account.sub, remember: false };
        if (account.amr) login.amr = account.amr;
        if (account.acr) login.acr = account.acr;
        return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      }
      res.writeHead(405, { 'content-type': 'text/plain' });
      return res.end('method not allowed');
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end(`interaction failed: ${err.name}`);
    }
  });

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// The test that started it may stop reading: not a reason to fail a request.
process.stdout.on('error', () => {});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
