//! GraphQL for the tools people use: the standard introspection query that GraphiQL, Python
//! `gql` and `graphql-inspector` send is answered while the limits still refuse deep and
//! wide queries, and GraphiQL is served whole by the server (no network beyond it).

use crate::server::TestServer;
use crate::support::Backend;
use carepath_engine::domain::Role;
use serde_json::{Value, json};

/// graphql-js 16.15 `getIntrospectionQuery({ descriptions: true, specifiedByUrl: true,
/// directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true })`, as
/// printed, less the blank lines and indentation; `typeDepth` is its default, 9.
const INTROSPECTION_QUERY: &str = r#"query IntrospectionQuery {
  __schema {
    description
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types {
      ...FullType
    }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) {
        ...InputValue
      }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) {
      ...InputValue
    }
    type {
      ...TypeRef
    }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) {
    ...InputValue
  }
  interfaces {
    ...TypeRef
  }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes {
    ...TypeRef
  }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}
fragment TypeRef on __Type {
  kind
  name
  ofType {
    name
    kind
    ofType {
      name
      kind
      ofType {
        name
        kind
        ofType {
          name
          kind
          ofType {
            name
            kind
            ofType {
              name
              kind
              ofType {
                name
                kind
                ofType {
                  name
                  kind
                  ofType {
                    name
                    kind
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}"#;

fn error_code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

fn error_message(r: &Value) -> String {
    r["errors"][0]["message"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_introspection_query_is_answered_and_the_limits_still_hold() {
    let s = TestServer::start_with(Backend::Sqlite, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let token = s.token(org, Role::CaseManager).await;
    let committed = include_str!("../../graphql/schema.graphql");
    // With and without a token, and with `isOneOf` (graphql-js `oneOf: true`).
    let one_of = INTROSPECTION_QUERY.replacen("specifiedByURL", "specifiedByURL\n  isOneOf", 1);
    for (who, query) in [
        (None, INTROSPECTION_QUERY),
        (Some(token.as_str()), INTROSPECTION_QUERY),
        (None, one_of.as_str()),
    ] {
        let r = s
            .post(
                who,
                json!({ "query": query, "operationName": "IntrospectionQuery", "variables": {} }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r:#}");
        let schema = &r["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], json!("Query"));
        assert_eq!(schema["mutationType"]["name"], json!("Mutation"));
        assert_eq!(schema["subscriptionType"]["name"], json!("Subscription"));
        let types: Vec<&str> = schema["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        // Every type of the committed SDL is there.
        for line in committed.lines() {
            for kw in [
                "type ",
                "input ",
                "enum ",
                "scalar ",
                "interface ",
                "union ",
            ] {
                if let Some(rest) = line.strip_prefix(kw) {
                    let name = rest.split([' ', '{', '=']).next().unwrap();
                    assert!(types.contains(&name), "{name} missing from {types:?}");
                }
            }
        }
        let client = schema["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == json!("Client"))
            .unwrap();
        assert!(client["fields"].as_array().unwrap().len() > 5, "{client:#}");
    }

    // The same query with one ordinary field beside it is held to the ordinary limits.
    let with_census =
        INTROSPECTION_QUERY.replacen("__schema {", "census { level }\n  __schema {", 1);
    let r = s.gql(Some(&token), &with_census, json!({})).await;
    assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
    assert!(error_message(&r).contains("nested too deep"), "{r:#}");
    assert!(r["data"].is_null(), "{r:#}");

    // A deep query that is not introspection is refused as before.
    let deep = format!(
        "{{ census {{ level }} __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(8),
        "}".repeat(8)
    );
    let r = s.gql(Some(&token), &deep, json!({})).await;
    assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
    assert!(error_message(&r).contains("nested too deep"), "{r:#}");

    // Introspection walking the schema's cycles 20 levels deep is refused, with or without a
    // token: by the one-expansion rule, and past it by the depth limit.
    let mut attack = String::from("name");
    for _ in 0..20 {
        attack = format!("fields {{ name type {{ name {attack} }} }}");
    }
    let attack = format!("{{ __type(name: \"Query\") {{ {attack} }} }}");
    for who in [None, Some(token.as_str())] {
        let r = s.gql(who, &attack, json!({})).await;
        assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
        assert!(error_message(&r).contains("at most 1 time"), "{r:#}");
        assert!(r["data"].is_null(), "{r:#}");
    }
    let twice = "{ __schema { types { fields { type { fields { type { name } } } } } } }";
    let r = s.gql(None, twice, json!({})).await;
    assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
    assert!(
        error_message(&r).contains("this one does it 2 times"),
        "{r:#}"
    );
    let ofs = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(20),
        "}".repeat(20)
    );
    let r = s.gql(None, &ofs, json!({})).await;
    assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
    assert!(error_message(&r).contains("nested too deep"), "{r:#}");
    // Copies of the schema under aliases are too complex.
    let copies: String = (0..120)
        .map(|i| format!("t{i}: types {{ fields {{ name }} }} "))
        .collect();
    let r = s
        .gql(None, &format!("{{ __schema {{ {copies} }} }}"), json!({}))
        .await;
    assert_eq!(error_code(&r), "BAD_INPUT", "{r:#}");
    assert!(error_message(&r).contains("too complex"), "{r:#}");

    // Introspection answers nothing else: an ordinary query still needs its token.
    let r = s.gql(None, "{ me { role } }", json!({})).await;
    assert_eq!(error_code(&r), "UNAUTHENTICATED", "{r:#}");
    let r = s.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(r, json!({ "data": { "__typename": "Query" } }));
}

/// The `src` and `href` attribute values of a page.
fn references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("a closing quote");
            refs.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    refs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_whole_by_the_server() {
    let s = TestServer::start_with(Backend::Sqlite, &[]).await;
    let http = reqwest::Client::new();
    let resp = http.get(format!("{}/graphql", s.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for part in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    // Styles: this server's, and the one element GraphiQL adds with the response's nonce.
    let nonce = csp
        .split("style-src 'self' 'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("a style nonce: {csp}"))
        .to_owned();
    assert!(nonce.len() >= 32, "{nonce}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    assert!(html.contains("GraphiQL"), "{html}");
    assert!(
        html.contains(&format!("content=\"{nonce}\"")),
        "the page hands GraphiQL its nonce: {html}"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//unpkg"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline: {html}"
    );
    let again = http.get(format!("{}/graphql", s.url)).send().await.unwrap();
    let csp_again = again.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        !csp_again.contains(&nonce),
        "each page has a nonce of its own"
    );

    let mut refs = references(&html);
    // The icon is empty and inline, so the browser asks for no /favicon.ico.
    refs.retain(|r| r != "data:,");
    assert_eq!(refs.len(), 6, "{refs:?}");
    let mut css = Vec::new();
    for r in &refs {
        assert!(
            r.starts_with('/') && !r.starts_with("//"),
            "{r} is not on this server"
        );
        let resp = http.get(format!("{}{r}", s.url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{r}");
        let h = resp.headers().clone();
        let want = if r.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            assert!(r.ends_with(".css"), "{r}");
            "text/css; charset=utf-8"
        };
        assert_eq!(h["content-type"], want, "{r}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{r}");
        let cache = h["cache-control"].to_str().unwrap();
        if r.contains("carepath-") {
            assert_eq!(cache, "no-cache", "{r}");
        } else {
            assert!(
                cache.contains("immutable") && cache.contains("max-age=31536000"),
                "{r}"
            );
        }
        // Revalidation answers 304 with no body.
        let etag = h["etag"].clone();
        let again = http
            .get(format!("{}{r}", s.url))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{r}");
        let body = resp.text().await.unwrap();
        assert!(body.len() > 50, "{r}");
        if r.ends_with(".css") {
            css.push(body);
        } else if r.contains("carepath-") {
            // Our start-up script names no other host.
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{body}"
            );
        }
    }
    // The stylesheets load nothing from elsewhere: every url() is inline data.
    for sheet in &css {
        assert!(!sheet.contains("@import"));
        let mut rest = sheet.as_str();
        while let Some(i) = rest.find("url(") {
            rest = &rest[i + 4..];
            let target = rest.trim_start_matches(['"', '\'']);
            assert!(
                target.starts_with("data:"),
                "{}",
                &target[..target.len().min(80)]
            );
        }
    }
    // The licenses are served beside the files; anything else is not found.
    let (status, license) = s.get("/graphql/assets/LICENSE.graphiql").await;
    assert_eq!(status, 200);
    assert!(license.contains("MIT License"));
    assert_eq!(s.get("/graphql/assets/nothing.js").await.0, 404);
    assert_eq!(s.get("/graphql/assets/..%2FCargo.toml").await.0, 404);
}

/// GraphiQL sends the Headers tab as the subscription's `connection_init` payload:
/// `{"Authorization": "Bearer …"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_takes_the_token_as_graphiql_sends_it() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let s = TestServer::start_with(Backend::Sqlite, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;
    let token = s.token(org, Role::CaseManager).await;
    for (payload, acked) in [
        (json!({ "Authorization": format!("Bearer {token}") }), true),
        (
            json!({ "Authorization": "Bearer PASTE-YOUR-TOKEN-HERE" }),
            false,
        ),
    ] {
        let mut req = (s.url.replacen("http://", "ws://", 1) + "/graphql/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws.send(Message::text(
            json!({ "type": "connection_init", "payload": payload }).to_string(),
        ))
        .await
        .unwrap();
        let answer = ws.next().await.unwrap().unwrap();
        if acked {
            assert!(
                answer.to_text().unwrap().contains("connection_ack"),
                "{answer:?}"
            );
        } else {
            match answer {
                Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4403),
                other => panic!("expected a 4403 close: {other:?}"),
            }
        }
    }
}
