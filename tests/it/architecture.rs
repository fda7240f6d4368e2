//! ARCHITECTURE.md's boundaries, checked against the workspace's real dependency graph
//! (`cargo metadata`): each invariant there that a crate boundary enforces names its test here.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The workspace's packages and, from the resolved graph, each package's dependencies by kind.
struct Graph {
    /// package id → name
    names: BTreeMap<String, String>,
    /// package name → (dependency name, kinds: "normal", "dev", "build")
    deps: BTreeMap<String, Vec<(String, BTreeSet<String>)>>,
    members: BTreeSet<String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let names: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let members = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| names[id.as_str().unwrap()].clone())
        .collect();
    let mut deps = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].clone();
        let list = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                    .collect();
                (names[d["pkg"].as_str().unwrap()].clone(), kinds)
            })
            .collect();
        deps.insert(name, list);
    }
    Graph {
        names,
        deps,
        members,
    }
}

impl Graph {
    /// Workspace members that depend on `name` directly, in any kind.
    fn dependents(&self, name: &str) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|m| self.deps[*m].iter().any(|(d, _)| d == name))
            .cloned()
            .collect()
    }

    /// Direct dependencies of `name` that are built into it (normal kind).
    fn normal(&self, name: &str) -> BTreeSet<String> {
        self.deps[name]
            .iter()
            .filter(|(_, k)| k.contains("normal"))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Everything linked into `name`: the closure over normal dependencies.
    fn linked(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            for d in self.normal(&n) {
                if seen.insert(d.clone()) {
                    todo.push(d);
                }
            }
        }
        seen
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// "No adapter can name the store": the store's only dependent is the engine.
#[test]
fn only_the_engine_reaches_the_store() {
    let g = graph();
    assert_eq!(g.dependents("carepath-store"), set(&["carepath-engine"]));
    // Nor does any adapter reach the database underneath it.
    for adapter in [
        "carepath-graphql",
        "carepath-console",
        "carepath-relay",
        "carepath-engine",
        "carepath-simulate",
    ] {
        assert!(
            !g.normal(adapter).contains("sea-orm"),
            "{adapter} depends on sea-orm"
        );
    }
}

/// "The simulation reaches only the engine": no store, no database, no protocol; and the
/// product binary is what runs it.
#[test]
fn the_simulation_reaches_only_the_engine() {
    let g = graph();
    let normal = g.normal("carepath-simulate");
    let ours: BTreeSet<String> = normal
        .iter()
        .filter(|d| d.starts_with("carepath"))
        .cloned()
        .collect();
    assert_eq!(ours, set(&["carepath-engine", "carepath-report"]));
    for io in ["sea-orm", "lapin", "async-graphql", "axum"] {
        assert!(!normal.contains(io), "carepath-simulate depends on {io}");
    }
    assert!(g.normal("carepath").contains("carepath-simulate"));
}

/// "The console is an adapter like the API": it reaches only the engine (and the report's
/// rows of the measures) — no store, no database, no other protocol — and only it knows the
/// template engine.
#[test]
fn the_console_reaches_only_the_engine() {
    let g = graph();
    let normal = g.normal("carepath-console");
    let ours: BTreeSet<String> = normal
        .iter()
        .filter(|d| d.starts_with("carepath"))
        .cloned()
        .collect();
    assert_eq!(ours, set(&["carepath-engine", "carepath-report"]));
    for other in ["sea-orm", "lapin", "async-graphql"] {
        assert!(
            !normal.contains(other),
            "carepath-console depends on {other}"
        );
    }
    let askama: BTreeSet<String> = g
        .members
        .iter()
        .filter(|m| g.normal(m).contains("askama"))
        .cloned()
        .collect();
    assert_eq!(askama, set(&["carepath-console"]));
    assert!(g.normal("carepath").contains("carepath-console"));
}

/// The FHIR API is an adapter like the others: it reads through the engine and nothing
/// else, and it alone speaks FHIR (the `fhir` model crate is its own).
#[test]
fn the_fhir_api_reaches_only_the_engine() {
    let g = graph();
    let normal = g.normal("carepath-fhir");
    let ours: BTreeSet<String> = normal
        .iter()
        .filter(|d| d.starts_with("carepath"))
        .cloned()
        .collect();
    assert_eq!(ours, set(&["carepath-engine"]));
    for other in ["sea-orm", "lapin", "async-graphql", "askama"] {
        assert!(!normal.contains(other), "carepath-fhir depends on {other}");
    }
    let speaks_fhir: BTreeSet<String> = g
        .members
        .iter()
        .filter(|m| g.normal(m).contains("fhir"))
        .cloned()
        .collect();
    assert_eq!(speaks_fhir, set(&["carepath-fhir"]));
    assert!(g.normal("carepath").contains("carepath-fhir"));
}

/// The notifier is an adapter like the others: it takes what the engine decided to tell
/// (`Engine::claim_deliveries`, whose `Message` holds no client) and sends it; it reaches
/// nothing else — no store, no domain rule, no client record.
#[test]
fn the_notifier_reaches_only_the_engine() {
    let g = graph();
    let normal = g.normal("carepath-notify");
    let ours: BTreeSet<String> = normal
        .iter()
        .filter(|d| d.starts_with("carepath"))
        .cloned()
        .collect();
    assert_eq!(ours, set(&["carepath-engine"]));
    for other in ["sea-orm", "lapin", "async-graphql", "askama", "axum"] {
        assert!(
            !normal.contains(other),
            "carepath-notify depends on {other}"
        );
    }
    assert!(g.normal("carepath").contains("carepath-notify"));
    // Nothing in it reads a client: not the record, not the identity, not a view.
    for (path, text) in sources("notify/src") {
        for f in [
            "read_client",
            "care_record",
            "VisibleClient",
            "display_name",
            "ClientId",
        ] {
            assert!(!text.contains(f), "{path} names {f}");
        }
    }
}

/// "The domain is pure": no I/O crate, no clock, nothing but chrono, serde, uuid, thiserror.
#[test]
fn the_domain_is_pure() {
    let g = graph();
    assert_eq!(
        g.normal("carepath-domain"),
        set(&["chrono", "serde", "thiserror", "uuid"])
    );
    let linked = g.linked("carepath-domain");
    for io in ["tokio", "sea-orm", "lapin", "axum", "async-graphql"] {
        assert!(!linked.contains(io), "the domain links {io}");
    }
}

/// "Only relay/ knows AMQP" and "only graphql/ knows async-graphql", among the product's
/// crates (the load tool is no product crate).
#[test]
fn each_protocol_lives_in_its_adapter() {
    let g = graph();
    let product = g.linked("carepath");
    assert!(product.contains("lapin") && product.contains("async-graphql"));
    let amqp: BTreeSet<String> = g
        .members
        .iter()
        .filter(|m| g.normal(m).contains("lapin"))
        .cloned()
        .collect();
    assert_eq!(amqp, set(&["carepath-bench", "carepath-relay"]));
    let graphql: BTreeSet<String> = g
        .members
        .iter()
        .filter(|m| g.normal(m).contains("async-graphql"))
        .cloned()
        .collect();
    assert_eq!(graphql, set(&["carepath-graphql"]));
    // OpenID Connect is the console's sign-in protocol; hashing passwords and checking codes
    // are the engine's identity mechanics, under the domain's rules — no adapter does either.
    let by = |dep: &str| -> BTreeSet<String> {
        g.members
            .iter()
            .filter(|m| g.normal(m).contains(dep))
            .cloned()
            .collect()
    };
    assert_eq!(by("openidconnect"), set(&["carepath-console"]));
    assert_eq!(by("argon2"), set(&["carepath-engine"]));
    assert_eq!(by("totp-rs"), set(&["carepath-engine"]));
    // SMTP and the webhooks' signing are the notifier's: it alone sends what the engine
    // told people, out of the process.
    assert_eq!(by("lettre"), set(&["carepath-notify"]));
    assert_eq!(by("hmac"), set(&["carepath-notify"]));
}

/// "The load tool is out of the product": the binary links neither it nor its histogram; the
/// one HTTP client it links, reqwest, comes in only through the console's OpenID Connect
/// client (openidconnect's oauth2), for single sign-on, and the notifier, for webhooks.
#[test]
fn the_product_binary_links_no_load_tool() {
    let g = graph();
    let linked = g.linked("carepath");
    for tool in ["hdrhistogram", "carepath-bench"] {
        assert!(!linked.contains(tool), "carepath links {tool}");
    }
    let brings_reqwest: BTreeSet<String> = linked
        .iter()
        .filter(|p| g.normal(p).contains("reqwest"))
        .cloned()
        .collect();
    assert_eq!(
        brings_reqwest,
        set(&["carepath-notify", "oauth2"]),
        "what links reqwest into carepath"
    );
    assert!(
        g.names.values().any(|n| n == "reqwest"),
        "the graph is read"
    );
}

/// The Rust sources under `dir` (relative to the repository), but for test modules
/// (`tests.rs`), which may build a client's state to hand to the domain's own view.
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(p: &std::path::Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        &mut out,
    );
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// What a door may not name: a client's whole state, or the rules that cut it — each door
/// renders the `VisibleClient` the engine hands it, and decides nothing of what it shows. Read
/// from the code (`use` paths and calls), since the crate graph cannot see it: every adapter
/// depends on the engine, which re-exports the domain.
#[test]
fn no_door_cuts_its_own_view_of_a_client() {
    let forbidden = [
        "ClientState",
        ".shows(",
        "visible_referrals",
        "read_access",
        "referral_access",
        "view::cut",
        "visible_events",
        "consent_active",
        "active_consent_for",
    ];
    let mut found = Vec::new();
    for door in [
        "graphql/src",
        "console/src",
        "fhir/src",
        "relay/src",
        "notify/src",
    ] {
        for (path, text) in sources(door) {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for f in forbidden {
                    if code.contains(f) {
                        found.push(format!("{path}:{}: {f}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a door decides what a reader sees:\n{}",
        found.join("\n")
    );
}

/// "The engine hands out the domain's values, not its rules": the only parts of the domain the
/// engine re-exports are `model` (as its `domain`), the ids and the pathway model — so no door
/// can call `decide`, the policy's rules, the gates or the view's cutting.
#[test]
fn the_engine_re_exports_only_the_domains_values() {
    let lib = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/src/lib.rs"),
    )
    .unwrap();
    let exported: BTreeSet<&str> = lib
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pub use carepath_domain"))
        .collect();
    assert_eq!(
        exported,
        BTreeSet::from([
            "pub use carepath_domain::model as domain;",
            "pub use carepath_domain::ids;",
            "pub use carepath_domain::pathway::*;",
        ]),
        "the engine re-exports more of the domain than its values"
    );
}
