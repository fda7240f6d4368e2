//! The OpenID Connect protocol of single sign-on (the `openidconnect` crate): an
//! organization's provider discovered (cached per issuer for [`DISCOVERY_TTL`]), the
//! authorization request with `state`, `nonce` and PKCE, the code exchanged with its verifier,
//! the ID token verified (signature against the provider's keys, issuer, audience, expiry,
//! nonce) and turned into [`SsoClaims`] — the organization's role claim from the ID token, or
//! from UserInfo when the token does not carry it —, and the provider's sign-out address.
//!
//! Nothing here decides who signs in: that is the engine's (`Engine::sign_in_sso`). Nothing
//! here logs a token, code, secret or claim value: a failure is an [`SsoError`], whose words
//! name only its kind.

use carepath_engine::domain::{SsoClaims, SsoSettings};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long a provider's discovery document and keys are kept before they are fetched again.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(300);
/// Entra ID's optional claim saying the e-mail address's domain is verified as the tenant's
/// (Entra sends no `email_verified`).
const ENTRA_EMAIL_VERIFIED: &str = "xms_edov";
/// How long a request to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a single sign-on did not go through. The words name the kind of failure only — never a
/// token, code, secret or claim value — so they may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider's discovery document or keys could not be read")]
    Discovery,
    #[error("the identity provider's discovery document is not usable (no token endpoint)")]
    NoTokenEndpoint,
    #[error("the sign-in came back without its flow cookie (expired, or another browser)")]
    NoFlow,
    #[error("the sign-in's state does not match the one this browser started")]
    StateMismatch,
    #[error("the sign-in came back from another issuer than the one it was sent to")]
    IssuerMismatch,
    #[error("the identity provider answered with an error")]
    ProviderError,
    #[error("the identity provider's answer held no authorization code")]
    NoCode,
    #[error("the authorization code could not be exchanged")]
    Exchange,
    #[error("the token response held no ID token")]
    NoIdToken,
    #[error("the ID token is not one")]
    Malformed,
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token is from another issuer")]
    Issuer,
    #[error("the ID token is for another audience")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token's nonce is not this sign-in's")]
    Nonce,
    #[error("the ID token was refused")]
    IdToken,
    #[error("the access token does not match the ID token's hash of it")]
    AccessTokenHash,
    #[error("the identity provider's UserInfo could not be read")]
    UserInfo,
    #[error("the organization's identity provider settings are not usable")]
    Settings,
}

impl SsoError {
    /// A short name of the kind, for the log.
    pub fn kind(self) -> &'static str {
        match self {
            SsoError::Discovery => "discovery",
            SsoError::NoTokenEndpoint => "no_token_endpoint",
            SsoError::NoFlow => "no_flow",
            SsoError::StateMismatch => "state_mismatch",
            SsoError::IssuerMismatch => "issuer_mismatch",
            SsoError::ProviderError => "provider_error",
            SsoError::NoCode => "no_code",
            SsoError::Exchange => "exchange",
            SsoError::NoIdToken => "no_id_token",
            SsoError::Malformed => "malformed_id_token",
            SsoError::Signature => "signature",
            SsoError::Issuer => "issuer",
            SsoError::Audience => "audience",
            SsoError::Expired => "expired",
            SsoError::Nonce => "nonce",
            SsoError::IdToken => "id_token",
            SsoError::AccessTokenHash => "at_hash",
            SsoError::UserInfo => "userinfo",
            SsoError::Settings => "settings",
        }
    }
}

/// Every claim of an ID token or UserInfo beyond the standard ones, kept as JSON: the
/// organization's role claim is one of them, named in its settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

impl OtherClaims {
    /// Whether the claim `claim` is true (a JSON boolean, or the string `"true"`).
    fn is_true(&self, claim: &str) -> bool {
        match self.0.get(claim) {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    /// Whether the provider vouches for the e-mail address: `email_verified` when it says,
    /// else Entra ID's `xms_edov` (the address's domain verified as the tenant's), which
    /// stands in for it there.
    fn email_verified(&self, email_verified: Option<bool>) -> bool {
        email_verified.unwrap_or_else(|| self.is_true(ENTRA_EMAIL_VERIFIED))
    }

    /// The values of `claim`: a string, or the strings of an array; `None` when absent.
    fn values(&self, claim: &str) -> Option<Vec<String>> {
        match self.0.get(claim)? {
            serde_json::Value::String(s) => Some(vec![s.clone()]),
            serde_json::Value::Array(a) => Some(
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            serde_json::Value::Null => None,
            _ => Some(Vec::new()),
        }
    }
}

type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type IdTokenClaims = openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>;
type TokenAnswer = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The HTTP client every request to a provider goes through: no redirects followed (a
/// discovery or token endpoint that redirects is refused, not followed — SSRF), a timeout, no
/// idle connections kept.
fn http() -> &'static openidconnect::reqwest::Client {
    static HTTP: LazyLock<openidconnect::reqwest::Client> = LazyLock::new(|| {
        openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            // A connection per request: a sign-in makes a handful, and a pooled connection
            // the provider has since closed would fail the one that reuses it.
            .pool_max_idle_per_host(0)
            .build()
            .expect("the identity provider HTTP client")
    });
    &HTTP
}

/// Discovered providers by issuer, each with when it was fetched.
type Discovered = HashMap<String, (Instant, Arc<ProviderMetadataWithLogout>)>;
static DISCOVERED: LazyLock<Mutex<Discovered>> = LazyLock::new(Default::default);

/// The provider at `issuer`: its discovery document and keys, from the cache while fresh.
async fn discover(issuer: &str) -> Result<Arc<ProviderMetadataWithLogout>, SsoError> {
    if let Some((at, metadata)) = DISCOVERED
        .lock()
        .expect("the discovery cache")
        .get(issuer)
        .cloned()
        && at.elapsed() < DISCOVERY_TTL
    {
        return Ok(metadata);
    }
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|_| SsoError::Settings)?;
    let metadata = ProviderMetadataWithLogout::discover_async(url, http())
        .await
        .map_err(|_| SsoError::Discovery)?;
    let metadata = Arc::new(metadata);
    let mut cache = DISCOVERED.lock().expect("the discovery cache");
    cache.retain(|_, (at, _)| at.elapsed() < DISCOVERY_TTL);
    cache.insert(issuer.to_owned(), (Instant::now(), metadata.clone()));
    Ok(metadata)
}

/// The organization's client at its provider, answering at `redirect`.
async fn client(
    settings: &SsoSettings,
    redirect: Option<&str>,
) -> Result<(OidcClient, Arc<ProviderMetadataWithLogout>), SsoError> {
    let metadata = discover(&settings.issuer).await?;
    let mut client = OidcClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    );
    if let Some(redirect) = redirect {
        let url = RedirectUrl::new(redirect.to_owned()).map_err(|_| SsoError::Settings)?;
        client = client.set_redirect_uri(url);
    }
    Ok((client, metadata))
}

/// A sign-in under way: what the browser keeps (in a short-lived cookie) between sending the
/// person to the provider and their coming back.
#[derive(Clone, PartialEq, Eq)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Flow { … }")
    }
}

/// The address to send the person to at the organization's provider, and the flow to keep.
pub async fn begin(settings: &SsoSettings, redirect: &str) -> Result<(String, Flow), SsoError> {
    let (client, _) = client(settings, Some(redirect)).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    };
    Ok((url.to_string(), flow))
}

/// A sign-in that went through: what the ID token says, and the ID token itself (the hint
/// for signing out at the provider).
pub struct Finished {
    pub claims: SsoClaims,
    pub id_token: String,
}

/// The person back from the provider with `code` (the state already checked against the
/// flow's, `iss` — when the provider sends it, RFC 9207 — against the issuer): the code
/// exchanged with the flow's verifier, the ID token verified, the claims read.
pub async fn finish(
    settings: &SsoSettings,
    redirect: &str,
    flow: &Flow,
    code: &str,
    iss: Option<&str>,
) -> Result<Finished, SsoError> {
    let (client, metadata) = client(settings, Some(redirect)).await?;
    if let Some(iss) = iss
        && iss.trim_end_matches('/') != metadata.issuer().as_str().trim_end_matches('/')
    {
        return Err(SsoError::IssuerMismatch);
    }
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| SsoError::NoTokenEndpoint)?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(http())
        .await
        .map_err(|_| SsoError::Exchange)?;
    let id_token = answer.id_token().ok_or(SsoError::NoIdToken)?;
    let verifier = client.id_token_verifier();
    let nonce = Nonce::new(flow.nonce.clone());
    let verified = id_token
        .claims(&verifier, &nonce)
        .map_err(verification_error)?;
    if let Some(expected) = verified.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|_| SsoError::Signature)?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|_| SsoError::Signature)?;
        let actual = AccessTokenHash::from_token(answer.access_token(), alg, key)
            .map_err(|_| SsoError::AccessTokenHash)?;
        if actual != *expected {
            return Err(SsoError::AccessTokenHash);
        }
    }
    let mut claims = claims_of(settings, verified);
    let role_missing = settings
        .role_claim
        .as_deref()
        .is_some_and(|c| verified.additional_claims().values(c).is_none());
    if (role_missing || claims.email.is_none())
        && let Ok(request) = client.user_info(
            answer.access_token().clone(),
            Some(verified.subject().clone()),
        )
    {
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(http())
            .await
            .map_err(|_| SsoError::UserInfo)?;
        fill_from_user_info(settings, &mut claims, &info, role_missing);
    }
    Ok(Finished {
        claims,
        id_token: id_token.to_string(),
    })
}

/// A raw ID token verified as the organization's client verifies the one its sign-in gets
/// back (signature against the provider's keys, issuer, audience, expiry, `nonce`), and its
/// claims as [`SsoClaims`] (the role claim from the token only).
pub async fn verify_id_token(
    settings: &SsoSettings,
    raw: &str,
    nonce: &str,
) -> Result<SsoClaims, SsoError> {
    let (client, _) = client(settings, None).await?;
    let token: IdToken = raw.parse().map_err(|_| SsoError::Malformed)?;
    let verified = token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(verification_error)?;
    Ok(claims_of(settings, verified))
}

/// A refused ID token, by kind (the library's words carry the values: not kept).
fn verification_error(e: ClaimsVerificationError) -> SsoError {
    match e {
        ClaimsVerificationError::Expired(_) => SsoError::Expired,
        ClaimsVerificationError::InvalidAudience(_) => SsoError::Audience,
        ClaimsVerificationError::InvalidIssuer(_) => SsoError::Issuer,
        ClaimsVerificationError::InvalidNonce(_) => SsoError::Nonce,
        ClaimsVerificationError::SignatureVerification(_) => SsoError::Signature,
        _ => SsoError::IdToken,
    }
}

/// What a verified ID token says of the person.
fn claims_of(settings: &SsoSettings, token: &IdTokenClaims) -> SsoClaims {
    SsoClaims {
        subject: token.subject().as_str().to_owned(),
        email: token.email().map(|e| e.as_str().to_owned()),
        email_verified: token
            .additional_claims()
            .email_verified(token.email_verified()),
        name: token
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        roles: settings
            .role_claim
            .as_deref()
            .and_then(|c| token.additional_claims().values(c))
            .unwrap_or_default(),
        amr: token
            .auth_method_refs()
            .map(|m| m.iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
        acr: token.auth_context_ref().map(|a| a.as_str().to_owned()),
    }
}

/// What UserInfo adds (its subject already checked to be the ID token's): the role claim the
/// ID token did not carry, and the e-mail address and name it did not give.
fn fill_from_user_info(
    settings: &SsoSettings,
    claims: &mut SsoClaims,
    info: &UserInfoClaims<OtherClaims, CoreGenderClaim>,
    role_missing: bool,
) {
    if role_missing && let Some(c) = settings.role_claim.as_deref() {
        claims.roles = info.additional_claims().values(c).unwrap_or_default();
    }
    if claims.email.is_none() {
        claims.email = info.email().map(|e| e.as_str().to_owned());
        claims.email_verified = info
            .additional_claims()
            .email_verified(info.email_verified());
    }
    if claims.name.is_none() {
        claims.name = info
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
    }
}

/// Where to send the person to sign out at the provider too (RP-initiated logout), when it
/// offers an `end_session_endpoint`: with the ID token as hint when kept, the client, and
/// `back` (the console's sign-in page) to come back to.
pub async fn end_session_url(
    settings: &SsoSettings,
    id_token: Option<&str>,
    back: &str,
) -> Result<Option<String>, SsoError> {
    let metadata = discover(&settings.issuer).await?;
    let Some(endpoint) = metadata.additional_metadata().end_session_endpoint.clone() else {
        return Ok(None);
    };
    let mut request = LogoutRequest::from(endpoint)
        .set_client_id(ClientId::new(settings.client_id.clone()))
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(back.to_owned()).map_err(|_| SsoError::Settings)?,
        );
    if let Some(token) = id_token.and_then(|t| t.parse::<IdToken>().ok()) {
        request = request.set_id_token_hint(&token);
    }
    Ok(Some(request.http_get_url().to_string()))
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_claim_is_a_string_or_an_array_of_strings() {
        let claims: OtherClaims = serde_json::from_value(serde_json::json!({
            "roles": ["a", "b", 3], "group": "g", "none": null, "n": 4
        }))
        .unwrap();
        assert_eq!(claims.values("roles"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(claims.values("group"), Some(vec!["g".into()]));
        assert_eq!(claims.values("none"), None);
        assert_eq!(claims.values("absent"), None);
        assert_eq!(claims.values("n"), Some(vec![]));
    }

    #[test]
    fn an_address_is_verified_by_email_verified_else_by_entras_xms_edov() {
        let none = OtherClaims::default();
        let edov: OtherClaims =
            serde_json::from_value(serde_json::json!({"xms_edov": true})).unwrap();
        let no_edov: OtherClaims =
            serde_json::from_value(serde_json::json!({"xms_edov": false})).unwrap();
        assert!(!none.email_verified(None));
        assert!(none.email_verified(Some(true)));
        assert!(edov.email_verified(None));
        assert!(
            !edov.email_verified(Some(false)),
            "the standard claim decides when sent"
        );
        assert!(!no_edov.email_verified(None));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn a_flow_is_not_printed() {
        let flow = Flow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
        };
        assert_eq!(format!("{flow:?}"), "Flow { … }");
    }
}
