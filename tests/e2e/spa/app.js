// A single-page app as its authors would write it with oidc-client-ts: a public client,
// authorization code + PKCE S256, tokens kept in sessionStorage.
const { issuer } = window.PORTCULLIS;
const here = window.location.origin;
const manager = new oidc.UserManager({
  authority: issuer,
  client_id: 'spa',
  redirect_uri: `${here}/callback`,
  post_logout_redirect_uri: `${here}/signed-out`,
  response_type: 'code',
  scope: 'openid profile email offline_access',
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  automaticSilentRenew: false,
  // The ID token carries who and how (OpenID Connect Core §5.4: with an access token,
  // profile claims come from /userinfo); oidc-client-ts adds them to the profile.
  loadUserInfo: true,
  // Keep acr and amr in the profile (oidc-client-ts drops them by default): the app
  // shows how the person signed in.
  filterProtocolClaims: ['nbf', 'jti', 'nonce', 'azp', 'at_hash'],
});

const status = document.getElementById('status');
const output = document.getElementById('output');
const assurance = document.getElementById('assurance');
const show = (text) => { output.textContent = text; };

async function route() {
  const path = window.location.pathname;
  if (path === '/callback') {
    const params = new URLSearchParams(window.location.search);
    // RFC 9207 §2.4: the response must name the issuer we sent the person to.
    if (params.get('iss') !== issuer) {
      status.textContent = 'Sign-in refused: the response did not come from the expected issuer';
      return;
    }
    try {
      await manager.signinRedirectCallback(); // checks state, redeems the code (PKCE)
    } catch (e) {
      status.textContent = `Sign-in failed: ${e.error || e.message}`;
      return;
    }
    window.history.replaceState({}, '', '/');
  } else if (path === '/signed-out') {
    await manager.signoutRedirectCallback();
    window.history.replaceState({}, '', '/');
    status.textContent = 'You are signed out';
    return;
  }
  const user = await manager.getUser();
  status.textContent = user ? `Signed in as ${user.profile.name}` : 'Not signed in';
  // How the person signed in (OpenID Connect Core §2: acr and amr in the ID token).
  if (user) assurance.textContent = `Level ${user.profile.acr} by ${(user.profile.amr || []).join(', ')}`;
}

document.getElementById('sign-in').onclick = () => manager.signinRedirect();
// Before a payment: the app asks for the second factor (acr_values, OpenID Connect Core
// §3.1.2.1); Portcullis asks only for what is missing.
document.getElementById('step-up').onclick = () => manager.signinRedirect({
  acr_values: 'urn:portcullis:acr:mfa',
});
document.getElementById('sign-out').onclick = () => manager.signoutRedirect();
document.getElementById('userinfo').onclick = async () => {
  const user = await manager.getUser();
  // A cross-origin call with a bearer token: CORS preflight and all.
  const response = await fetch(`${issuer}/userinfo`, {
    headers: { authorization: `Bearer ${user.access_token}` },
  });
  const claims = await response.json();
  show(response.ok ? `Your email: ${claims.email}` : `Profile failed: ${claims.error}`);
};
document.getElementById('renew').onclick = async () => {
  const before = (await manager.getUser())?.access_token;
  try {
    const user = await manager.signinSilent(); // the refresh_token grant
    show(user.access_token !== before ? 'Renewed: a new access token' : 'Renewed, but the token is the same');
  } catch (e) {
    show(`Renewal failed: ${e.error || e.message}`);
  }
};

route().catch((e) => { status.textContent = `Error: ${e.message}`; });
