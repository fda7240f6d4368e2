//! The console: server-rendered pages for the people who use Carepath — case managers,
//! partner providers, aftercare coordinators — in the same binary as the API, with its
//! stylesheet and script embedded (no CDN, no Node).
//!
//! Every page reads through the engine's reads and every form runs the same engine command
//! the API runs (`action.rs`): the engine authorizes both, so a role sees and does here only
//! what it may over GraphQL. A person signs in as themselves — password and TOTP, or their organization's
//! identity provider (`session.rs`); the browser then holds a session secret in an HttpOnly, SameSite=Strict cookie, and every form
//! carries a CSRF token derived from it, an idempotency key of its own and — where it changes
//! a client — the version of the record the page showed, so a stale form is refused in words.

#[macro_use]
mod action;
mod assets;
mod census;
mod client;
mod clients;
mod error;
mod page;
mod pictures;
mod refusal;
mod session;
pub mod sso;
mod timeline;
mod words;

mod bookings;
mod inbox;
mod measures;
mod worklist;

mod account;
mod notifications;
mod staff;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use carepath_engine::Engine;

pub use error::PageError;

/// The console's routes, to be merged beside the API's.
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route("/", get(session::home))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-in/code", get(session::code_page).post(session::code))
        .route(
            "/sign-in/enrol",
            get(session::enrol_page).post(session::enrol),
        )
        .route(
            "/welcome/{link}",
            get(session::welcome_page).post(session::welcome),
        )
        .route("/sign-out", post(session::sign_out))
        .merge(sso::routes())
        .route("/census", get(census::page))
        .route("/census/board", get(census::board))
        .route("/live", get(census::live))
        .route("/clients", get(clients::page).post(clients::register))
        .route("/clients/{id}", get(client::page))
        .route("/clients/{id}/admit", post(client::admit))
        .route("/clients/{id}/referrals", post(client::send_referral))
        .route(
            "/clients/{id}/referrals/{referral}/withdraw",
            post(client::withdraw_referral),
        )
        .route(
            "/clients/{id}/consents/{consent}/revoke",
            post(client::revoke_consent),
        )
        .route("/clients/{id}/consents", post(client::record_consent))
        .route("/clients/{id}/handoff", post(client::plan_handoff))
        .route("/clients/{id}/move", post(client::move_client))
        .route("/clients/{id}/discharge", post(client::discharge))
        .route("/clients/{id}/assessment", post(client::record_assessment))
        .route("/clients/{id}/mat-plan", post(client::record_mat_plan))
        .route("/clients/{id}/identity", post(client::record_identity))
        .route("/console/assets/{name}", get(assets::asset))
        .route("/inbox", get(inbox::page))
        .route("/referrals/{id}/acknowledge", post(inbox::acknowledge))
        .route("/referrals/{id}/accept", post(inbox::accept))
        .route("/referrals/{id}/waitlist", post(inbox::waitlist))
        .route("/referrals/{id}/decline", post(inbox::decline))
        .route("/clients/{id}/arrival", post(inbox::arrival))
        .route("/clients/{id}/no-show", post(inbox::no_show))
        .route("/worklist", get(worklist::page))
        .route("/clients/{id}/aftercare", post(bookings::aftercare))
        .route("/clients/{id}/refills", post(bookings::refill))
        .route(
            "/clients/{id}/bookings/{booking}/outcome",
            post(bookings::outcome),
        )
        .route("/measures", get(measures::page))
        .route("/staff", get(staff::page))
        .route("/staff/audit.csv", get(staff::audit_csv))
        .route("/staff/invite", post(staff::invite))
        .route("/staff/{id}/role", post(staff::change_role))
        .route("/staff/{id}/deactivate", post(staff::deactivate))
        .route("/staff/{id}/reactivate", post(staff::reactivate))
        .route("/staff/{id}/link", post(staff::new_link))
        .route(
            "/staff/{id}/authenticator",
            post(staff::reset_authenticator),
        )
        .route("/staff/systems", post(staff::create_system))
        .route("/staff/systems/{id}/revoke", post(staff::revoke_system))
        .route("/notifications", get(notifications::page))
        .route("/notifications/unread", get(notifications::unread))
        .route("/notifications/read", post(notifications::read_all))
        .route("/notifications/{id}", get(notifications::open))
        .route("/staff/webhooks", post(staff::add_webhook))
        .route("/staff/notice-rules", post(staff::set_notice_rule))
        .route("/staff/webhooks/{id}/remove", post(staff::remove_webhook))
        .route("/staff/webhooks/{id}/enable", post(staff::enable_webhook))
        .route("/account", get(account::page))
        .route("/account/email", post(account::email_modes))
        .route("/account/quiet-hours", post(account::quiet_hours))
        .route(
            "/account/sign-out-elsewhere",
            post(account::sign_out_elsewhere),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
        .layer(axum::middleware::map_response(too_large))
        .layer(axum::middleware::map_response(guard))
        .layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            session::in_the_readers_zone,
        ))
        .with_state(engine)
}

/// Largest form accepted: the console's forms are a few fields of short text.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// A form over [`MAX_FORM_BYTES`] answered with a page in words, as every refusal is.
async fn too_large(resp: Response) -> Response {
    if resp.status() != axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return resp;
    }
    page::Problem::page(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "Form too large",
        format!(
            "The form sent more than {} KB, more than any form of the console holds. Nothing \
             was changed.",
            MAX_FORM_BYTES / 1024
        ),
    )
}

/// What the console's pages allow the browser: scripts, styles, images and connections from
/// this server only, no framing, forms only to itself; and no page (they show clients) kept
/// in a cache.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

async fn guard(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
