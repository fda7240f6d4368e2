//! The command line.

use crate::config::{Config, Overrides};
use crate::startup::{self, open_engine as engine};
use crate::{seed, telemetry};
use anyhow::Context as _;
use carepath_engine::domain::{Actor, MatService, Role};
use carepath_engine::ids::{OrgId, StaffId};
use carepath_engine::pathway;
use carepath_engine::pathway::LevelId;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "carepath",
    version,
    about = "Continuum-of-care referral and handoff engine"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./carepath.toml when present.
    #[arg(long, global = true, env = "CAREPATH_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the engine: HTTP API, timers (migrates the database first).
    Serve {
        /// Run on a skipped clock that only the admin mutation advanceClock moves (tests,
        /// training; never production). The database is marked for it when first served: a
        /// normal serve refuses it afterwards, and this refuses a database served normally.
        /// [env: CAREPATH_TIME_SKIPPING]
        #[arg(long)]
        time_skipping: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Care pathway files.
    Workflows {
        #[command(subcommand)]
        command: WorkflowsCmd,
    },
    /// Create a small demo network: providers at each level, clients mid-journey.
    SeedDemo,
    /// Walk a synthetic cohort through the engine on a skipped clock and check the
    /// invariants it promises (exits non-zero when one fails). On a new SQLite file in a
    /// temporary directory unless --database-url names an empty database; --amqp-url also
    /// runs the relay and compares what it published with the store.
    Simulate(Box<SimulateArgs>),
    /// People: an organization's staff accounts (the first admin, invitations, reset links,
    /// roles, deactivation), its single sign-on, and the sign-in audit.
    Staff {
        #[command(subcommand)]
        command: StaffCmd,
    },
    /// Notifications: an organization's webhooks, and its own rules for who is told what.
    Notices {
        #[command(subcommand)]
        command: NoticesCmd,
    },
    /// API tokens: the service accounts systems use (a person signs in to the console as
    /// themselves, never with a token).
    Tokens {
        #[command(subcommand)]
        command: TokensCmd,
    },
    /// Organizations.
    Orgs {
        #[command(subcommand)]
        command: OrgsCmd,
    },
    /// Print the GraphQL schema (SDL), as committed in graphql/schema.graphql.
    GraphqlSchema,
    /// Measures of continuity (referrals, handoffs, FUI-7/30, MOUD continuity, discharges,
    /// lost to care) for items starting in [from, to): every organization's clients, or one
    /// organization's.
    Measures {
        /// From this moment on (RFC 3339, or a date: its start in UTC); default: 30 days
        /// before `to`.
        #[arg(long, value_parser = parse_moment)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this moment (RFC 3339, or a date); default: now (the database's clock).
        #[arg(long, value_parser = parse_moment)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Only the clients whose records this organization holds.
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Only referrals and handoffs to this provider, discharges and follow-ups from it.
        #[arg(long)]
        provider: Option<uuid::Uuid>,
        /// Only this level (as `--provider`).
        #[arg(long)]
        level: Option<String>,
        /// csv or table.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// A client's 42 CFR Part 2 accounting of disclosures (§2.24) as CSV on standard output:
    /// when, to whom, what, under which consent or other legal basis.
    Disclosures {
        /// Client id.
        #[arg(long)]
        client: uuid::Uuid,
        /// From this moment on (RFC 3339, or a date: its start in UTC).
        #[arg(long, value_parser = parse_moment)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this moment (RFC 3339, or a date: its start in UTC).
        #[arg(long, value_parser = parse_moment)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Clients in the cohort (admitted over the window, evenly at random).
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Days simulated.
    #[arg(long, default_value_t = 180)]
    days: u32,
    /// The seed: the same seed and flags give the same report (but for time and memory).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The first simulated day (UTC).
    #[arg(long, default_value = "2026-01-05")]
    start: chrono::NaiveDate,
    /// Clients acting at once at one moment (their writes share commits).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// `text`, or `json` (the report as one JSON object).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    #[command(flatten)]
    rates: carepath_simulate::Rates,
}

#[derive(Debug, Subcommand)]
enum NoticesCmd {
    /// Add a webhook for an organization (https://, or http:// to this machine): its id and
    /// its Standard Webhooks signing secret are printed once.
    WebhookAdd {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        url: String,
    },
    /// An organization's webhooks (CSV): id, URL, on, failures in a row, turned off at.
    WebhookList {
        #[arg(long)]
        org: uuid::Uuid,
    },
    /// Remove one of an organization's webhooks.
    WebhookRemove {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Turn a webhook that was turned off after failing on again.
    WebhookEnable {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// An organization's own rule for one kind of notice: off, or its own silence deadline
    /// before it escalates to the supervisors; with neither, the shipped default again.
    Rule {
        #[arg(long)]
        org: uuid::Uuid,
        /// referral_arrived, referral_expiring, client_on_the_way, waitlist_slot,
        /// group_escalated, client_did_not_arrive, lost_to_care, followup_missed, mat_lapsing,
        /// booking_needed, booking_missed.
        #[arg(long)]
        kind: String,
        /// Tell nobody of this kind.
        #[arg(long)]
        off: bool,
        /// Escalate after this many minutes unopened and unanswered.
        #[arg(long, conflicts_with = "never_escalate")]
        escalate_after_minutes: Option<u32>,
        /// Never escalate this kind.
        #[arg(long)]
        never_escalate: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StaffCmd {
    /// Make an organization's first admin: their account, and an invitation link printed
    /// once (send it to them; it works once, for 7 days).
    CreateAdmin {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Invite a person to an organization in a role: the invitation link is printed once.
    Invite {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// case_manager, supervisor, partner, aftercare_coordinator, payer or admin.
        #[arg(long)]
        role: String,
    },
    /// An organization's people (CSV): id, name, e-mail, role, status, TOTP, SSO, last sign-in.
    List {
        #[arg(long)]
        org: uuid::Uuid,
    },
    /// A new single-use link for a person (an invitation again if never accepted, else a
    /// password reset), printed once; it also lifts a lock.
    Link {
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Give a person another role (their sessions end).
    SetRole {
        #[arg(long)]
        id: uuid::Uuid,
        #[arg(long)]
        role: String,
    },
    /// Deactivate a person: every session and token of theirs ends at once.
    Deactivate {
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Reactivate a person (a new invitation link is printed if they never set a password).
    Reactivate {
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// The sign-in audit (CSV, newest first): one organization's, or with no --org every
    /// line, failures under unknown addresses too.
    Audit {
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// At most this many lines.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
    /// Let an organization's people sign in through its identity provider (OpenID Connect).
    SsoSet {
        #[arg(long)]
        org: uuid::Uuid,
        /// The issuer URL (discovery at <issuer>/.well-known/openid-configuration).
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// The client secret (better from the environment than the command line).
        #[arg(long, env = "CAREPATH_SSO_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// The ID-token claim holding roles or groups (e.g. roles, groups).
        #[arg(long)]
        role_claim: Option<String>,
        /// A claim value and the role it gives, as VALUE=ROLE (repeatable).
        #[arg(long = "role", value_name = "VALUE=ROLE")]
        roles: Vec<String>,
        /// Make an account on a first sign-in by someone not invited.
        #[arg(long)]
        provision: bool,
        /// Require the provider's own second factor (amr names one, or acr is --acr).
        #[arg(long)]
        require_mfa: bool,
        #[arg(long)]
        acr: Option<String>,
    },
    /// Turn an organization's single sign-on off.
    SsoClear {
        #[arg(long)]
        org: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCmd {
    /// Create a bearer token for an organization and role; it is printed once, stored hashed.
    Create {
        /// Organization id.
        #[arg(long)]
        org: uuid::Uuid,
        /// admin, case_manager, partner, aftercare_coordinator, supervisor or payer.
        #[arg(long)]
        role: String,
        /// The person's name (or a desk's), as colleagues know them: the name the API and
        /// the console show for the staff member. With --staff, left out: the name their
        /// newest named token carries.
        #[arg(long)]
        label: Option<String>,
        /// Days the token is valid (default: the configuration's token_days, 90).
        #[arg(long)]
        days: Option<u32>,
        /// Another token for a staff member who has one (rotation: the staff id from
        /// `tokens list`); without it the token is a new person's.
        #[arg(long)]
        staff: Option<uuid::Uuid>,
    },
    /// Every token: id, staff member, organization, role, label, created, expires, revoked
    /// (never the token itself).
    List,
    /// Revoke a token by its id (from `tokens list`): refused at once, on every process.
    Revoke {
        #[arg(long)]
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum OrgsCmd {
    /// Every organization (CSV): id, name, the levels it offers with their capacity, its MAT
    /// services.
    List,
    /// Let a RabbitMQ user speak for an organization on the inbound queue, and restrict it on
    /// the broker to that organization's events and queues (through the management API).
    LinkAmqpUser {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        user: String,
    },
    /// Register an organization; prints its id.
    Create {
        #[arg(long)]
        name: String,
        /// Levels it offers, as LEVEL=CAPACITY (repeatable), e.g. --offers iop=40.
        #[arg(long)]
        offers: Vec<String>,
        /// MAT services it provides, comma-separated: otp (methadone dosing), prescriber
        /// (prescriber visits, refills), pharmacy (refills), injection (extended-release
        /// naltrexone); e.g. --mat-services otp,prescriber. A MAT booking goes only to an
        /// organization that provides its service.
        #[arg(long, value_delimiter = ',', value_parser = parse_mat_service)]
        mat_services: Vec<MatService>,
        /// Its time zone, an IANA name (America/New_York): its people see and type times in
        /// it on the console. Left out: UTC.
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Set an organization's time zone, an IANA name (America/New_York).
    SetTimeZone {
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        time_zone: String,
    },
    /// Set the MAT services an organization provides, replacing those it had.
    SetMatServices {
        #[arg(long)]
        org: uuid::Uuid,
        /// Comma-separated, as for `orgs create`; left out, the organization provides none.
        #[arg(long, value_delimiter = ',', value_parser = parse_mat_service)]
        mat_services: Vec<MatService>,
    },
}

#[derive(Debug, Subcommand)]
enum WorkflowsCmd {
    /// Validate pathway files; print each level's crosswalk on success.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs a command. A reader that stopped early (`carepath measures | head`) is no error: the
/// output nobody reads is dropped and the command succeeds, saying nothing of a broken pipe.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match run_command(cli).await {
        Err(e) if broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

/// Whether `e` comes from writing to a standard output whose reader went away.
fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(pipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if pipe(io)))
    })
}

/// One line on standard output; an error (a closed pipe) is returned, not a panic.
pub(crate) fn say(line: impl std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Text as it is on standard output (no newline added).
fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

async fn run_command(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Cmd::Workflows {
        command: WorkflowsCmd::Check { files },
    } = &cli.command
    {
        return Ok(check_workflows(files));
    }
    if let Cmd::GraphqlSchema = &cli.command {
        write_out(&carepath_graphql::sdl())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut overrides = cli.overrides.clone();
    if let Cmd::Serve {
        time_skipping: true,
    } = cli.command
    {
        overrides.time_skipping = Some(true);
    }
    let config = Config::load(cli.config.as_ref(), &overrides).context("configuration")?;
    if let Cmd::Simulate(args) = cli.command {
        telemetry::init_with(
            &config.log_format,
            "warn,sqlx=warn,sea_orm=warn,lapin=error",
        );
        return simulate(*args, &cli.overrides, &config).await;
    }
    telemetry::init(&config.log_format);
    match cli.command {
        Cmd::Serve { .. } => {
            startup::serve(config).await?;
        }
        Cmd::Disclosures { client, from, to } => {
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            let rows = engine
                .read_disclosures(&admin, carepath_engine::ids::ClientId(client), from, to)
                .await?;
            let orgs: Vec<OrgId> = rows.iter().map(|r| r.recipient).collect();
            let names = engine.org_names(&orgs).await?;
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record([
                "disclosed_at",
                "recipient_id",
                "recipient_name",
                "what",
                "consent_id",
                "legal_basis",
                "event_id",
            ])?;
            for r in rows {
                out.write_record([
                    r.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    r.recipient.to_string(),
                    names.get(&r.recipient).cloned().unwrap_or_default(),
                    r.what,
                    r.consent.map(|c| c.to_string()).unwrap_or_default(),
                    r.legal_basis.unwrap_or_default(),
                    r.event.map(|e| e.to_string()).unwrap_or_default(),
                ])?;
            }
            out.flush()?;
        }
        Cmd::Measures {
            from,
            to,
            org,
            provider,
            level,
            format,
        } => {
            if !matches!(format.as_str(), "csv" | "table") {
                anyhow::bail!("--format is csv or table, not {format:?}");
            }
            let engine = engine(&config).await?;
            // An organization's measures are its supervisors'; all of them an admin's.
            let actor = match org {
                Some(org) => Actor::new(OrgId(org), Role::Supervisor),
                None => Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin),
            };
            let to = to.unwrap_or_else(|| engine.clock().now());
            let from = from.unwrap_or(to - chrono::Duration::days(30));
            let m = engine
                .measures(
                    &actor,
                    from,
                    to,
                    provider.map(OrgId),
                    level.map(LevelId::new),
                )
                .await?;
            let out = std::io::stdout().lock();
            match format.as_str() {
                "csv" => carepath_report::write_csv(&m, out)?,
                _ => {
                    let names = carepath_report::provider_names(&engine, &m).await?;
                    carepath_report::write_table(&m, &names, out)?
                }
            }
        }
        Cmd::Migrate => {
            engine(&config).await?;
            say("migrations applied")?;
        }
        Cmd::SeedDemo => {
            let engine = engine(&config).await?;
            seed::demo(&engine).await?;
        }
        Cmd::Staff { command } => staff(&config, command).await?,
        Cmd::Notices { command } => notices(&config, command).await?,
        Cmd::Tokens {
            command:
                TokensCmd::Create {
                    org,
                    role,
                    label,
                    days,
                    staff,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}: admin, case_manager, partner, aftercare_coordinator, supervisor, payer")
            })?;
            let engine = engine(&config).await?;
            let label = match (label, staff) {
                (None, Some(staff)) => Some(staff_name(&engine, StaffId(staff)).await?),
                (label, _) => label,
            };
            let token = engine
                .create_token(
                    OrgId(org),
                    role,
                    label.as_deref(),
                    days.unwrap_or(config.token_days),
                    staff.map(StaffId),
                )
                .await?;
            say(token)?;
        }
        Cmd::Tokens {
            command: TokensCmd::List,
        } => {
            let engine = engine(&config).await?;
            let rows = engine.tokens().await?;
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record([
                "id",
                "staff_id",
                "organization_id",
                "role",
                "label",
                "created_at",
                "expires_at",
                "revoked_at",
            ])?;
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default()
            };
            for t in rows {
                out.write_record([
                    t.id.to_string(),
                    t.staff.to_string(),
                    t.org.to_string(),
                    t.role,
                    t.label.unwrap_or_default(),
                    time(Some(t.created_at)),
                    time(t.expires_at),
                    time(t.revoked_at),
                ])?;
            }
            out.flush()?;
        }
        Cmd::Tokens {
            command: TokensCmd::Revoke { id },
        } => {
            let engine = engine(&config).await?;
            engine.revoke_token(id).await?;
            say(format_args!("token {id} revoked"))?;
        }
        Cmd::Orgs {
            command: OrgsCmd::List,
        } => {
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record(["id", "name", "offers", "mat_services"])?;
            for o in engine.organizations(&admin).await? {
                let offers: Vec<String> = o
                    .levels
                    .iter()
                    .map(|(l, cap)| format!("{}={cap}", l.as_str()))
                    .collect();
                let services: Vec<&str> = o.mat_services.iter().map(|s| s.as_str()).collect();
                out.write_record([
                    o.id.to_string(),
                    o.name,
                    offers.join(" "),
                    services.join(","),
                ])?;
            }
            out.flush()?;
        }
        Cmd::Orgs {
            command:
                OrgsCmd::Create {
                    name,
                    offers,
                    mat_services,
                    time_zone,
                },
        } => {
            // Nothing is created when the time zone is wrong.
            if let Some(zone) = &time_zone {
                carepath_engine::parse_time_zone(zone)?;
            }
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            let mut parsed = Vec::with_capacity(offers.len());
            for offer in &offers {
                let (level, capacity) = offer
                    .split_once('=')
                    .with_context(|| format!("--offers takes LEVEL=CAPACITY, got {offer:?}"))?;
                let capacity: i32 = capacity
                    .parse()
                    .with_context(|| format!("capacity in {offer:?}"))?;
                parsed.push((LevelId::new(level), capacity));
            }
            let id = OrgId::new();
            // Nothing is created when an offer is wrong.
            engine
                .register_provider(&admin, id, &name, &parsed, &mat_services)
                .await?;
            if let Some(zone) = &time_zone {
                engine.set_org_time_zone(&admin, id, zone).await?;
            }
            say(id)?;
        }
        Cmd::Orgs {
            command: OrgsCmd::SetTimeZone { org, time_zone },
        } => {
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            engine
                .set_org_time_zone(&admin, OrgId(org), &time_zone)
                .await?;
        }
        Cmd::Orgs {
            command: OrgsCmd::SetMatServices { org, mat_services },
        } => {
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            engine
                .set_mat_services(&admin, OrgId(org), &mat_services)
                .await?;
            let names: Vec<&str> = mat_services.iter().map(|s| s.as_str()).collect();
            say(format_args!(
                "{org} provides: {}",
                if names.is_empty() {
                    "no MAT service".to_owned()
                } else {
                    names.join(", ")
                }
            ))?;
        }
        Cmd::Orgs {
            command: OrgsCmd::LinkAmqpUser { org, user },
        } => {
            let engine = engine(&config).await?;
            let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
            anyhow::ensure!(
                !engine.org_names(&[OrgId(org)]).await?.is_empty(),
                "no organization {org}"
            );
            // The broker first: a user linked in the database but not restricted on the
            // broker would read every organization's events.
            let vhost = carepath_relay::access::vhost_of(&config.amqp_url)?;
            let management = carepath_relay::access::Management::new(&config.amqp_management_url)?;
            let grant_user = user.clone();
            tokio::task::spawn_blocking(move || {
                management.grant_org(&vhost, &grant_user, OrgId(org))
            })
            .await??;
            engine.link_sender(&admin, &user, OrgId(org)).await?;
            say(format_args!(
                "{user} speaks for {org}; on RabbitMQ it may bind only {org}.# on {} and use only queues named {}…",
                carepath_relay::topology::EVENTS_EXCHANGE,
                carepath_relay::access::queue_prefix(OrgId(org))
            ))?;
        }
        Cmd::Workflows { .. } | Cmd::GraphqlSchema | Cmd::Simulate(_) => {
            unreachable!("handled above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `carepath simulate`: the database is the one `--database-url` names (it must be empty),
/// never one from the configuration file or the environment, or a new SQLite file; the broker
/// only with `--amqp-url`.
async fn simulate(
    args: SimulateArgs,
    flags: &Overrides,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("a temporary directory")?;
    let (url, durability) = match &flags.database_url {
        Some(url) => (url.clone(), carepath_engine::Durability::Full),
        // Its own scratch file, deleted after the run: no power-loss durability to pay for.
        None => (
            format!(
                "sqlite://{}?mode=rwc",
                scratch.path().join("simulate.db").display()
            ),
            carepath_engine::Durability::Scratch,
        ),
    };
    let backend = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let start = args.start.and_time(chrono::NaiveTime::MIN).and_utc();
    // A skipped clock standing at the start: the database is marked for time skipping as it
    // opens, so a normal `serve` never takes simulated care for the real thing.
    let engine = carepath_engine::Engine::open_in_with(
        &url,
        config.db_max_connections.max(8),
        std::sync::Arc::new(startup::load_pathway(config)?),
        carepath_engine::TimeMode::Skipping { start: Some(start) },
        durability,
    )
    .await
    .map_err(|e| missing_database(e.into(), &url))
    .with_context(|| format!("opening the database ({})", startup::redact(&url)))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = flags.amqp_url.as_ref().map(|amqp| {
        let status = std::sync::Arc::new(carepath_relay::Status::default());
        let mut opts = carepath_relay::Options::new(amqp.clone());
        opts.source = config.event_source.clone();
        let task = tokio::spawn(carepath_relay::run_relay(
            engine.clone(),
            opts,
            status.clone(),
            stopped.clone(),
        ));
        (status, task)
    });
    let opts = carepath_simulate::Options {
        clients: args.clients,
        days: args.days,
        seed: args.seed,
        start,
        concurrency: args.concurrency,
        backend: backend.into(),
        rates: args.rates,
    };
    let mut report = carepath_simulate::run(&engine, &opts).await?;
    if let Some((status, task)) = relay {
        // Wait for the outbox to drain (as long as it keeps moving), then count.
        let mut last = u64::MAX;
        let mut still = 0;
        loop {
            let (waiting, _) = engine.outbox_lag().await?;
            if waiting == 0 {
                break;
            }
            still = if waiting < last { 0 } else { still + 1 };
            anyhow::ensure!(
                still < 120,
                "the relay stopped publishing with {waiting} events waiting (is the broker up?)"
            );
            last = waiting;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let _ = stop.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        report.set_broker(carepath_simulate::BrokerCount::Published {
            published: status.published.load(std::sync::atomic::Ordering::Relaxed),
        });
    }
    if args.format == "json" {
        say(serde_json::to_string_pretty(&report)?)?;
    } else {
        write_out(&report.text())?;
    }
    if report.passed() {
        return Ok(ExitCode::SUCCESS);
    }
    for i in report.failed() {
        eprintln!(
            "error: invariant failed: {} ({} of {} cases)",
            i.name, i.failures, i.checked
        );
    }
    Ok(ExitCode::FAILURE)
}

/// The name a staff member goes by: the label of their newest token that has one (a token
/// given with `--staff` and no `--label` carries it on, so the person keeps their name).
fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).with_context(|| {
        format!(
            "unknown role {role:?}: case_manager, supervisor, partner, aftercare_coordinator, payer, admin"
        )
    })
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `carepath staff …`: the operator at the command line, acting as the engine
/// (`Role::System`), which manages any organization's people.
async fn staff(config: &Config, command: StaffCmd) -> anyhow::Result<()> {
    let engine = engine(config).await?;
    let operator = |org: uuid::Uuid| Actor::new(OrgId(org), Role::System);
    let base = config.public_base();
    let print_link = |link: &carepath_engine::Link| {
        say(format_args!(
            "{base}{}\n(works once, until {})",
            link.path(),
            when(Some(link.expires_at))
        ))
    };
    match command {
        StaffCmd::CreateAdmin { org, email, name } => {
            let (person, link) = engine
                .invite_staff(&operator(org), OrgId(org), &email, &name, Role::Admin)
                .await?;
            say(format_args!(
                "admin {} invited: {}",
                person.id, person.email
            ))?;
            print_link(&link)?;
        }
        StaffCmd::Invite {
            org,
            email,
            name,
            role,
        } => {
            let (person, link) = engine
                .invite_staff(
                    &operator(org),
                    OrgId(org),
                    &email,
                    &name,
                    parse_role(&role)?,
                )
                .await?;
            say(format_args!("{} invited: {}", person.id, person.email))?;
            print_link(&link)?;
        }
        StaffCmd::List { org } => {
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record([
                "id",
                "name",
                "email",
                "role",
                "status",
                "totp",
                "sso",
                "locked_until",
                "last_sign_in_at",
            ])?;
            for p in engine.staff_accounts(&operator(org), OrgId(org)).await? {
                out.write_record([
                    p.id.to_string(),
                    p.name,
                    p.email,
                    p.role.as_str().to_owned(),
                    p.status.as_str().to_owned(),
                    p.totp.to_string(),
                    p.sso_linked.to_string(),
                    when(p.locked_until),
                    when(p.last_sign_in_at),
                ])?;
            }
            out.flush()?;
        }
        StaffCmd::Link { id } => {
            let org = staff_org(&engine, id).await?;
            let link = engine.staff_link(&operator(org), StaffId(id)).await?;
            print_link(&link)?;
        }
        StaffCmd::SetRole { id, role } => {
            let org = staff_org(&engine, id).await?;
            let p = engine
                .change_staff_role(&operator(org), StaffId(id), parse_role(&role)?)
                .await?;
            say(format_args!("{} is now {}", p.id, p.role.as_str()))?;
        }
        StaffCmd::Deactivate { id } => {
            let org = staff_org(&engine, id).await?;
            let p = engine.deactivate_staff(&operator(org), StaffId(id)).await?;
            say(format_args!(
                "{} deactivated: every session and token ended",
                p.id
            ))?;
        }
        StaffCmd::Reactivate { id } => {
            let org = staff_org(&engine, id).await?;
            let (p, link) = engine.reactivate_staff(&operator(org), StaffId(id)).await?;
            say(format_args!("{} is {}", p.id, p.status.as_str()))?;
            if let Some(link) = link {
                print_link(&link)?;
            }
        }
        StaffCmd::Audit { org, limit } => {
            let actor = operator(org.unwrap_or(uuid::Uuid::nil()));
            let rows = engine
                .sign_in_audit(&actor, org.map(OrgId), None, limit)
                .await?;
            let mut out = csv::Writer::from_writer(std::io::stdout().lock());
            out.write_record([
                "at",
                "organization_id",
                "staff_id",
                "by_staff_id",
                "kind",
                "detail",
                "address",
            ])?;
            let id = |v: Option<uuid::Uuid>| v.map(|v| v.to_string()).unwrap_or_default();
            for a in rows {
                out.write_record([
                    when(Some(a.at)),
                    id(a.org.map(|o| o.0)),
                    id(a.staff.map(|s| s.0)),
                    id(a.by.map(|s| s.0)),
                    a.kind,
                    a.detail.unwrap_or_default(),
                    a.address.unwrap_or_default(),
                ])?;
            }
            out.flush()?;
        }
        StaffCmd::SsoSet {
            org,
            issuer,
            client_id,
            client_secret,
            role_claim,
            roles,
            provision,
            require_mfa,
            acr,
        } => {
            let role_values = roles
                .iter()
                .map(|r| {
                    let (value, role) = r
                        .split_once('=')
                        .with_context(|| format!("--role {r:?}: give VALUE=ROLE"))?;
                    Ok((value.to_owned(), parse_role(role)?))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let settings = carepath_engine::domain::SsoSettings {
                issuer,
                client_id,
                client_secret,
                role_claim,
                role_values,
                provision,
                require_mfa,
                required_acr: acr,
            };
            engine
                .set_sso_settings(&operator(org), OrgId(org), Some(settings))
                .await?;
            say(format_args!(
                "single sign-on set for {org}: register {base}/sign-in/sso/callback as the redirect URI"
            ))?;
        }
        StaffCmd::SsoClear { org } => {
            engine
                .set_sso_settings(&operator(org), OrgId(org), None)
                .await?;
            say(format_args!("single sign-on cleared for {org}"))?;
        }
    }
    Ok(())
}

/// `carepath notices …`: the operator at the command line, as the organization's admin.
async fn notices(config: &Config, command: NoticesCmd) -> anyhow::Result<()> {
    use carepath_engine::domain::{NoticeKind, Rule};
    let engine = engine(config).await?;
    let admin = |org: uuid::Uuid| Actor::new(OrgId(org), Role::Admin);
    match command {
        NoticesCmd::WebhookAdd { org, url } => {
            let (hook, secret) = engine.add_webhook(&admin(org), &url).await?;
            say(format_args!(
                "webhook {}\nsigning secret (shown once; give it to the receiving system): {secret}",
                hook.id
            ))?;
        }
        NoticesCmd::WebhookList { org } => {
            say(format_args!("id,url,on,failures,turned_off_at"))?;
            for h in engine.webhooks(&admin(org)).await? {
                say(format_args!(
                    "{},{},{},{},{}",
                    h.id,
                    h.url,
                    h.enabled,
                    h.failures,
                    when(h.disabled_at)
                ))?;
            }
        }
        NoticesCmd::WebhookRemove { org, id } => {
            engine.remove_webhook(&admin(org), id).await?;
            say(format_args!("webhook {id} removed"))?;
        }
        NoticesCmd::WebhookEnable { org, id } => {
            engine.enable_webhook(&admin(org), id).await?;
            say(format_args!("webhook {id} on again"))?;
        }
        NoticesCmd::Rule {
            org,
            kind,
            off,
            escalate_after_minutes,
            never_escalate,
        } => {
            let kind = NoticeKind::parse(&kind).with_context(|| {
                format!(
                    "unknown kind {kind:?}: {}",
                    NoticeKind::ALL.map(NoticeKind::as_str).join(", ")
                )
            })?;
            let escalate_after = match (escalate_after_minutes, never_escalate) {
                (_, true) => Some(None),
                (Some(m), false) => Some(Some(chrono::Duration::minutes(i64::from(m)))),
                (None, false) => None,
            };
            engine
                .set_notice_rule(
                    &admin(org),
                    kind,
                    Rule {
                        off,
                        escalate_after,
                    },
                )
                .await?;
            say(format_args!("rule for {kind} at {org} set"))?;
        }
    }
    Ok(())
}

/// The organization a staff account belongs to (the operator names a person by id alone).
async fn staff_org(engine: &carepath_engine::Engine, id: uuid::Uuid) -> anyhow::Result<uuid::Uuid> {
    let person = engine
        .person(&Actor::person(
            OrgId(uuid::Uuid::nil()),
            Role::System,
            StaffId(id),
        ))
        .await?
        .with_context(|| format!("no staff account {id}: `staff list --org ORG` gives the ids"))?;
    Ok(person.org.0)
}

async fn staff_name(engine: &carepath_engine::Engine, staff: StaffId) -> anyhow::Result<String> {
    let tokens = engine.tokens().await?;
    anyhow::ensure!(
        tokens.iter().any(|t| t.staff == staff),
        "no staff member {staff}: `tokens list` gives each token's staff id"
    );
    tokens
        .into_iter()
        .rev()
        .filter(|t| t.staff == staff)
        .find_map(|t| t.label.filter(|l| !l.trim().is_empty()))
        .with_context(|| {
            format!("staff member {staff} has no name yet: give it with --label \"NAME\"")
        })
}

/// A PostgreSQL database that does not exist, said with how to make it (`simulate` opens only
/// what it is given: it creates no database on a server).
fn missing_database(e: anyhow::Error, url: &str) -> anyhow::Error {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return e;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let name = path.split(['?', '#']).next().unwrap_or_default();
    if name.is_empty() || !format!("{e:#}").contains(&format!("database \"{name}\" does not exist"))
    {
        return e;
    }
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (userinfo.split(':').next().unwrap_or_default(), hostport),
        None => ("", authority),
    };
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    let user = if user.is_empty() {
        String::new()
    } else {
        format!(" -U {user}")
    };
    e.context(format!(
        "the database \"{name}\" does not exist: create it first, empty (createdb -h {host} -p {port}{user} {name}), or leave out --database-url for a scratch SQLite file"
    ))
}

/// A moment on the command line: RFC 3339, or a date (its start, UTC).
fn parse_mat_service(s: &str) -> Result<MatService, String> {
    MatService::parse(s).ok_or_else(|| {
        let all: Vec<&str> = MatService::ALL.iter().map(|m| m.as_str()).collect();
        format!("\"{s}\" is not a MAT service; one of {}", all.join(", "))
    })
}

fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("\"{s}\" is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

fn check_workflows(files: &[PathBuf]) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for f in files {
        match pathway::load_file(f) {
            Ok(p) => {
                let mut report = format!(
                    "{}: ok — pathway \"{}\" v{}: {} levels, {} transitions, {} discharges\n",
                    f.display(),
                    p.id,
                    p.version,
                    p.levels.len(),
                    p.transitions.len(),
                    p.discharges.len()
                );
                for l in &p.levels {
                    report.push_str(&format!(
                        "  {:<18} ASAM3 {:<16} ASAM4 {:<10} {:<16} review every {} d  {}\n",
                        l.id.as_str(),
                        l.asam3.join("/"),
                        l.asam4.join("/"),
                        l.weekly_hours.to_string(),
                        l.review_interval_days,
                        l.name
                    ));
                }
                // A reader that stopped early (`| head`) is not an error: stop writing.
                if out.write_all(report.as_bytes()).is_err() {
                    break;
                }
            }
            Err(errors) => {
                failed = true;
                eprintln!("{errors}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
