//! PostgreSQL: a decision written in one statement.
//!
//! The client row, the events and their outbox rows, the referral projection, timers,
//! disclosures and the idempotency record go to the database as one statement of
//! data-modifying CTEs, with the rows of each table as one JSON parameter
//! (`jsonb_to_recordset`), so the SQL text depends only on which tables get rows (a few dozen
//! texts, each prepared once per connection). A table that gets no row is left out: each one
//! in the statement is opened, locked and initialized, rows or not. Every CTE but the
//! client's writes only when the client row was written (`EXISTS (SELECT FROM c)`); the
//! statement answers how many client rows it wrote, and the caller rolls the transaction back
//! when that is not one. Occupancy follows, from the shared path, in its one global order.
//!
//! The rows are [`Rows`] (`rows.rs`), the same the sea-orm writer of the other path writes;
//! here they only become JSON. Two writes of one row in one statement are not allowed: the
//! rows have one timer per id (`rows.rs` nets the decision's timer operations).

use super::StoreError;
use super::rows::Rows;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde_json::{Value as Json, json};

/// The client row when the client is being registered: `$2` is the home organization.
const INSERT_CLIENT: &str = "WITH c AS (\
    INSERT INTO clients (id, home_org, status, level, provider_id, version, last_seq, state, created_at, updated_at, lost_to_care, case_manager, escalated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING RETURNING id)";

/// The client row under the version check: `$2` is the version the decision was made on.
const UPDATE_CLIENT: &str = "WITH c AS (\
    UPDATE clients SET status = $3, level = $4, provider_id = $5, version = $6, last_seq = $7, \
    state = $8, updated_at = $9, lost_to_care = $10, case_manager = $11, escalated_at = $12 \
    WHERE id = $1 AND version = $2 RETURNING id)";

/// The events; `$P` is their parameter.
const EVENTS: &str = ", \
e AS (INSERT INTO care_events (id, client_id, seq, event_type, level, actor_org, recipient_org, occurred_at, payload) \
    SELECT x.id, $1, x.seq, x.event_type, x.level, x.actor_org, x.recipient_org, x.occurred_at, x.payload \
    FROM jsonb_to_recordset($P) AS x(id uuid, seq bigint, event_type text, level text, actor_org uuid, \
    recipient_org uuid, occurred_at timestamptz, payload jsonb) WHERE EXISTS (SELECT FROM c) RETURNING id, seq)";

/// The outbox rows, one per event written (so only with [`EVENTS`]), in sequence order.
const OUTBOX: &str = ", \
o AS (INSERT INTO outbox (event_id, client_id, created_at) \
    SELECT x.event_id, $1, x.created_at \
    FROM jsonb_to_recordset($P) AS x(event_id uuid, created_at timestamptz) JOIN e ON e.id = x.event_id \
    ORDER BY e.seq)";

const REFERRALS: &str = ", \
r AS (INSERT INTO referrals (id, client_id, group_id, provider_id, to_level, status, decline_code, decline_note, sent_at, answer_by, answered_at) \
    SELECT x.id, $1, x.group_id, x.provider_id, x.to_level, x.status, x.decline_code, x.decline_note, x.sent_at, x.answer_by, x.answered_at \
    FROM jsonb_to_recordset($P) AS x(id uuid, group_id uuid, provider_id uuid, to_level text, status text, \
    decline_code text, decline_note text, sent_at timestamptz, answer_by timestamptz, answered_at timestamptz) \
    WHERE EXISTS (SELECT FROM c) \
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, decline_code = EXCLUDED.decline_code, \
    decline_note = EXCLUDED.decline_note, answered_at = EXCLUDED.answered_at)";

const TIMER_SCHEDULES: &str = ", \
ts AS (INSERT INTO timers (id, client_id, key, kind, due_at, status, payload, fired_at) \
    SELECT x.id, $1, x.key, x.kind, x.due_at, x.status, x.payload, NULL \
    FROM jsonb_to_recordset($P) AS x(id uuid, key text, kind text, due_at timestamptz, status text, payload jsonb) \
    WHERE EXISTS (SELECT FROM c) \
    ON CONFLICT (id) DO UPDATE SET due_at = EXCLUDED.due_at, status = EXCLUDED.status)";

/// By primary key only: the ids as one array, and the status test written so that no index
/// serves it — with `id IN (SELECT …) AND status = 'pending'` the planner read the pending
/// timers of every client (`timers_due`) to cancel one.
const TIMER_CANCELS: &str = ", \
tc AS (UPDATE timers SET status = 'cancelled' \
    WHERE id = ANY (ARRAY(SELECT x::uuid FROM jsonb_array_elements_text($P) AS x)) \
    AND (status = 'pending') IS TRUE \
    AND EXISTS (SELECT FROM c))";

const DISCLOSURES: &str = ", \
d AS (INSERT INTO disclosures (id, client_id, recipient_org, consent_id, event_id, what, disclosed_at, legal_basis) \
    SELECT x.id, $1, x.recipient_org, x.consent_id, x.event_id, x.what, x.disclosed_at, x.legal_basis \
    FROM jsonb_to_recordset($P) AS x(id uuid, recipient_org uuid, consent_id uuid, event_id uuid, what text, \
    disclosed_at timestamptz, legal_basis text) WHERE EXISTS (SELECT FROM c))";

const IDENTITY: &str = ", \
n AS (INSERT INTO client_identities (client_id, home_org, display_name, name_key, record_number, updated_at) \
    SELECT $1, x.home_org, x.display_name, x.name_key, x.record_number, $9 \
    FROM jsonb_to_recordset($P) AS x(home_org uuid, display_name text, name_key text, record_number text) \
    WHERE EXISTS (SELECT FROM c) \
    ON CONFLICT (client_id) DO UPDATE SET display_name = EXCLUDED.display_name, \
    name_key = EXCLUDED.name_key, record_number = EXCLUDED.record_number, updated_at = EXCLUDED.updated_at)";

const IDEMPOTENCY: &str = ", \
i AS (INSERT INTO idempotency (actor_org, key, request_hash, client_id, response, created_at) \
    SELECT x.actor_org, x.key, x.request_hash, $1, x.response, $9 \
    FROM jsonb_to_recordset($P) AS x(actor_org uuid, key text, request_hash text, response jsonb) \
    WHERE EXISTS (SELECT FROM c))";

/// Notices raised; an id already there is the same notice (`$9` is the decision's moment).
const NOTICES: &str = ", \
nt AS (INSERT INTO notifications (id, kind, org_id, role, staff_id, client_id, referral_id, due_at, show_at, status, \
    escalate_at, escalates, escalated_at, resolved_at, first_read_at, expanded, created_at) \
    SELECT x.id, x.kind, x.org_id, x.role, x.staff_id, $1, x.referral_id, x.due_at, x.show_at, x.status, \
    x.escalate_at, NULL, NULL, NULL, NULL, false, $9 \
    FROM jsonb_to_recordset($P) AS x(id uuid, kind text, org_id uuid, role text, staff_id uuid, referral_id uuid, \
    due_at timestamptz, show_at timestamptz, status text, escalate_at timestamptz) \
    WHERE EXISTS (SELECT FROM c) ON CONFLICT (id) DO NOTHING)";

/// The client's notices settled (never an escalation itself: `ne` resolves those, so no row
/// is written by both), and the escalations of those.
const SETTLED: &str = ", \
ns AS (UPDATE notifications n SET resolved_at = $9 \
    FROM jsonb_to_recordset($P) AS x(kind text, referral_id uuid) \
    WHERE n.client_id = $1 AND n.resolved_at IS NULL AND n.kind = x.kind AND n.escalates IS NULL \
    AND (x.referral_id IS NULL OR n.referral_id = x.referral_id) AND EXISTS (SELECT FROM c) RETURNING n.id), \
ne AS (UPDATE notifications SET resolved_at = $9 \
    WHERE escalates IN (SELECT id FROM ns) AND resolved_at IS NULL)";

const ANSWER: &str = " SELECT (SELECT count(*) FROM c) AS clients";

/// The statement for one decision: the client row, then only the parts that have rows (a
/// part with none would still open, lock and initialize its table and indexes), each with the
/// next parameter number. At most 2 × 2⁹ texts (events and their outbox rows come together),
/// each prepared once per connection.
fn statement(
    head: &str,
    parts: impl IntoIterator<Item = (&'static str, Vec<Json>)>,
    values: &mut Vec<Value>,
) -> String {
    let mut sql = String::with_capacity(3072);
    sql.push_str(head);
    for (part, rows) in parts {
        if rows.is_empty() {
            continue;
        }
        values.push(Json::Array(rows).into());
        sql.push_str(&part.replace("$P", &format!("${}", values.len())));
    }
    sql.push_str(ANSWER);
    sql
}

/// Write the decision's rows (a decision with no fired timer) in one statement, on its own
/// (autocommit) or inside the caller's transaction; how many client rows it wrote: 1, or 0
/// when the version check failed (or the id is taken) — and then it wrote nothing.
/// Occupancy is not written here: the caller applies [`Rows::occupancy`] after it.
pub(super) async fn write(db: &impl ConnectionTrait, rows: &Rows) -> Result<i64, StoreError> {
    debug_assert!(
        rows.fired_timer.is_none(),
        "a timer's firing goes statement by statement"
    );
    let c = &rows.client;
    let (head, second): (&str, Value) = match rows.prev_version {
        None => (INSERT_CLIENT, c.home_org.into()),
        Some(prev) => (UPDATE_CLIENT, prev.into()),
    };
    let events: Vec<Json> = rows
        .events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "seq": e.seq,
                "event_type": e.event_type,
                "level": e.level,
                "actor_org": e.actor_org,
                "recipient_org": e.recipient_org,
                "occurred_at": ts(&e.occurred_at),
                "payload": e.payload,
            })
        })
        .collect();
    let outbox: Vec<Json> = rows
        .outbox
        .iter()
        .map(|o| json!({ "event_id": o.event_id, "created_at": ts(&o.created_at) }))
        .collect();
    let referrals: Vec<Json> = rows
        .referrals
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "group_id": r.group_id,
                "provider_id": r.provider_id,
                "to_level": r.to_level,
                "status": r.status,
                "decline_code": r.decline_code,
                "decline_note": r.decline_note,
                "sent_at": ts(&r.sent_at),
                "answer_by": ts(&r.answer_by),
                "answered_at": r.answered_at.as_ref().map(ts),
            })
        })
        .collect();
    let schedules: Vec<Json> = rows
        .timers
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "key": t.key,
                "kind": t.kind,
                "due_at": ts(&t.due_at),
                "status": t.status,
                "payload": t.payload,
            })
        })
        .collect();
    let cancels: Vec<Json> = rows.timer_cancels.iter().map(|id| json!(id)).collect();
    let disclosures: Vec<Json> = rows
        .disclosures
        .iter()
        .map(|x| {
            json!({
                "id": x.id,
                "recipient_org": x.recipient_org,
                "consent_id": x.consent_id,
                "event_id": x.event_id,
                "what": x.what,
                "disclosed_at": ts(&x.disclosed_at),
                "legal_basis": x.legal_basis,
            })
        })
        .collect();
    let identity: Vec<Json> = rows
        .identity
        .iter()
        .map(|i| {
            json!({
                "home_org": i.home_org,
                "display_name": i.display_name,
                "name_key": i.name_key,
                "record_number": i.record_number,
            })
        })
        .collect();
    let idempotency: Vec<Json> = rows
        .idempotency
        .iter()
        .map(|i| {
            json!({
                "actor_org": i.actor_org,
                "key": i.key,
                "request_hash": i.request_hash,
                "response": i.response,
            })
        })
        .collect();
    let notices: Vec<Json> = rows
        .notices
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "kind": n.kind,
                "org_id": n.org_id,
                "role": n.role,
                "staff_id": n.staff_id,
                "referral_id": n.referral_id,
                "due_at": n.due_at.as_ref().map(ts),
                "show_at": ts(&n.show_at),
                "status": n.status,
                "escalate_at": n.escalate_at.as_ref().map(ts),
            })
        })
        .collect();
    let settled: Vec<Json> = rows
        .settled
        .iter()
        .map(|x| json!({ "kind": x.kind, "referral_id": x.referral_id }))
        .collect();
    let mut values: Vec<Value> = vec![
        c.id.into(),
        second,
        c.status.into(),
        c.level.clone().into(),
        c.provider_id.into(),
        c.version.into(),
        c.last_seq.into(),
        c.state.clone().into(),
        c.at.into(),
        c.lost_to_care.map(str::to_owned).into(),
        c.case_manager.into(),
        c.escalated_at.into(),
    ];
    let sql = statement(
        head,
        [
            (EVENTS, events),
            (OUTBOX, outbox),
            (REFERRALS, referrals),
            (TIMER_SCHEDULES, schedules),
            (TIMER_CANCELS, cancels),
            (DISCLOSURES, disclosures),
            (IDENTITY, identity),
            (NOTICES, notices),
            (SETTLED, settled),
            (IDEMPOTENCY, idempotency),
        ],
        &mut values,
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .map_err(|e| {
            StoreError::from_write(
                e,
                "written concurrently (event sequence or idempotency key taken)",
            )
        })?
        .ok_or_else(|| StoreError::Corrupt("the commit statement returned no row".into()))?;
    Ok(row.try_get("", "clients")?)
}

/// A timestamp as PostgreSQL keeps it: microseconds, truncated (as the binary encoding of a
/// bound parameter does).
pub(super) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_truncate_to_microseconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ts(&t), "2026-11-23T10:00:00.123456Z");
    }
}
