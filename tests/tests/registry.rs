//! The registry adapter against a real OCI distribution registry (Debian's `docker-registry`)
//! on 127.0.0.1: with an image pushed to it by the Docker engine, behind basic auth, behind
//! token auth with a token server written here (ACR's refresh-token exchange); and against
//! registries and token services that are down or failing.
//!
//! Longer than 400 lines: one service's cases (one real registry, its token server and the
//! stand-ins that fail) stay in one file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use adapters::image::{ContextFile, ImageBuilder, context_tar};
use adapters::registry::{Credentials, Error, Registry};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use model::{Repository, Secret};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::{X509, X509NameBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tests::registry::{LocalRegistry, free_port, push_small_image};

#[tokio::test(flavor = "multi_thread")]
async fn digest_of_a_pushed_image_matches_what_docker_pushed() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let Some(docker) = tests::docker_or_skip("registry").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), "");
    let repository: Repository = format!("127.0.0.1:{}/paktech-app", registry.port)
        .parse()
        .expect("repository");
    let tag = format!("{:040x}", rand::random::<u128>());

    // A small image of its own, pushed by the engine.
    let context = context_tar(
        vec![
            ContextFile {
                path: "Dockerfile".into(),
                mode: 0o644,
                contents: b"FROM scratch\nCOPY hello /hello\n".to_vec(),
            },
            ContextFile {
                path: "hello".into(),
                mode: 0o644,
                contents: tag.clone().into_bytes(),
            },
        ],
        0,
    )
    .expect("context");
    ImageBuilder::new(docker.clone())
        .build(
            &format!("{repository}:{tag}"),
            context,
            &HashMap::new(),
            |_| {},
        )
        .await
        .expect("build");
    let mut push = docker.push_image(
        repository.as_str(),
        Some(PushImageOptionsBuilder::new().tag(&tag).build()),
        None,
    );
    while let Some(item) = push.next().await {
        let info = item.expect("push");
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    let pushed = docker
        .inspect_image(&format!("{repository}:{tag}"))
        .await
        .expect("inspect")
        .repo_digests
        .unwrap_or_default();

    let adapter = Registry::for_repository(&repository, docker.clone(), None);
    let digest = adapter
        .digest(&repository, &tag)
        .await
        .expect("lookup")
        .expect("found");
    assert!(
        pushed.contains(&format!("{repository}@{digest}")),
        "{digest} not in {pushed:?}"
    );
    assert_eq!(
        adapter
            .digest(&repository, &"0".repeat(40))
            .await
            .expect("lookup"),
        None,
        "absent tag"
    );
}

#[tokio::test]
async fn basic_auth_is_used_and_refusals_are_clear() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret-pass", 4).expect("bcrypt");
    std::fs::write(&htpasswd, format!("robot:{hash}\n")).expect("htpasswd");
    let registry = LocalRegistry::start(
        dir.path(),
        &format!(
            "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
            htpasswd.display()
        ),
    );
    let repository: Repository = format!("127.0.0.1:{}/paktech-app", registry.port)
        .parse()
        .expect("repository");
    let docker =
        bollard::Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
            .expect("unused");

    let anonymous = Registry::for_repository(&repository, docker.clone(), None);
    let err = anonymous
        .digest(&repository, "latest")
        .await
        .expect_err("needs credentials");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("REGISTRY_USERNAME"), "{err}");

    let wrong = Registry::for_repository(
        &repository,
        docker.clone(),
        Some(Credentials::Basic {
            username: "robot".into(),
            password: Secret::new("nope"),
        }),
    );
    let err = wrong
        .digest(&repository, "latest")
        .await
        .expect_err("wrong password");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("REGISTRY_USERNAME"), "{err}");
    assert!(!format!("{err} {err:?}").contains("nope"));

    let right = Registry::for_repository(
        &repository,
        docker,
        Some(Credentials::Basic {
            username: "robot".into(),
            password: Secret::new("s3cret-pass"),
        }),
    );
    assert_eq!(
        right
            .digest(&repository, "latest")
            .await
            .expect("authenticated"),
        None
    );
}

#[tokio::test]
async fn a_registry_that_is_down_or_failing_is_a_clear_error() {
    let docker =
        bollard::Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
            .expect("unused");
    let down: Repository = format!("127.0.0.1:{}/paktech-app", free_port())
        .parse()
        .expect("repository");
    let err = Registry::for_repository(&down, docker.clone(), None)
        .digest(&down, "latest")
        .await
        .expect_err("down");
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");

    // A registry answering 500 to everything.
    let port = tests::failing_http_server().await;
    let failing: Repository = format!("127.0.0.1:{port}/paktech-app")
        .parse()
        .expect("repository");
    let err = Registry::for_repository(&failing, docker, None)
        .digest(&failing, "latest")
        .await
        .expect_err("500");
    assert!(matches!(err, Error::Status { status: 500, .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Token auth: Debian's docker-registry configured with `auth: token` (realm, service, issuer,
// rootcertbundle) in front of a token server written here. The registry checks our JWTs as
// distribution 2.8 does (registry/auth/token/token.go: RS256 signature, the `x5c` header's
// certificate chained to the bundle, `iss`, `aud` = service, `exp`/`nbf`, and the `access`
// claim against the request). The token server plays ACR's `/oauth2/token`: it hands out
// access tokens only for the refresh-token grant (`POST`, distribution's docs/spec/auth/oauth.md)
// or for Basic `00000000-0000-0000-0000-000000000000:<refresh token>` (`GET`, token.md).

const SERVICE: &str = "paktech-test-registry";
const ISSUER: &str = "paktech-test-token-issuer";
const REFRESH_TOKEN: &str = "acr-refresh-TOPSECRET-0123456789";

/// The token issuer's key and its self-signed certificate (the registry's root bundle).
struct Issuer {
    key: PKey<Private>,
    cert_der: Vec<u8>,
}

impl Issuer {
    fn new(dir: &Path) -> (Self, std::path::PathBuf) {
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", ISSUER).expect("cn");
        let name = name.build();
        let mut serial = BigNum::new().expect("bn");
        serial.rand(64, MsbOption::MAYBE_ZERO, false).expect("rand");
        let mut cert = X509::builder().expect("x509");
        cert.set_version(2).expect("v3");
        cert.set_serial_number(&serial.to_asn1_integer().expect("serial"))
            .expect("serial");
        cert.set_subject_name(&name).expect("subject");
        cert.set_issuer_name(&name).expect("issuer");
        cert.set_pubkey(&key).expect("pubkey");
        cert.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
            .expect("not before");
        cert.set_not_after(&Asn1Time::days_from_now(1).expect("time"))
            .expect("not after");
        cert.sign(&key, MessageDigest::sha256()).expect("sign");
        let cert = cert.build();
        let bundle = dir.join("token-issuer.pem");
        std::fs::write(&bundle, cert.to_pem().expect("pem")).expect("bundle");
        let cert_der = cert.to_der().expect("der");
        (Self { key, cert_der }, bundle)
    }

    /// A JWT granting `scope` (`repository:<name>:<actions>`, space-separated), as
    /// distribution 2.8 verifies it.
    fn jwt(&self, scope: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let access: Vec<serde_json::Value> = scope
            .split_whitespace()
            .filter_map(|s| {
                let (kind, rest) = s.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect();
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [STANDARD.encode(&self.cert_der)],
        });
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": "paktech-ci",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{:032x}", rand::random::<u128>()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).expect("signer");
        let signature = signer
            .sign_oneshot_to_vec(signing_input.as_bytes())
            .expect("signature");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// How the token server answers a `POST` (the OAuth2 form).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PostForm {
    Accepted,
    /// A realm that only takes `GET` (405), as a plain token.md server does.
    NotAllowed,
}

/// A token server on 127.0.0.1; returns its realm URL and the log of grants it saw
/// (`"refresh_token <service> <scope>"`, `"basic <service> <scope>"`, `"refused ..."`).
async fn token_server(issuer: Arc<Issuer>, post: PostForm) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let realm = format!(
        "http://{}/oauth2/token",
        listener.local_addr().expect("addr")
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (issuer, seen) = (Arc::clone(&issuer), Arc::clone(&seen));
            tokio::spawn(async move {
                let Some((method, target, headers, body)) = read_request(&mut socket).await else {
                    return;
                };
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let field = |pairs: &[(String, String)], key: &str| {
                    pairs
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let refuse = (401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_owned());
                let (status, body) = match (method.as_str(), path) {
                    ("POST", "/oauth2/token") if post == PostForm::NotAllowed => {
                        (405, String::new())
                    }
                    ("POST", "/oauth2/token") => {
                        let form: Vec<(String, String)> =
                            serde_urlencoded::from_str(&body).unwrap_or_default();
                        let (service, scope) = (field(&form, "service"), field(&form, "scope"));
                        if field(&form, "grant_type") == "refresh_token"
                            && field(&form, "refresh_token") == REFRESH_TOKEN
                            && service == SERVICE
                        {
                            seen.lock()
                                .expect("lock")
                                .push(format!("refresh_token {service} {scope}"));
                            let token = issuer.jwt(&scope);
                            (
                                200,
                                serde_json::json!({"access_token": token, "expires_in": 300})
                                    .to_string(),
                            )
                        } else {
                            seen.lock().expect("lock").push("refused post".to_owned());
                            refuse
                        }
                    }
                    ("GET", "/oauth2/token") => {
                        let query: Vec<(String, String)> =
                            serde_urlencoded::from_str(query).unwrap_or_default();
                        let (service, scope) = (field(&query, "service"), field(&query, "scope"));
                        let expected = format!(
                            "Basic {}",
                            STANDARD.encode(format!(
                                "00000000-0000-0000-0000-000000000000:{REFRESH_TOKEN}"
                            ))
                        );
                        let robot = format!("Basic {}", STANDARD.encode("robot:s3cret-pass"));
                        let basic = headers
                            .iter()
                            .any(|(k, v)| k == "authorization" && (*v == expected || *v == robot));
                        if basic && service == SERVICE {
                            seen.lock()
                                .expect("lock")
                                .push(format!("basic {service} {scope}"));
                            let token = issuer.jwt(&scope);
                            (200, serde_json::json!({"token": token}).to_string())
                        } else {
                            seen.lock().expect("lock").push("refused get".to_owned());
                            refuse
                        }
                    }
                    _ => (404, String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (realm, log)
}

/// Method, target, lowercased headers and body of one HTTP/1.1 request.
async fn read_request(
    socket: &mut tokio::net::TcpStream,
) -> Option<(String, String, Vec<(String, String)>, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let (method, target) = (
            request_line.next()?.to_owned(),
            request_line.next()?.to_owned(),
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if body.len() >= length {
            return Some((method, target, headers, body.to_owned()));
        }
    }
}

/// Debian's registry behind a token server of ours (`post` says how it answers the OAuth2
/// form), in a scratch folder: what each token-auth test starts from.
struct TokenAuth {
    registry: LocalRegistry,
    issuer: Arc<Issuer>,
    grants: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TokenAuth {
    async fn start(post: PostForm) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (issuer, bundle) = Issuer::new(dir.path());
        let issuer = Arc::new(issuer);
        let (realm, grants) = token_server(Arc::clone(&issuer), post).await;
        let registry = token_registry(dir.path(), &realm, &bundle);
        Self {
            registry,
            issuer,
            grants,
            _dir: dir,
        }
    }

    /// `name` in this registry.
    fn repository(&self, name: &str) -> Repository {
        format!("127.0.0.1:{}/{name}", self.registry.port)
            .parse()
            .expect("repository")
    }
}

/// A registry with token auth whose realm is `realm`.
fn token_registry(dir: &Path, realm: &str, bundle: &Path) -> LocalRegistry {
    LocalRegistry::start(
        dir,
        &format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            bundle.display()
        ),
    )
}

/// Pushes a small OCI image under `tag` with a push token minted directly; returns the
/// manifest's digest.
async fn push_image(issuer: &Issuer, port: u16, name: &str, tag: &str) -> String {
    let token = issuer.jwt(&format!("repository:{name}:pull,push"));
    push_small_image(port, name, tag, Some(&token))
        .await
        .to_string()
}

fn unused_docker() -> bollard::Docker {
    bollard::Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
        .expect("unused")
}

#[tokio::test]
async fn a_refresh_token_is_exchanged_at_the_realm_for_an_access_token() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let auth = TokenAuth::start(PostForm::Accepted).await;
    let (registry, grants) = (&auth.registry, &auth.grants);
    let repository = auth.repository("paktech-app");
    let tag = format!("{:040x}", rand::random::<u128>());
    let pushed = push_image(&auth.issuer, registry.port, "paktech-app", &tag).await;

    // The refresh token itself is no bearer token: the registry refuses it.
    let direct = reqwest::Client::new()
        .head(format!(
            "http://127.0.0.1:{}/v2/paktech-app/manifests/{tag}",
            registry.port
        ))
        .bearer_auth(REFRESH_TOKEN)
        .send()
        .await
        .expect("head");
    assert_eq!(direct.status().as_u16(), 401, "a refresh token as bearer");
    // Nor does it take a token signed by an issuer outside its bundle: it really checks.
    let stranger = Issuer::new(tempfile::tempdir().expect("tempdir").path()).0;
    let forged = reqwest::Client::new()
        .head(format!(
            "http://127.0.0.1:{}/v2/paktech-app/manifests/{tag}",
            registry.port
        ))
        .bearer_auth(stranger.jwt("repository:paktech-app:pull"))
        .send()
        .await
        .expect("head");
    assert_eq!(forged.status().as_u16(), 401, "a token from another issuer");

    let adapter = Registry::for_repository(
        &repository,
        unused_docker(),
        Some(Credentials::Bearer(Secret::new(REFRESH_TOKEN))),
    );
    let digest = adapter
        .digest(&repository, &tag)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(digest.to_string(), pushed);
    assert_eq!(
        adapter
            .digest(&repository, &"0".repeat(40))
            .await
            .expect("lookup"),
        None,
        "absent tag"
    );
    assert_eq!(
        grants.lock().expect("lock").first().map(String::as_str),
        Some(format!("refresh_token {SERVICE} repository:paktech-app:pull").as_str())
    );

    // Without credentials the registry's challenge is answered with a clear refusal.
    let err = Registry::for_repository(&repository, unused_docker(), None)
        .digest(&repository, &tag)
        .await
        .expect_err("anonymous");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn a_realm_without_the_oauth2_form_is_asked_with_basic_auth() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let auth = TokenAuth::start(PostForm::NotAllowed).await;
    let grants = &auth.grants;
    let repository = auth.repository("team/paktech-app");
    let pushed = push_image(&auth.issuer, auth.registry.port, "team/paktech-app", "v1").await;
    let digest = Registry::for_repository(
        &repository,
        unused_docker(),
        Some(Credentials::Bearer(Secret::new(REFRESH_TOKEN))),
    )
    .digest(&repository, "v1")
    .await
    .expect("lookup")
    .expect("found");
    assert_eq!(digest.to_string(), pushed);
    assert_eq!(
        *grants.lock().expect("lock"),
        [format!("basic {SERVICE} repository:team/paktech-app:pull")]
    );
}

#[tokio::test]
async fn a_username_and_password_get_a_token_from_the_realm() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let auth = TokenAuth::start(PostForm::Accepted).await;
    let grants = &auth.grants;
    let repository = auth.repository("paktech-app");
    let pushed = push_image(&auth.issuer, auth.registry.port, "paktech-app", "v2").await;
    let credentials = |password: &str| {
        Some(Credentials::Basic {
            username: "robot".into(),
            password: Secret::new(password),
        })
    };
    let digest = Registry::for_repository(&repository, unused_docker(), credentials("s3cret-pass"))
        .digest(&repository, "v2")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(digest.to_string(), pushed);
    assert_eq!(
        *grants.lock().expect("lock"),
        [format!("basic {SERVICE} repository:paktech-app:pull")]
    );
    let err = Registry::for_repository(&repository, unused_docker(), credentials("nope-WRONG"))
        .digest(&repository, "v2")
        .await
        .expect_err("wrong password");
    assert!(
        matches!(
            err,
            Error::Refused {
                status: Some(401),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("nope-WRONG"));
}

#[tokio::test]
async fn a_wrong_refresh_token_is_refused_without_printing_it() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let auth = TokenAuth::start(PostForm::Accepted).await;
    let repository = auth.repository("paktech-app");
    let wrong = "acr-refresh-WRONGSECRET-9876543210";
    let err = Registry::for_repository(
        &repository,
        unused_docker(),
        Some(Credentials::Bearer(Secret::new(wrong))),
    )
    .digest(&repository, "latest")
    .await
    .expect_err("wrong token");
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("REGISTRY_TOKEN"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("WRONGSECRET"), "the token leaked: {text}");
}

#[tokio::test]
async fn a_realm_that_is_down_is_a_clear_error() {
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, bundle) = Issuer::new(dir.path());
    let realm = format!("http://127.0.0.1:{}/oauth2/token", free_port());
    let registry = token_registry(dir.path(), &realm, &bundle);
    let repository: Repository = format!("127.0.0.1:{}/paktech-app", registry.port)
        .parse()
        .expect("repository");
    let err = Registry::for_repository(
        &repository,
        unused_docker(),
        Some(Credentials::Bearer(Secret::new(REFRESH_TOKEN))),
    )
    .digest(&repository, "latest")
    .await
    .expect_err("realm down");
    assert!(matches!(err, Error::TokenService { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&realm), "{text}");
    assert!(!text.contains("TOPSECRET"), "the token leaked: {text}");
}

#[tokio::test]
async fn attachments_are_written_with_a_push_token_from_the_same_challenge_logic() {
    use adapters::attachments::Attachments;
    use model::SignatureLayer;
    if !tests::require(tests::Service::Registry, "registry") {
        return;
    }
    let auth = TokenAuth::start(PostForm::Accepted).await;
    let repository = auth.repository("paktech-app");
    let pushed = push_image(&auth.issuer, auth.registry.port, "paktech-app", "v1").await;
    let subject = pushed.parse().expect("digest");
    let store = Attachments::for_repository(
        &repository,
        Path::new("/unused"),
        Some(Credentials::Bearer(Secret::new(REFRESH_TOKEN))),
    );
    let signature = SignatureLayer {
        payload: br#"{"critical":{}}"#.to_vec(),
        signature_b64: "c2ln".to_owned(),
    };
    store
        .put_signature(&repository, &subject, &signature)
        .await
        .expect("put signature");
    let sbom = store
        .put_sbom(&repository, &subject, b"{}")
        .await
        .expect("put sbom");
    assert_eq!(
        store
            .signatures(&repository, &subject)
            .await
            .expect("signatures"),
        vec![model::FoundSignature::Simple(signature)]
    );
    assert_eq!(
        store.sbom(&repository, &subject).await.expect("sbom"),
        Some((sbom, b"{}".to_vec()))
    );
    let grants = auth.grants.lock().expect("lock").clone();
    // distribution lists a challenge's actions from a Go map, so `pull,push` and `push,pull`
    // both occur: the token asked for must cover both, in either order.
    let scope = format!("refresh_token {SERVICE} repository:paktech-app:");
    assert!(
        grants
            .iter()
            .any(|g| g.strip_prefix(&scope).is_some_and(|actions| {
                let mut actions: Vec<_> = actions.split(',').collect();
                actions.sort_unstable();
                actions == ["pull", "push"]
            })),
        "a push token was asked for: {grants:?}"
    );
    assert!(
        !grants.iter().any(|g| g.contains(REFRESH_TOKEN)),
        "{grants:?}"
    );
}
